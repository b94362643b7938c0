import type { ByteReader } from '../byteReader.js';
import { readBinaryDouble, readTextDouble, parseScore } from '../encodings/doubles.js';
import { decodeIntset } from '../encodings/intset.js';
import { decodeListpack } from '../encodings/listpack.js';
import { itemBytes, type PackedItem } from '../encodings/packed.js';
import { readLength } from '../encodings/rdbLength.js';
import { readBlob, readString } from '../encodings/rdbString.js';
import { decodeZiplist } from '../encodings/ziplist.js';
import { decodeZipmap } from '../encodings/zipmap.js';
import type { ParsedHash, ParsedValue } from '../rdbTypes.js';
import { printableBytes } from '../../values/logicalValue.js';
import { sortByBytes } from './sortByBytes.js';

/** Decoders for strings, lists, sets, hashes and zsets, one per RDB type. */

export function readStringValue(r: ByteReader): ParsedValue {
  return { type: 'string', value: readString(r, 'string value') };
}

/** Types 1 (linked list), 2 (hashtable set): a count, then that many strings. */
export function readStringSequence(r: ByteReader, what: string): Buffer[] {
  const count = readLength(r, `${what} count`);
  const out: Buffer[] = [];
  // Each element takes at least one byte, so a corrupt count only runs into the end of the input.
  for (let i = 0; i < count; i++) out.push(readString(r, what));
  return out;
}

export function readLinkedList(r: ByteReader): ParsedValue {
  return { type: 'list', items: readStringSequence(r, 'list element') };
}

export function readZiplistList(r: ByteReader): ParsedValue {
  return { type: 'list', items: decodeZiplist(readBlob(r, 'ziplist')).map(itemBytes) };
}

/** Type 14: a count of nodes, each a ziplist (empty nodes, which old servers could leave, are skipped). */
export function readQuicklist(r: ByteReader): ParsedValue {
  const nodes = readLength(r, 'quicklist node count');
  const items: Buffer[] = [];
  for (let i = 0; i < nodes; i++) {
    for (const item of decodeZiplist(readBlob(r, 'quicklist ziplist'))) items.push(itemBytes(item));
  }
  return { type: 'list', items };
}

const CONTAINER_PLAIN = 1;
const CONTAINER_PACKED = 2;

/** Type 18: a count of nodes, each a container kind (1 plain: one big element, 2 packed: a listpack). */
export function readQuicklist2(r: ByteReader): ParsedValue {
  const nodes = readLength(r, 'quicklist node count');
  const items: Buffer[] = [];
  for (let i = 0; i < nodes; i++) {
    const at = r.pos;
    const container = readLength(r, 'quicklist container kind');
    if (container === CONTAINER_PLAIN) items.push(readString(r, 'quicklist plain element'));
    else if (container === CONTAINER_PACKED) {
      for (const item of decodeListpack(readBlob(r, 'quicklist listpack'))) items.push(itemBytes(item));
    } else r.fail(`invalid quicklist container kind ${container} (expected 1 plain or 2 packed)`, 'corrupt', at);
  }
  return { type: 'list', items };
}

export function readHashtableSet(r: ByteReader): ParsedValue {
  return { type: 'set', members: sortedUnique(r, readStringSequence(r, 'set member'), 'set member') };
}

export function readIntsetSet(r: ByteReader): ParsedValue {
  return { type: 'set', members: sortedUnique(r, decodeIntset(readBlob(r, 'intset')), 'set member') };
}

export function readListpackSet(r: ByteReader): ParsedValue {
  return { type: 'set', members: sortedUnique(r, decodeListpack(readBlob(r, 'listpack')).map(itemBytes), 'set member') };
}

export function readHashtableHash(r: ByteReader): ParsedValue {
  const count = readLength(r, 'hash field count');
  const fields: Array<[Buffer, Buffer]> = [];
  for (let i = 0; i < count; i++) fields.push([readString(r, 'hash field'), readString(r, 'hash value')]);
  return hashValue(r, fields);
}

export function readZipmapHash(r: ByteReader): ParsedValue {
  return hashValue(r, decodeZipmap(readBlob(r, 'zipmap')));
}

/** Types 13 and 16: a ziplist or listpack of field, value, field, value… */
export function readPackedHash(r: ByteReader, kind: 'ziplist' | 'listpack'): ParsedValue {
  const blob = readBlob(r, kind);
  const items = kind === 'ziplist' ? decodeZiplist(blob) : decodeListpack(blob);
  if (items.length % 2 !== 0) blob.fail(`hash ${kind} holds an odd number of elements (${items.length})`, 'corrupt', 0);
  const fields: Array<[Buffer, Buffer]> = [];
  for (let i = 0; i < items.length; i += 2) fields.push([itemBytes(items[i]), itemBytes(items[i + 1])]);
  return hashValue(r, fields);
}

