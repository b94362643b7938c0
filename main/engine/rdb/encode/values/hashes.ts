import { RdbType } from '../../rdbTypes.js';
import type { ByteWriter } from '../byteWriter.js';
import { writeLength } from '../length.js';
import { ListpackBuilder } from '../listpack.js';
import { writeBlob, writeString } from '../string.js';
import { Limits, RdbVersion } from '../thresholds.js';
import { ZiplistBuilder } from '../ziplist.js';

/**
 * Hashes: small ones as field, value pairs in a ziplist (type 13) or, from RDB 10, a listpack (16);
 * others as a hashtable (4). With field TTLs (RDB 12, Redis 7.4+): small ones as a listpack of
 * field, value, expire-ms-or-0 triplets ordered by expire time, fields without one last (25), others
 * as a hashtable with a TTL per field (24); both lead with the smallest expire time.
 */
export function writeHash(w: ByteWriter, fields: ReadonlyArray<readonly [Buffer, Buffer]>, expires: ReadonlyMap<string, number> | null, rdbVersion: number): void {
  const packed = fields.length <= Limits.hashPackedEntries && fields.every(([f, v]) => f.length <= Limits.hashPackedValue && v.length <= Limits.hashPackedValue);
  if (expires && expires.size > 0 && rdbVersion >= RdbVersion.FIELD_TTL) return writeHashWithTtls(w, fields, expires, packed);
  if (packed) {
    const listpack = rdbVersion >= RdbVersion.LISTPACK;
    w.u8(listpack ? RdbType.HASH_LISTPACK : RdbType.HASH_ZIPLIST);
    const out = listpack ? new ListpackBuilder() : new ZiplistBuilder();
    for (const [f, v] of fields) {
      out.push(f);
      out.push(v);
    }
    return writeBlob(w, out.finish());
  }
  w.u8(RdbType.HASH);
  writeLength(w, fields.length);
  for (const [f, v] of fields) {
    writeString(w, f);
    writeString(w, v);
  }
}

function writeHashWithTtls(w: ByteWriter, fields: ReadonlyArray<readonly [Buffer, Buffer]>, expires: ReadonlyMap<string, number>, packed: boolean): void {
  let min = Infinity;
  for (const t of expires.values()) if (t < min) min = t;
  const expireOf = (f: Buffer): number => expires.get(f.toString('latin1')) ?? 0;
  if (packed) {
    w.u8(RdbType.HASH_LISTPACK_EX);
    w.i64le(min);
    // Redis keeps the listpack ordered by expire time (0 = none, last): its first TTL is the minimum.
    const order = fields.map((pair) => ({ pair, at: expireOf(pair[0]) }));
    order.sort((a, b) => (a.at === b.at ? 0 : a.at === 0 ? 1 : b.at === 0 ? -1 : a.at - b.at));
    const lp = new ListpackBuilder();
    for (const { pair, at } of order) {
      lp.push(pair[0]);
      lp.push(pair[1]);
      lp.push(at);
    }
    return writeBlob(w, lp.finish());
  }
  w.u8(RdbType.HASH_METADATA);
  w.i64le(min);
  writeLength(w, fields.length);
  for (const [f, v] of fields) {
    const at = expireOf(f);
    writeLength(w, at === 0 ? 0 : at - min + 1);
    writeString(w, f);
    writeString(w, v);
  }
}
