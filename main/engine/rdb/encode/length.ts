import type { ByteWriter } from './byteWriter.js';

/**
 * RDB lengths (rdb.c rdbSaveLen): 6 bits in one byte, 14 bits in two (big-endian), else 0x80 +
 * u32 BE, or 0x81 + u64 BE for what does not fit in 32 bits (stream IDs and counters).
 */
export function writeLength(w: ByteWriter, v: number | bigint): void {
  if (typeof v === 'number' && v < 64) w.u8(v);
  else if (typeof v === 'number' && v < 16384) {
    w.u8(0x40 | (v >>> 8));
    w.u8(v & 0xff);
  } else if (v <= 0xffffffff) {
    w.u8(0x80);
    w.u32be(Number(v));
  } else {
    w.u8(0x81);
    w.u64be(v);
  }
}
