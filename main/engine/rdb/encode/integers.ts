/**
 * Integers as Redis recognises them in strings (util.c string2ll, listpack.c lpStringToInt64): an
 * optional '-', no leading zeros, no '+' or spaces, "0" but not "-0", within int64. Only strings
 * like these round-trip through an integer encoding unchanged, so only they may use one.
 */

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The integer `b` spells exactly, or null; a bigint only beyond 2^53. */
export function canonicalInt(b: Uint8Array): number | bigint | null {
  const n = b.length;
  // "-9223372036854775808" is the longest: 20 bytes.
  if (n === 0 || n > 20) return null;
  let i = 0;
  if (b[0] === 0x2d) {
    if (n === 1) return null;
    i = 1;
  }
  const first = b[i];
  if (first === 0x30) return n === 1 ? 0 : null;
  if (first < 0x31 || first > 0x39) return null;
  if (n - i <= 15) {
    let v = 0;
    for (let k = i; k < n; k++) {
      const d = b[k] - 0x30;
      if (d < 0 || d > 9) return null;
      v = v * 10 + d;
    }
    return i === 1 ? -v : v;
  }
  for (let k = i; k < n; k++) if (b[k] < 0x30 || b[k] > 0x39) return null;
  const big = BigInt(Buffer.from(b.buffer, b.byteOffset, n).toString('latin1'));
  if (big < INT64_MIN || big > INT64_MAX) return null;
  return big >= -SAFE && big <= SAFE ? Number(big) : big;
}
