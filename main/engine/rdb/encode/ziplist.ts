import { classify, writeIntLE, type PackedInput } from './packed.js';

/**
 * Ziplist writer (ziplist.c): zlbytes (u32 LE), zltail (u32 LE, offset of the last entry), zllen
 * (u16 LE, 65535 when larger), entries, 0xFF. An entry: the previous entry's size (1 byte below
 * 254, else 0xFE + u32 LE), encoding, data. Integers 0..12 live in the encoding byte (0xF1..0xFD),
 * others take int8/16/24/32/64; strings a 6-bit, 14-bit (big-endian) or 0x80 + u32 BE length.
 */

const HEADER = 10;

/** Collects elements, tracking the ziplist's size, then writes it in one allocation. */
export class ZiplistBuilder {
  private readonly items: PackedInput[] = [];
  private size = HEADER + 1;
  private lastEntry = 0;

  get bytes(): number {
    return this.size;
  }

  get length(): number {
    return this.items.length;
  }

  push(item: PackedInput): void {
    const v = classify(item);
    this.items.push(v);
    this.lastEntry = (this.lastEntry < 254 ? 1 : 5) + bodySize(v);
    this.size += this.lastEntry;
  }

  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.size);
    out.writeUInt32LE(this.size, 0);
    out.writeUInt32LE(this.items.length === 0 ? HEADER : this.size - 1 - this.lastEntry, 4);
    out.writeUInt16LE(Math.min(this.items.length, 0xffff), 8);
    let at = HEADER;
    let prev = 0;
    for (const item of this.items) {
      const start = at;
      if (prev < 254) out[at++] = prev;
      else {
        out[at++] = 0xfe;
        at = out.writeUInt32LE(prev, at);
      }
      at = writeBody(out, at, item);
      prev = at - start;
    }
    out[at] = 0xff;
    return out;
  }
}

export function encodeZiplist(items: Iterable<PackedInput>): Buffer {
  const zl = new ZiplistBuilder();
  for (const item of items) zl.push(item);
  return zl.finish();
}

/** Encoding and data of an element (without the previous-entry length). */
function bodySize(item: PackedInput): number {
  if (typeof item === 'object') {
    const len = item.length;
    return len <= 63 ? 1 + len : len <= 16383 ? 2 + len : 5 + len;
  }
  return 1 + intBytes(item);
}

function intBytes(v: number | bigint): number {
  if (v >= 0 && v <= 12) return 0;
  if (v >= -128 && v <= 127) return 1;
  if (v >= -32768 && v <= 32767) return 2;
  if (v >= -8388608 && v <= 8388607) return 3;
  if (v >= -2147483648 && v <= 2147483647) return 4;
  return 8;
}

const INT_ENCODING: Record<number, number> = { 1: 0xfe, 2: 0xc0, 3: 0xf0, 4: 0xd0, 8: 0xe0 };

function writeBody(out: Buffer, at: number, item: PackedInput): number {
  if (typeof item === 'object') {
    const len = item.length;
    if (len <= 63) out[at++] = len;
    else if (len <= 16383) {
      out[at++] = 0x40 | (len >>> 8);
      out[at++] = len & 0xff;
    } else {
      out[at++] = 0x80;
      at = out.writeUInt32BE(len, at);
    }
    out.set(item, at);
    return at + len;
  }
  const bytes = intBytes(item);
  if (bytes === 0) {
    out[at++] = 0xf1 + Number(item);
    return at;
  }
  out[at++] = INT_ENCODING[bytes];
  return writeIntLE(out, at, item, bytes);
}
