import type { Endpoint } from '../endpoints/endpoint.js';
import { valuesEqual } from '../values/logicalValue.js';
import { readValue } from '../values/readValue.js';

/**
 * Whether a key holds the same value on two endpoints, read with plain commands (used when their
 * DUMP payloads differ, which equal values encoded differently do). Read-only.
 */
export async function sameValue(a: Endpoint, dbA: number, b: Endpoint, dbB: number, key: Buffer): Promise<boolean> {
  const [x, y] = await Promise.all([readValue(a, dbA, key), readValue(b, dbB, key)]);
  return x !== null && y !== null && valuesEqual(x, y);
}
