import type { ByteReader } from '../byteReader.js';
import { narrow, type PackedItem } from './packed.js';

/**
 * Listpack (listpack.c), the compact list of Redis 5+ streams and 7.0+ small collections: header
 * total bytes (u32 LE) and element count (u16 LE, 65535 = too many to count), the elements, 0xFF.
 * An element is encoding + data + "backlen" (the size of encoding + data, 1 to 5 bytes, 7 bits per
 * byte). Encodings: 0xxxxxxx 7-bit uint; 10xxxxxx 6-bit string length; 110xxxxx + 1 byte 13-bit
 * signed int; 1110xxxx + 1 byte 12-bit string length; 0xF0 + u32 LE string length; 0xF1 int16,
 * 0xF2 int24, 0xF3 int32, 0xF4 int64 (little-endian).
 */
export function decodeListpack(r: ByteReader): PackedItem[] {
  const size = r.remaining;
  if (size < 7) r.fail(`listpack of ${size} bytes is shorter than its 7-byte minimum`);
  const total = r.u32le('listpack size');
  if (total !== size) r.fail(`listpack says it is ${total} bytes but holds ${size}`, 'corrupt', 0);
  const count = r.u16le('listpack length');
  const items: PackedItem[] = [];
  for (;;) {
    const start = r.pos;
    const enc = r.u8('listpack element');
    if (enc === 0xff) break;
    if (enc < 0x80) items.push(enc);
    else if (enc < 0xc0) items.push(r.copy(enc & 0x3f, 'listpack string'));
    else if (enc < 0xe0) {
      const v = ((enc & 0x1f) << 8) | r.u8('listpack int13');
      items.push(v >= 4096 ? v - 8192 : v);
    } else if (enc < 0xf0) items.push(r.copy(((enc & 0x0f) << 8) | r.u8('listpack string length'), 'listpack string'));
    else {
      switch (enc) {
        case 0xf0:
          items.push(r.copy(r.u32le('listpack string length'), 'listpack string'));
          break;
        case 0xf1:
          items.push(r.i16le('listpack int16'));
          break;
        case 0xf2:
          items.push(r.i24le('listpack int24'));
          break;
        case 0xf3:
          items.push(r.i32le('listpack int32'));
          break;
        case 0xf4: {
          const v = r.i64le('listpack int64');
          items.push(typeof v === 'bigint' ? narrow(v) : v);
          break;
        }
        default:
          r.fail(`invalid listpack encoding byte 0x${enc.toString(16)}`, 'corrupt', start);
      }
    }
    checkBacklen(r, r.pos - start);
  }
  if (r.pos !== size) r.fail(`listpack end marker found ${size - r.pos} bytes before the end of the listpack`, 'corrupt', r.pos - 1);
  if (count !== 0xffff && count !== items.length) r.fail(`listpack header counts ${count} elements but holds ${items.length}`, 'corrupt', 4);
  return items;
}

/** Reads an element's backlen and checks it matches the element's size. */
function checkBacklen(r: ByteReader, entrySize: number): void {
  const at = r.pos;
  // Redis's lpEncodeBacklen bounds (note the strict "< 16383": 16383 itself takes 3 bytes).
  const n = entrySize <= 127 ? 1 : entrySize < 16383 ? 2 : entrySize < 2097151 ? 3 : entrySize < 268435455 ? 4 : 5;
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 128 + (r.u8('listpack backlen') & 0x7f);
  if (v !== entrySize) r.fail(`listpack element of ${entrySize} bytes has backlen ${v}`, 'corrupt', at);
}
