/** An element of a ziplist, listpack or intset: bytes, or an integer (a bigint only beyond 2^53). */
export type PackedItem = Buffer | number | bigint;

/** The element as Redis commands return it: integers become their decimal text. */
export function itemBytes(item: PackedItem): Buffer {
  return typeof item === 'object' ? item : Buffer.from(String(item));
}

/** Converts a signed 64-bit bigint to a number when that is exact. */
export function narrow(v: bigint): number | bigint {
  return v >= -MAX && v <= MAX ? Number(v) : v;
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