/** Type 25 (7.4+): min expire time (u64 LE ms), then a listpack of field, value, expire-ms-or-0 triplets. */
export function readListpackExHash(r: ByteReader): ParsedValue {
  r.timeMs('hash minimum field expire time');
  const blob = readBlob(r, 'listpack');
  const items = decodeListpack(blob);
  if (items.length % 3 !== 0) blob.fail(`hash listpack with TTLs holds ${items.length} elements, not a multiple of 3`, 'corrupt', 0);
  const fields: Array<[Buffer, Buffer]> = [];
  const expires: Array<[Buffer, number]> = [];
  for (let i = 0; i < items.length; i += 3) {
    const field = itemBytes(items[i]);
    fields.push([field, itemBytes(items[i + 1])]);
    const ttl = items[i + 2];
    if (typeof ttl !== 'number' || ttl < 0) return blob.fail(`hash field expire time ${itemText(ttl)} is not a valid time`, 'corrupt', 0);
    if (ttl !== 0) expires.push([field, ttl]);
  }
  return hashValue(r, fields, expires);
}

/**
 * Type 24 (7.4+): min expire time (u64 LE ms), a count, then per field: TTL as a length (0 = none,
 * else expire time - min + 1), field, value.
 */
export function readMetadataHash(r: ByteReader): ParsedValue {
  const minExpire = r.timeMs('hash minimum field expire time');
  const count = readLength(r, 'hash field count');
  const fields: Array<[Buffer, Buffer]> = [];
  const expires: Array<[Buffer, number]> = [];
  for (let i = 0; i < count; i++) {
    const at = r.pos;
    const ttl = readLength(r, 'hash field TTL');
    const field = readString(r, 'hash field');
    fields.push([field, readString(r, 'hash value')]);
    if (ttl !== 0) {
      const expireAt = minExpire + ttl - 1;
      if (!Number.isSafeInteger(expireAt)) r.fail(`hash field TTL ${ttl} is out of range`, 'corrupt', at);
      expires.push([field, expireAt]);
    }
  }
  return hashValue(r, fields, expires);
}

function hashValue(r: ByteReader, fields: Array<[Buffer, Buffer]>, expires?: Array<[Buffer, number]>): ParsedHash {
  const dup = sortByBytes(fields, (f) => f[0]);
  if (dup >= 0) r.fail(`hash has a duplicate field ${printableBytes(fields[dup][0])}`);
  if (!expires) return { type: 'hash', fields };
  sortByBytes(expires, (e) => e[0]);
  return { type: 'hash', fields, fieldExpiresMs: expires };
}

/** Types 3 (text scores) and 5 (binary scores): a count, then member and score pairs. */
export function readSkiplistZset(r: ByteReader, binaryScores: boolean): ParsedValue {
  const count = readLength(r, 'zset member count');
  const members: Array<[Buffer, number]> = [];
  for (let i = 0; i < count; i++) {
    const member = readString(r, 'zset member');
    members.push([member, binaryScores ? readBinaryDouble(r, 'zset score') : readTextDouble(r, 'zset score')]);
  }
  return zsetValue(r, members);
}

/** Types 12 and 17: a ziplist or listpack of member, score, member, score… */
export function readPackedZset(r: ByteReader, kind: 'ziplist' | 'listpack'): ParsedValue {
  const blob = readBlob(r, kind);
  const items = kind === 'ziplist' ? decodeZiplist(blob) : decodeListpack(blob);
  if (items.length % 2 !== 0) blob.fail(`zset ${kind} holds an odd number of elements (${items.length})`, 'corrupt', 0);
  const members: Array<[Buffer, number]> = [];
  for (let i = 0; i < items.length; i += 2) {
    const score = items[i + 1];
    members.push([itemBytes(items[i]), typeof score === 'object' ? parseScore(blob, score, 'zset score', 0) : Number(score)]);
  }
  return zsetValue(r, members);
}

/** Puts members in rank order (score, then member bytes) unless they already are; refuses duplicates. */
function zsetValue(r: ByteReader, members: Array<[Buffer, number]>): ParsedValue {
  let sorted = true;
  for (let i = 1; i < members.length && sorted; i++) sorted = compareRank(members[i - 1], members[i]) < 0;
  if (!sorted) members.sort(compareRank);
  const seen = new Set<string>();
  for (const [m] of members) {
    const k = m.toString('latin1');
    if (seen.has(k)) r.fail(`zset has a duplicate member ${printableBytes(m)}`);
    seen.add(k);
  }
  return { type: 'zset', members };
}

function compareRank(a: [Buffer, number], b: [Buffer, number]): number {
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : Buffer.compare(a[0], b[0]);
}

function sortedUnique(r: ByteReader, members: Buffer[], what: string): Buffer[] {
  const dup = sortByBytes(members, (m) => m);
  if (dup >= 0) r.fail(`duplicate ${what} ${printableBytes(members[dup])}`);
  return members;
}

function itemText(item: PackedItem): string {
  return typeof item === 'object' ? printableBytes(item) : String(item);
}
