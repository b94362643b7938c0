import { classify, writeIntLE, type PackedInput } from './packed.js';

/**
 * Listpack writer (listpack.c): total bytes (u32 LE), element count (u16 LE, 65535 when larger),
 * elements, 0xFF. An element is its encoding and data, then "backlen": that size in 1 to 5 bytes,
 * 7 bits each, most significant first, every byte but the first with the high bit set. Integers
 * take the smallest encoding that holds them; strings a 6-, 12- or 32-bit length.
 */

const HEADER = 6;

/** Collects elements, tracking the listpack's size, then writes it in one allocation. */
export class ListpackBuilder {
  private readonly items: PackedInput[] = [];
  private size = HEADER + 1;

  /** Bytes of the listpack as it stands. */
  get bytes(): number {
    return this.size;
  }

  get length(): number {
    return this.items.length;
  }

  /** Appends an element (bytes that spell an integer are stored as one). */
  push(item: PackedInput): void {
    const v = classify(item);
    this.items.push(v);
    this.size += elementSize(v);
  }

  /** Replaces element `i` with the integer `v` (a stream node's entry count, known at the end). */
  setInt(i: number, v: number): void {
    this.size += elementSize(v) - elementSize(this.items[i]);
    this.items[i] = v;
  }

  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.size);
    out.writeUInt32LE(this.size, 0);
    out.writeUInt16LE(Math.min(this.items.length, 0xffff), 4);
    let at = HEADER;
    for (const item of this.items) at = writeElement(out, at, item);
    out[at] = 0xff;
    return out;
  }
}

export function encodeListpack(items: Iterable<PackedInput>): Buffer {
  const lp = new ListpackBuilder();
  for (const item of items) lp.push(item);
  return lp.finish();
}

/** Bytes an element takes: encoding, data and backlen. */
export function elementSize(item: PackedInput): number {
  const n = encodedSize(item);
  return n + backlenSize(n);
}

function encodedSize(item: PackedInput): number {
  if (typeof item === 'object') {
    const len = item.length;
    return len < 64 ? 1 + len : len < 4096 ? 2 + len : 5 + len;
  }
  if (item >= 0 && item <= 127) return 1;
  if (item >= -4096 && item <= 4095) return 2;
  if (item >= -32768 && item <= 32767) return 3;
  if (item >= -8388608 && item <= 8388607) return 4;
  if (item >= -2147483648 && item <= 2147483647) return 5;
  return 9;
}

// lpEncodeBacklen's bounds (note the "<" from 2 bytes on: 16383 takes 3 bytes).
function backlenSize(n: number): number {
  return n <= 127 ? 1 : n < 16383 ? 2 : n < 2097151 ? 3 : n < 268435455 ? 4 : 5;
}

function writeElement(out: Buffer, at: number, item: PackedInput): number {
  const start = at;
  if (typeof item === 'object') {
    const len = item.length;
    if (len < 64) out[at++] = 0x80 | len;
    else if (len < 4096) {
      out[at++] = 0xe0 | (len >>> 8);
      out[at++] = len & 0xff;
    } else {
      out[at++] = 0xf0;
      at = out.writeUInt32LE(len, at);
    }
    out.set(item, at);
    at += len;
  } else if (item >= 0 && item <= 127) out[at++] = Number(item);
  else if (item >= -4096 && item <= 4095) {
    const u = Number(item) & 0x1fff;
    out[at++] = 0xc0 | (u >>> 8);
    out[at++] = u & 0xff;
  } else {
    const bytes = encodedSize(item) - 1;
    out[at++] = bytes === 2 ? 0xf1 : bytes === 3 ? 0xf2 : bytes === 4 ? 0xf3 : 0xf4;
    at = writeIntLE(out, at, item, bytes);
  }
  return writeBacklen(out, at, at - start);
}

function writeBacklen(out: Buffer, at: number, n: number): number {
  const size = backlenSize(n);
  for (let i = size - 1; i >= 0; i--) {
    const shift = 7 * (size - 1 - i);
    const bits = Math.floor(n / 2 ** shift) & 0x7f;
    out[at + i] = i === 0 ? bits : bits | 0x80;
  }
  return at + size;
}
