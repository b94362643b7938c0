import type { ByteReader } from '../byteReader.js';

/**
 * Zipmap (zipmap.c), the small hash of Redis 2.4 and older: a count byte (254 = too many to
 * count), then per pair: key length, key, value length, a "free" byte, value, that many free
 * bytes; then 0xFF. A length is 1 byte below 254, else 254 + u32 LE.
 */
export function decodeZipmap(r: ByteReader): Array<[Buffer, Buffer]> {
  const count = r.u8('zipmap length');
  const pairs: Array<[Buffer, Buffer]> = [];
  for (;;) {
    if (r.peekU8('zipmap entry') === 0xff) {
      r.pos++;
      break;
    }
    const field = r.copy(zipmapLength(r), 'zipmap key');
    const valueLength = zipmapLength(r);
    const free = r.u8('zipmap free byte count');
    const value = r.copy(valueLength, 'zipmap value');
    r.skip(free, 'zipmap free bytes');
    pairs.push([field, value]);
  }
  if (r.remaining !== 0) r.fail(`zipmap end marker found ${r.remaining} bytes before the end of the zipmap`, 'corrupt', r.pos - 1);
  if (count < 254 && count !== pairs.length) r.fail(`zipmap header counts ${count} pairs but holds ${pairs.length}`, 'corrupt', 0);
  return pairs;
}

function zipmapLength(r: ByteReader): number {
  const at = r.pos;
  const b = r.u8('zipmap length');
  if (b < 254) return b;
  if (b === 254) return r.u32le('zipmap length');
  return r.fail('zipmap length byte 0xff where a length belongs', 'corrupt', at);
}
