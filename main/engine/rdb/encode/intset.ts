import { writeIntLE } from './packed.js';

/**
 * Intset writer (intset.c): encoding (u32 LE: 2, 4 or 8 bytes per integer, the smallest that holds
 * them all), count (u32 LE), then the integers ascending, little-endian.
 */
export function encodeIntset(values: Array<number | bigint>): Buffer {
  const sorted = values.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let width = 2;
  for (const v of sorted) {
    if (v < -2147483648 || v > 2147483647) {
      width = 8;
      break;
    }
    if (v < -32768 || v > 32767) width = 4;
  }
  const out = Buffer.allocUnsafe(8 + width * sorted.length);
  out.writeUInt32LE(width, 0);
  out.writeUInt32LE(sorted.length, 4);
  let at = 8;
  for (const v of sorted) at = writeIntLE(out, at, v, width);
  return out;
}
