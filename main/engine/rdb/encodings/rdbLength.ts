import type { ByteReader } from '../byteReader.js';

/**
 * RDB length encoding (rdb.c rdbLoadLen). The top two bits of the first byte say how it goes on:
 * 00 = 6-bit length; 01 = 14-bit length (big-endian, with the next byte); 10 = 0x80: 32-bit
 * big-endian length follows, 0x81: 64-bit big-endian length follows; 11 = a special string encoding
 * (ENC_INT8/16/32, ENC_LZF), which only strings may use.
 */

export const ENC_INT8 = 0;
export const ENC_INT16 = 1;
export const ENC_INT32 = 2;
export const ENC_LZF = 3;

/** A length or, when `encoded`, the special string encoding number (0..3 valid). */
export interface LengthOrEncoding {
  encoded: boolean;
  value: number | bigint;
}

/** Reads a length or string encoding marker. */
export function readLengthOrEncoding(r: ByteReader, what: string): LengthOrEncoding {
  const at = r.pos;
  const b = r.u8(what);
  switch (b >> 6) {
    case 0:
      return { encoded: false, value: b & 0x3f };
    case 1:
      return { encoded: false, value: ((b & 0x3f) << 8) | r.u8(what) };
    case 2:
      if (b === 0x80) return { encoded: false, value: r.u32be(what) };
      if (b === 0x81) return { encoded: false, value: r.u64be(what) };
      return r.fail(`${what}: invalid length byte 0x${b.toString(16)}`, 'corrupt', at);
    default:
      return { encoded: true, value: b & 0x3f };
  }
}

/** A length of up to 64 bits (stream IDs, counters): a number when exact, else a bigint. */
export function readLengthBig(r: ByteReader, what: string): number | bigint {
  const at = r.pos;
  const { encoded, value } = readLengthOrEncoding(r, what);
  if (encoded) r.fail(`${what}: expected a length, found string encoding byte 0x${(0xc0 | Number(value)).toString(16)}`, 'corrupt', at);
  return value;
}

/** A length used as a count or size: must fit in a JavaScript number exactly. */
export function readLength(r: ByteReader, what: string): number {
  const at = r.pos;
  const v = readLengthBig(r, what);
  if (typeof v === 'bigint') r.fail(`${what} ${v} is out of range`, 'corrupt', at);
  return v;
}
