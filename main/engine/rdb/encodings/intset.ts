import type { ByteReader } from '../byteReader.js';
import { narrow } from './packed.js';

/**
 * Intset (intset.c): encoding (u32 LE: 2, 4 or 8 bytes per integer), count (u32 LE), then the
 * integers, little-endian, strictly ascending. Returns them as decimal text, in that order.
 */
export function decodeIntset(r: ByteReader): Buffer[] {
  const size = r.remaining;
  const width = r.u32le('intset encoding');
  if (width !== 2 && width !== 4 && width !== 8) r.fail(`invalid intset encoding ${width} (expected 2, 4 or 8)`, 'corrupt', 0);
  const count = r.u32le('intset length');
  if (8 + count * width !== size) r.fail(`intset of ${count} x ${width}-byte integers must be ${8 + count * width} bytes, not ${size}`, 'corrupt', 4);
  const out: Buffer[] = [];
  let prev: number | bigint | null = null;
  for (let i = 0; i < count; i++) {
    const at = r.pos;
    const v = width === 2 ? r.i16le('intset integer') : width === 4 ? r.i32le('intset integer') : narrowAny(r.i64le('intset integer'));
    if (prev !== null && !(prev < v)) r.fail('intset integers are not strictly ascending', 'corrupt', at);
    prev = v;
    out.push(Buffer.from(String(v)));
  }
  return out;
}

function narrowAny(v: number | bigint): number | bigint {
  return typeof v === 'bigint' ? narrow(v) : v;
}
