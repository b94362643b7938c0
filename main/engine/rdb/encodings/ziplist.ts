import type { ByteReader } from '../byteReader.js';
import { narrow, type PackedItem } from './packed.js';

/**
 * Ziplist (ziplist.c), the compact list of Redis 2.6 to 6.2: header zlbytes (u32 LE), zltail (u32 LE,
 * offset of the last entry), zllen (u16 LE, 65535 = too many to count), the entries, then 0xFF. An
 * entry is: previous entry's size (1 byte, or 0xFE + u32 LE), encoding, data. Encodings: 00xxxxxx,
 * 01xxxxxx + 1 byte (big-endian), 0x80 + u32 BE: string of that length; 0xC0 int16, 0xD0 int32,
 * 0xE0 int64, 0xF0 int24, 0xFE int8 (all little-endian); 0xF1..0xFD: the integer 0..12 itself.
 */
export function decodeZiplist(r: ByteReader): PackedItem[] {
  const size = r.remaining;
  if (size < 11) r.fail(`ziplist of ${size} bytes is shorter than its 11-byte minimum`);
  const zlbytes = r.u32le('ziplist size');
  if (zlbytes !== size) r.fail(`ziplist says it is ${zlbytes} bytes but holds ${size}`, 'corrupt', 0);
  const zltail = r.u32le('ziplist tail offset');
  const zllen = r.u16le('ziplist length');
  const items: PackedItem[] = [];
  let prevSize = 0;
  let lastStart = 10;
  for (;;) {
    const start = r.pos;
    const first = r.u8('ziplist entry');
    if (first === 0xff) break;
    const prevlen = first < 0xfe ? first : first === 0xfe ? r.u32le('ziplist previous-entry length') : -1;
    if (prevlen !== prevSize) r.fail(`ziplist entry says the previous entry is ${prevlen} bytes, but it is ${prevSize}`, 'corrupt', start);
    const encAt = r.pos;
    const enc = r.u8('ziplist entry encoding');
    switch (enc >> 6) {
      case 0:
        items.push(r.copy(enc & 0x3f, 'ziplist string'));
        break;
      case 1:
        items.push(r.copy(((enc & 0x3f) << 8) | r.u8('ziplist string length'), 'ziplist string'));
        break;
      case 2:
        if (enc !== 0x80) r.fail(`invalid ziplist encoding byte 0x${enc.toString(16)}`, 'corrupt', encAt);
        items.push(r.copy(r.u32be('ziplist string length'), 'ziplist string'));
        break;
      default:
        items.push(readZiplistInt(r, enc, encAt));
    }
    prevSize = r.pos - start;
    lastStart = start;
  }
  if (r.pos !== size) r.fail(`ziplist end marker found ${size - r.pos} bytes before the end of the ziplist`, 'corrupt', r.pos - 1);
  if (zltail !== lastStart) r.fail(`ziplist tail offset ${zltail} does not point at the last entry (${lastStart})`, 'corrupt', 4);
  if (zllen !== 0xffff && zllen !== items.length) r.fail(`ziplist header counts ${zllen} entries but holds ${items.length}`, 'corrupt', 8);
  return items;
}

function readZiplistInt(r: ByteReader, enc: number, encAt: number): PackedItem {
  switch (enc) {
    case 0xc0:
      return r.i16le('ziplist int16');
    case 0xd0:
      return r.i32le('ziplist int32');
    case 0xe0: {
      const v = r.i64le('ziplist int64');
      return typeof v === 'bigint' ? narrow(v) : v;
    }
    case 0xf0:
      return r.i24le('ziplist int24');
    case 0xfe:
      return r.i8('ziplist int8');
    default:
      // 0xF1..0xFD hold 0..12; 0xFF was handled as the end marker by the caller.
      if (enc >= 0xf1 && enc <= 0xfd) return (enc & 0x0f) - 1;
      return r.fail(`invalid ziplist encoding byte 0x${enc.toString(16)}`, 'corrupt', encAt);
  }
}
