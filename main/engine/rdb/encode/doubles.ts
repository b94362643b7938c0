import type { ByteWriter } from './byteWriter.js';

/**
 * Zset scores. ZSET (type 3) stores text behind a length byte (254 +inf, 255 -inf), ZSET_2 (type
 * 5) 8-byte little-endian doubles, ziplists and listpacks text or, for whole numbers, integers.
 * Text is JavaScript's shortest round-trip form, which strtod reads back to the same double.
 */

/** Integral scores up to 2^62 are stored as integers, as Redis's d2string prints them. */
const INT_SCORE_MAX = 2 ** 62;

export function scoreText(score: number): string {
  if (score === Infinity) return 'inf';
  if (score === -Infinity) return '-inf';
  if (Object.is(score, -0)) return '-0';
  const plain = String(score);
  if (plain.length <= 8) return plain;
  // 1e+20 rather than 100000000000000000000 (both read back the same).
  const exp = score.toExponential();
  return exp.length < plain.length ? exp : plain;
}

/** The score as a ziplist/listpack element: an integer when it is one, else its text. */
export function scoreItem(score: number): number | bigint | Buffer {
  if (Number.isInteger(score) && !Object.is(score, -0) && Math.abs(score) <= INT_SCORE_MAX) {
    return Number.isSafeInteger(score) ? score : BigInt(score);
  }
  return Buffer.from(scoreText(score), 'latin1');
}

export function writeTextDouble(w: ByteWriter, score: number): void {
  if (Number.isNaN(score)) throw new RangeError('a zset score cannot be NaN');
  if (score === Infinity) return w.u8(254);
  if (score === -Infinity) return w.u8(255);
  const text = Buffer.from(scoreText(score), 'latin1');
  w.u8(text.length);
  w.bytes(text);
}

export function writeBinaryDouble(w: ByteWriter, score: number): void {
  if (Number.isNaN(score)) throw new RangeError('a zset score cannot be NaN');
  w.f64le(score);
}
