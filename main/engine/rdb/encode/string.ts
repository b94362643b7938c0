import type { ByteWriter } from './byteWriter.js';
import { canonicalInt } from './integers.js';
import { writeLength } from './length.js';

/**
 * RDB strings (rdb.c rdbSaveRawString): up to 11 bytes spelling an integer that fits in 32 bits are
 * stored as that integer (0xC0 int8, 0xC1 int16, 0xC2 int32, little-endian), the rest as a length
 * and the bytes. Never LZF-compressed: RESTORE takes plain strings, and compressing costs more CPU
 * than the bytes it saves on a local hop.
 */
export function writeString(w: ByteWriter, b: Uint8Array): void {
  if (b.length <= 11) {
    const v = canonicalInt(b);
    if (typeof v === 'number' && v >= -2147483648 && v <= 2147483647) return writeIntString(w, v);
  }
  writeLength(w, b.length);
  w.bytes(b);
}

function writeIntString(w: ByteWriter, v: number): void {
  if (v >= -128 && v <= 127) {
    w.u8(0xc0);
    w.u8(v & 0xff);
  } else if (v >= -32768 && v <= 32767) {
    w.u8(0xc1);
    w.u8(v & 0xff);
    w.u8((v >> 8) & 0xff);
  } else {
    w.u8(0xc2);
    w.u8(v & 0xff);
    w.u8((v >> 8) & 0xff);
    w.u8((v >> 16) & 0xff);
    w.u8((v >>> 24) & 0xff);
  }
}

/** A string that is a blob of another encoding (ziplist, listpack, intset): always stored raw. */
export function writeBlob(w: ByteWriter, b: Uint8Array): void {
  writeLength(w, b.length);
  w.bytes(b);
}
