import crypto from 'node:crypto';
import fs from 'node:fs';
import type { RdbAuxField, RdbBigKey, RdbDbStats, RdbInspection, RdbKeyType, RdbTypeStats } from '../../../shared/rdb.js';
import { RDB_KEY_TYPES } from '../../../shared/rdb.js';
import type { TtlHistogram } from '../../../shared/plan.js';
import { formatBytes } from '../../../shared/format.js';
import { keyText } from '../run/describeKey.js';
import type { LogicalValue } from '../values/logicalValue.js';
import { readRdb, type RdbItem } from './rdbFile.js';
import { RdbType, type ParsedValue } from './rdbTypes.js';

/**
 * `ferry rdb inspect`, and the one-pass key walk the planner uses for RDB sources: reads an RDB file
 * once, front to back, holding one key at a time (plus the biggest-keys heap), and says what is in it.
 */

// ---------------------------------------------------------------------------------------------
// Type bytes

const TYPE_BYTES: Record<number, { type: RdbKeyType; name: string }> = {
  [RdbType.STRING]: { type: 'string', name: 'string' },
  [RdbType.LIST]: { type: 'list', name: 'list-linkedlist' },
  [RdbType.SET]: { type: 'set', name: 'set-hashtable' },
  [RdbType.ZSET]: { type: 'zset', name: 'zset-skiplist' },
  [RdbType.HASH]: { type: 'hash', name: 'hash-hashtable' },
  [RdbType.ZSET_2]: { type: 'zset', name: 'zset-skiplist-2' },
  [RdbType.HASH_ZIPMAP]: { type: 'hash', name: 'hash-zipmap' },
  [RdbType.LIST_ZIPLIST]: { type: 'list', name: 'list-ziplist' },
  [RdbType.SET_INTSET]: { type: 'set', name: 'set-intset' },
  [RdbType.ZSET_ZIPLIST]: { type: 'zset', name: 'zset-ziplist' },
  [RdbType.HASH_ZIPLIST]: { type: 'hash', name: 'hash-ziplist' },
  [RdbType.LIST_QUICKLIST]: { type: 'list', name: 'list-quicklist' },
  [RdbType.STREAM_LISTPACKS]: { type: 'stream', name: 'stream-listpacks' },
  [RdbType.HASH_LISTPACK]: { type: 'hash', name: 'hash-listpack' },
  [RdbType.ZSET_LISTPACK]: { type: 'zset', name: 'zset-listpack' },
  [RdbType.LIST_QUICKLIST_2]: { type: 'list', name: 'list-quicklist-2' },
  [RdbType.STREAM_LISTPACKS_2]: { type: 'stream', name: 'stream-listpacks-2' },
  [RdbType.SET_LISTPACK]: { type: 'set', name: 'set-listpack' },
  [RdbType.STREAM_LISTPACKS_3]: { type: 'stream', name: 'stream-listpacks-3' },
  [RdbType.HASH_METADATA]: { type: 'hash', name: 'hash-metadata' },
  [RdbType.HASH_LISTPACK_EX]: { type: 'hash', name: 'hash-listpack-ex' },
};

/** The key type and encoding name of an RDB value-type byte (`type-<n>` for one Ferry does not name). */
export function rdbTypeName(typeByte: number): { type: RdbKeyType; name: string } {
  return TYPE_BYTES[typeByte] ?? { type: 'string', name: `type-${typeByte}` };
}

/**
 * The Redis version an RDB version implies, when the file does not say (no `redis-ver` aux field:
 * files written before Redis 3.2). `lowest` is the oldest release that writes it, for version rules.
 */
export function redisVersionOfRdb(rdbVersion: number): { text: string; lowest: string } {
  if (rdbVersion <= 1) return { text: '2.2 or older', lowest: '2.0' };
  if (rdbVersion === 2) return { text: '2.4', lowest: '2.4' };
  if (rdbVersion <= 5) return { text: '2.6 (pre-release)', lowest: '2.6' };
  const known: Record<number, [string, string]> = {
    6: ['2.6 to 3.0', '2.6'],
    7: ['3.2', '3.2'],
    8: ['4.0', '4.0'],
    9: ['5.0 to 6.2', '5.0'],
    10: ['7.0', '7.0'],
    11: ['7.2', '7.2'],
  };
  const [text, lowest] = known[rdbVersion] ?? ['7.4 or newer', '7.4'];
  return { text, lowest };
}

// ---------------------------------------------------------------------------------------------
// Memory estimate

/**
 * How the memory estimate is made (printed with it): a model of Redis's own data structures, not a
 * measurement. Sizes follow Redis 7.2+ on 64 bits with jemalloc and default encoding thresholds.
 */
export const MEMORY_METHOD =
  'Estimate of the RAM the data takes once a Redis 7.2+ server (64-bit, jemalloc, default settings) has loaded the file: ' +
  'per key its dict entry, key string, object header and expire entry; per value the encoding Redis would choose from its ' +
  'element count and sizes (embstr/raw/int strings, listpack, intset, hashtable, skiplist, quicklist nodes of 8 KB, stream ' +
  'listpack nodes of 100 entries or 4 KB, consumer groups and pending entries), each allocation rounded up to jemalloc size ' +
  'classes; per db its hash tables. Keys already expired when read are left out (a master drops them on load). Not included: ' +
  'fragmentation, the server baseline (about 1 MB), client and replication buffers. MEMORY USAGE on a live server measures; this estimates.';

/** jemalloc's size class for `n` bytes (64-bit): 8, then steps of 16 to 128, then 4 classes per doubling. */
export function allocSize(n: number): number {
  if (n <= 8) return 8;
  if (n <= 128) return Math.ceil(n / 16) * 16;
  const step = 2 ** (Math.floor(Math.log2(n - 1)) - 2);
  return Math.ceil(n / step) * step;
}

/** An sds string of `len` bytes: header (1, 3, 5, 9 or 17 bytes by length), bytes, terminator. */
function sdsSize(len: number): number {
  const header = len < 32 ? 1 : len < 256 ? 3 : len < 65536 ? 5 : len < 2 ** 32 ? 9 : 17;
  return allocSize(header + len + 1);
}

const ROBJ = 16;
const DICT_ENTRY = allocSize(24);
const DICT = allocSize(56);
/** Average skiplist node (24 bytes + 16 per level; levels 1, 2, 3… with p = 1/4), by size class. */
const SKIPLIST_NODE = 53;
const LIST_LISTPACK_MAX = 8192;
const LISTPACK_MAX_ENTRIES = 128;
const LISTPACK_MAX_VALUE = 64;
const INTSET_MAX_ENTRIES = 512;
const STREAM_NODE_ENTRIES = 100;
const STREAM_NODE_BYTES = 4096;

function nextPow2(n: number): number {
  return n <= 4 ? 4 : 2 ** Math.ceil(Math.log2(n));
}

/** The bucket array of a dict holding `n` entries. */
function dictTable(n: number): number {
  return n === 0 ? 0 : allocSize(nextPow2(n) * 8);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The value when `b` is the canonical decimal text of a 64-bit integer (what Redis stores as a number), else null. */
function asInteger(b: Buffer): bigint | null {
  const n = b.length;
  if (n === 0 || n > 20) return null;
  let i = b[0] === 0x2d ? 1 : 0;
  if (i === n) return null;
  if (b[i] === 0x30 && (n > i + 1 || i === 1)) return null; // leading zero, "-0"
  for (; i < n; i++) if (b[i] < 0x30 || b[i] > 0x39) return null;
  if (n < 16) return BigInt(Number(b.toString('latin1')));
  const v = BigInt(b.toString('latin1'));
  return v < INT64_MIN || v > INT64_MAX ? null : v;
}

/** Bytes of the back-length field of a listpack entry whose encoding + data take `n` bytes. */
function lpBacklen(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : n < 268435456 ? 4 : 5;
}

function lpIntEntry(v: bigint | number): number {
  const x = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
  const size = x >= 0n && x <= 127n ? 1 : x >= -4096n && x <= 4095n ? 2 : x >= -32768n && x <= 32767n ? 3 : x >= -8388608n && x <= 8388607n ? 4 : x >= -2147483648n && x <= 2147483647n ? 5 : 9;
  return size + 1;
}

/** One listpack entry holding `b` (as a number when it is one). */
function lpEntry(b: Buffer): number {
  const int = asInteger(b);
  if (int !== null) return lpIntEntry(int);
  const len = b.length;
  const head = len < 64 ? 1 : len < 4096 ? 2 : 5;
  return head + len + lpBacklen(head + len);
}

function lpSmallNumber(n: number): number {
  return Number.isSafeInteger(n) ? lpIntEntry(n) : lpEntry(Buffer.from(String(n)));
}

const LISTPACK_OVERHEAD = 7;

function listpackOf(buffers: readonly Buffer[]): number {
  let n = LISTPACK_OVERHEAD;
  for (const b of buffers) n += lpEntry(b);
  return n;
}

function allSmall(buffers: readonly Buffer[]): boolean {
  for (const b of buffers) if (b.length > LISTPACK_MAX_VALUE) return false;
  return true;
}

/** Per-key cost in the keyspace: dict entry, key sds, and an expire entry when it has a TTL. */
export function keyOverhead(keyLength: number, hasTtl: boolean): number {
  return DICT_ENTRY + sdsSize(keyLength) + (hasTtl ? DICT_ENTRY : 0);
}

/** A string value: a number inside the object header, embstr (up to 44 bytes) or raw. */
function stringMemory(len: number, value: Buffer | null): number {
  if (value && len <= 20 && asInteger(value) !== null) return ROBJ;
  if (len <= 44) return allocSize(ROBJ + 3 + len + 1);
  return ROBJ + sdsSize(len);
}

function listMemory(items: readonly Buffer[]): number {
  let total = 0;
  for (const b of items) total += lpEntry(b);
  if (total + LISTPACK_OVERHEAD <= LIST_LISTPACK_MAX) return ROBJ + allocSize(total + LISTPACK_OVERHEAD);
  // A quicklist of listpack nodes of up to 8 KB (an element too big for a node gets its own).
  let bytes = ROBJ + allocSize(40);
  let node = 0;
  const close = () => {
    if (node > 0) bytes += allocSize(32) + allocSize(node + LISTPACK_OVERHEAD);
    node = 0;
  };
  for (const b of items) {
    const e = lpEntry(b);
    if (node > 0 && node + e + LISTPACK_OVERHEAD > LIST_LISTPACK_MAX) close();
    node += e;
  }
  close();
  return bytes;
}

function setMemory(members: readonly Buffer[]): number {
  const n = members.length;
  if (n <= INTSET_MAX_ENTRIES) {
    let width = 2;
    let ints = true;
    for (const m of members) {
      const v = asInteger(m);
      if (v === null) {
        ints = false;
        break;
      }
      if (v < -2147483648n || v > 2147483647n) width = 8;
      else if ((v < -32768n || v > 32767n) && width < 4) width = 4;
    }
    if (ints) return ROBJ + allocSize(8 + n * width);
  }
  if (n <= LISTPACK_MAX_ENTRIES && allSmall(members)) return ROBJ + allocSize(listpackOf(members));
  let bytes = ROBJ + DICT + dictTable(n);
  for (const m of members) bytes += DICT_ENTRY + sdsSize(m.length);
  return bytes;
}

function hashMemory(fields: ReadonlyArray<[Buffer, Buffer]>, fieldTtls: number): number {
  const n = fields.length;
  let small = n <= LISTPACK_MAX_ENTRIES;
  for (let i = 0; small && i < n; i++) small = fields[i][0].length <= LISTPACK_MAX_VALUE && fields[i][1].length <= LISTPACK_MAX_VALUE;
  if (small) {
    let lp = LISTPACK_OVERHEAD;
    for (const [f, v] of fields) lp += lpEntry(f) + lpEntry(v);
    // listpackex: a third entry per field, its TTL (0 when it has none).
    if (fieldTtls > 0) lp += fieldTtls * 10 + (n - fieldTtls) * 2;
    return ROBJ + allocSize(lp);
  }
  let bytes = ROBJ + DICT + dictTable(n);
  for (const [f, v] of fields) bytes += DICT_ENTRY + sdsSize(f.length) + sdsSize(v.length);
  // Fields with a TTL carry it in their name's allocation and sit in the hash's expiry buckets.
  return bytes + fieldTtls * 24;
}

function zsetMemory(members: ReadonlyArray<[Buffer, number]>): number {
  const n = members.length;
  let small = n <= LISTPACK_MAX_ENTRIES;
  for (let i = 0; small && i < n; i++) small = members[i][0].length <= LISTPACK_MAX_VALUE;
  if (small) {
    let lp = LISTPACK_OVERHEAD;
    for (const [m, s] of members) lp += lpEntry(m) + lpSmallNumber(s);
    return ROBJ + allocSize(lp);
  }
  // zset struct, its dict, the skiplist header (32 levels); per member a dict entry and a node.
  let bytes = ROBJ + allocSize(16) + DICT + dictTable(n) + allocSize(32) + allocSize(24 + 32 * 16);
  for (const [m] of members) bytes += DICT_ENTRY + SKIPLIST_NODE + sdsSize(m.length);
  return bytes;
}

function streamMemory(stream: ParsedValue & { type: 'stream' }): number {
  const s = stream.stream;
  let bytes = ROBJ + allocSize(96) + allocSize(32);
  // Entries in listpack nodes of at most 100 entries or 4 KB, each under a 16-byte rax key. An
  // entry with the node's master fields stores its values only.
  let node = 0;
  let count = 0;
  let master: Buffer[] | null = null;
  const close = () => {
    if (count > 0) bytes += allocSize(node) + 48;
    node = count = 0;
    master = null;
  };
  for (const [, fv] of s.entries) {
    if (count >= STREAM_NODE_ENTRIES || node >= STREAM_NODE_BYTES) close();
    if (!master) {
      master = [];
      for (let i = 0; i < fv.length; i += 2) master.push(fv[i]);
      node = LISTPACK_OVERHEAD + 8 + 2;
      for (const f of master) node += lpEntry(f);
    }
    let same = master.length * 2 === fv.length;
    for (let i = 0; same && i < master.length; i++) same = master[i].equals(fv[i * 2]);
    node += 10;
    for (let i = 0; i < fv.length; i += 2) node += (same ? 0 : lpEntry(fv[i])) + lpEntry(fv[i + 1]);
    if (!same) node += 2;
    count++;
  }
  close();
  for (const g of s.groups) {
    bytes += allocSize(64) + sdsSize(g.name.length) + allocSize(32);
    // Per pending entry: its NACK, and a 16-byte ID key in the group's and the consumer's PEL.
    bytes += g.pending.length * (allocSize(32) + 2 * 40);
    for (const c of g.consumers) bytes += allocSize(64) + sdsSize(c.length) + allocSize(32);
  }
  return bytes;
}

/** Estimated RAM of a value in Redis (see MEMORY_METHOD), without its key's overhead. */
export function valueMemory(value: ParsedValue): number {
  switch (value.type) {
    case 'string':
      return stringMemory(value.value.length, value.value);
    case 'list':
      return listMemory(value.items);
    case 'set':
      return setMemory(value.members);
    case 'hash':
      return hashMemory(value.fields, value.fieldExpiresMs?.length ?? 0);
    case 'zset':
      return zsetMemory(value.members);
    case 'stream':
      return streamMemory(value);
  }
}

/** Elements as Redis counts them: 1 for a string, else fields, members, items or stream entries (XLEN). */
export function valueElements(value: ParsedValue): number {
  switch (value.type) {
    case 'string':
      return 1;
    case 'list':
      return value.items.length;
    case 'set':
      return value.members.length;
    case 'hash':
      return value.fields.length;
    case 'zset':
      return value.members.length;
    case 'stream':
      return value.stream.length;
  }
}

// ---------------------------------------------------------------------------------------------
// Value digests (to tell equal values apart from different ones without holding them)

function frame(h: crypto.Hash, b: Buffer): void {
  const len = Buffer.allocUnsafe(8);
  len.writeDoubleLE(b.length);
  h.update(len);
  h.update(b);
}

function tag(h: crypto.Hash, text: string): void {
  frame(h, Buffer.from(text));
}

/** The start of a string's digest: what valueDigest hashes before the bytes themselves. */
export function stringDigest(length: number): crypto.Hash {
  const h = crypto.createHash('sha256');
  tag(h, 'string');
  const len = Buffer.allocUnsafe(8);
  len.writeDoubleLE(length);
  h.update(len);
  return h;
}

/**
 * A SHA-256 of a value as Redis commands see it: two values have the same digest exactly when
 * valuesEqual would call them equal, except that the stream metadata only some servers keep
 * (entries-added, max-deleted-entry-id, entries-read) is left out. Zset scores as numbers.
 */
export function valueDigest(v: LogicalValue): Buffer {
  if (v.type === 'string') return stringDigest(v.value.length).update(v.value).digest();
  const h = crypto.createHash('sha256');
  tag(h, v.type);
  const num = Buffer.allocUnsafe(8);
  const number = (n: number) => {
    num.writeDoubleLE(n === 0 ? 0 : n);
    h.update(num);
  };
  switch (v.type) {
    case 'list':
      number(v.items.length);
      for (const b of v.items) frame(h, b);
      break;
    case 'set':
      number(v.members.length);
      for (const b of v.members) frame(h, b);
      break;
    case 'hash':
      number(v.fields.length);
      for (const [f, x] of v.fields) {
        frame(h, f);
        frame(h, x);
      }
      break;
    case 'zset':
      number(v.members.length);
      for (const [m, s] of v.members) {
        frame(h, m);
        number(s);
      }
      break;
    case 'stream': {
      const s = v.stream;
      tag(h, s.lastId);
      number(s.length);
      number(s.entries.length);
      for (const [id, fv] of s.entries) {
        tag(h, id);
        number(fv.length);
        for (const b of fv) frame(h, b);
      }
      number(s.groups.length);
      for (const g of s.groups) {
        frame(h, g.name);
        tag(h, g.lastDeliveredId);
        number(g.consumers.length);
        for (const c of g.consumers) frame(h, c);
        number(g.pending.length);
        for (const [id, c, n] of g.pending) {
          tag(h, id);
          frame(h, c);
          number(n);
        }
      }
      break;
    }
  }
  return h.digest();
}

// ---------------------------------------------------------------------------------------------
// The key walk

/** One key of the file, once its size in the file is known. */
export interface RdbKeyRecord {
  db: number;
  key: Buffer;
  typeByte: number;
  type: RdbKeyType;
  /** The encoding's name (see rdbTypeName). */
  encoding: string;
  /** Absolute expire time (Unix ms), or null. */
  expireAtMs: number | null;
  /** Input offset of the key's type byte. */
  offset: number;
  /** Bytes of the key's record in the file: type byte, name and value as stored (not the expire or LRU/LFU opcodes before it). */
  fileBytes: number;
  elements: number;
  /** Estimated RAM in Redis, the key's own overhead included (see MEMORY_METHOD). */
  memory: number;
  /** Hash fields with their own TTL (Redis 7.4+). */
  fieldTtls: number;
  /** The value; null for a string too big to hold, read in chunks (its `length` bytes are in `digest`). */
  value: ParsedValue | null;
  /** Strings read in chunks, when `digestBigStrings` was asked for: valueDigest of the string. */
  digest?: Buffer;
}

/** The items of a file that are not keys. */
export type RdbMetaItem = Exclude<RdbItem, { kind: 'key' | 'key-start' | 'key-chunk' | 'end' }>;

export interface RdbWalkHandlers {
  /** Header, aux fields, dbs, resize hints, functions, module aux data and slot info, as they come. */
  onItem?(item: RdbMetaItem): void | Promise<void>;
  /** Every key, in file order (one item late: its size in the file is known when the next item starts). */
  onKey(record: RdbKeyRecord): void | Promise<void>;
}

export interface RdbWalkOptions {
  /** Compute `digest` for strings read in chunks (over 8 MB). */
  digestBigStrings?: boolean;
}

export interface RdbWalkResult {
  rdbVersion: number;
  /** true: the CRC-64 matches; null: none (RDB < 5) or written as 0. A mismatch throws. */
  checksumOk: boolean | null;
  fileBytes: number;
  parseMs: number;
}

const READ_CHUNK = 1024 * 1024;

/** Bytes of an RDB length (6-bit, 14-bit, 32-bit or 64-bit form). */
function lengthBytes(n: number): number {
  return n < 64 ? 1 : n < 16384 ? 2 : n <= 0xffffffff ? 5 : 9;
}

/**
 * Reads an RDB file once and hands over each key with its size in the file, element count and
 * memory estimate. Bounded memory: one key's value at a time (strings over 8 MB never whole). File
 * errors (ENOENT, EACCES, EISDIR…) are thrown as they are; bad data throws RdbError.
 */
export async function walkRdbFile(file: string, handlers: RdbWalkHandlers, opts: RdbWalkOptions = {}): Promise<RdbWalkResult> {
  const started = performance.now();
  const handle = await fs.promises.open(file, 'r');
  let fileBytes: number;
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${file}'`), { code: 'EISDIR' });
    fileBytes = stat.size;
  } catch (err) {
    await handle.close();
    throw err;
  }
  const stream = handle.createReadStream({ highWaterMark: READ_CHUNK });
  let rdbVersion = 0;
  let pending: RdbKeyRecord | null = null;
  let big: { record: RdbKeyRecord; hash: crypto.Hash | null } | null = null;
  const settle = (nextOffset: number): void | Promise<void> => {
    if (!pending) return;
    const record = pending;
    pending = null;
    record.fileBytes = nextOffset - record.offset;
    return handlers.onKey(record);
  };
  try {
    for await (const item of readRdb(stream)) {
      switch (item.kind) {
        case 'key-chunk':
          big?.hash?.update(item.data);
          if (item.last && big) {
            if (big.hash) big.record.digest = big.hash.digest();
            big = null;
          }
          continue;
        case 'key':
        case 'key-start': {
          // Opcodes before a key (expire time, LRU idle, LFU frequency) are not the previous key's.
          const before = (item.expireAtMs === null ? 0 : rdbVersion >= 3 ? 9 : 5) + (item.idleSeconds === undefined ? 0 : 1 + lengthBytes(item.idleSeconds)) + (item.lfuFreq === undefined ? 0 : 2);
          const done = settle(item.offset - before);
          if (done) await done;
          const { type, name } = rdbTypeName(item.type);
          const hasTtl = item.expireAtMs !== null;
          const overhead = keyOverhead(item.key.length, hasTtl);
          if (item.kind === 'key') {
            const value = item.value;
            const fieldTtls = value.type === 'hash' ? (value.fieldExpiresMs?.length ?? 0) : 0;
            pending = { db: item.db, key: item.key, typeByte: item.type, type, encoding: name, expireAtMs: item.expireAtMs, offset: item.offset, fileBytes: 0, elements: valueElements(value), memory: overhead + valueMemory(value), fieldTtls, value };
          } else {
            pending = { db: item.db, key: item.key, typeByte: item.type, type, encoding: name, expireAtMs: item.expireAtMs, offset: item.offset, fileBytes: 0, elements: 1, memory: overhead + stringMemory(item.length, null), fieldTtls: 0, value: null };
            big = { record: pending, hash: opts.digestBigStrings ? stringDigest(item.length) : null };
          }
          continue;
        }
        case 'end': {
          const done = settle(item.offset);
          if (done) await done;
          return { rdbVersion, checksumOk: item.checksumOk, fileBytes, parseMs: Math.round(performance.now() - started) };
        }
        default: {
          if (item.kind === 'header') rdbVersion = item.version;
          const done = settle(item.offset);
          if (done) await done;
          const seen = handlers.onItem?.(item);
          if (seen) await seen;
        }
      }
    }
  } finally {
    // readRdb closes the stream when it stops early; this covers a stream it never started on.
    if (!stream.closed) stream.destroy();
  }
  // readRdb always ends with an `end` item or throws.
  throw new Error(`readRdb ended without an end item reading ${file}`);
}

// ---------------------------------------------------------------------------------------------
// Inspection

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Sizes {
  keys: number;
  fileBytes: number;
  memory: number;
}

const sizes = (): Sizes => ({ keys: 0, fileBytes: 0, memory: 0 });

function addTo(s: Sizes, fileBytes: number, memory: number): void {
  s.keys++;
  s.fileBytes += fileBytes;
  s.memory += memory;
}

/** The `top` biggest keys by bytes in the file: a min-heap, so each key costs O(log top). */
class TopKeys {
  private readonly heap: RdbBigKey[] = [];

  constructor(private readonly size: number) {}

  offer(r: RdbKeyRecord): void {
    if (this.size === 0) return;
    const heap = this.heap;
    if (heap.length === this.size && r.fileBytes <= heap[0].fileBytes) return;
    const entry: RdbBigKey = { db: r.db, key: keyText(r.key), keyHex: r.key.toString('hex'), type: r.type, encoding: r.encoding, fileBytes: r.fileBytes, elements: r.elements, memory: r.memory, expireAtMs: r.expireAtMs };
    if (heap.length < this.size) {
      heap.push(entry);
      this.up(heap.length - 1);
    } else {
      heap[0] = entry;
      this.down(0);
    }
  }

  sorted(): RdbBigKey[] {
    return [...this.heap].sort((a, b) => b.fileBytes - a.fileBytes || b.elements - a.elements || a.db - b.db || (a.keyHex < b.keyHex ? -1 : 1));
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].fileBytes <= h[i].fileBytes) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l].fileBytes < h[m].fileBytes) m = l;
      if (r < h.length && h[r].fileBytes < h[m].fileBytes) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
}

/** Bytes as text when printable (tabs and newlines allowed: lua scripts), else 0x-hex. */
function auxText(b: Buffer): string {
  const text = b.toString('utf8');
  if (!text.includes('\uFFFD') && !/[\x00-\x08\x0b-\x1f\x7f]/.test(text)) return text;
  return `0x${b.toString('hex')}`;
}

function auxMeaning(key: string, text: string): string | undefined {
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  switch (key) {
    case 'ctime':
      return Number.isFinite(n) ? `saved at ${new Date(n * 1000).toISOString()}` : undefined;
    case 'used-mem':
      return Number.isFinite(n) ? `the server used ${formatBytes(n)} when it saved` : undefined;
    case 'redis-ver':
      return `written by Redis ${text}`;
    case 'redis-bits':
      return `a ${text}-bit server`;
    case 'aof-base':
      return text === '1' ? 'the base of an AOF (preamble)' : 'not an AOF base';
    case 'repl-stream-db':
      return 'the db selected in the replication stream';
    case 'repl-id':
      return 'the replication ID';
    case 'repl-offset':
      return 'the replication offset';
    case 'lua':
      return 'a Lua script (EVAL cache)';
    default:
      return undefined;
  }
}

interface DbAcc {
  db: number;
  all: Sizes;
  expires: number;
  expiredAtRead: number;
  fieldTtlKeys: number;
  /** Keys that will be loaded, for the hash tables. */
  live: number;
  liveExpires: number;
  resize: { dbSize: number; expiresSize: number } | null;
  types: Map<RdbKeyType, Sizes>;
}

export interface InspectOptions {
  /** How many of the biggest keys to keep (default 10). */
  top?: number;
  /** The clock for expired keys and the TTL histogram (default Date.now()). */
  now?: number;
}

/**
 * Inspects an RDB file in one streaming pass: header and Redis version, aux fields, functions, per
 * db and per type (and encoding) keys and sizes, TTLs, the biggest keys, a memory estimate.
 * Throws the file system's error when the file cannot be read, RdbError when its data is bad.
 */
export async function inspectRdb(file: string, opts: InspectOptions = {}): Promise<RdbInspection> {
  const top = Math.max(0, Math.floor(opts.top ?? 10));
  const now = opts.now ?? Date.now();
  const aux: RdbAuxField[] = [];
  const functions: RdbInspection['functions'] = [];
  const modules: RdbInspection['modules'] = [];
  let slotInfoRecords = 0;
  const dbs = new Map<number, DbAcc>();
  const types = new Map<RdbKeyType, Sizes & { elements: number; encodings: Map<number, Sizes> }>();
  const ttl: TtlHistogram = { none: 0, lt1h: 0, lt1d: 0, lt7d: 0, longer: 0, expired: 0 };
  const biggest = new TopKeys(top);
  const dbOf = (db: number): DbAcc => {
    let acc = dbs.get(db);
    if (!acc) dbs.set(db, (acc = { db, all: sizes(), expires: 0, expiredAtRead: 0, fieldTtlKeys: 0, live: 0, liveExpires: 0, resize: null, types: new Map() }));
    return acc;
  };
  let currentDb = 0;

  const result = await walkRdbFile(file, {
    onItem(item) {
      switch (item.kind) {
        case 'aux': {
          const value = auxText(item.value);
          const meaning = auxMeaning(item.key, value);
          aux.push({ key: item.key, value, ...(meaning && { meaning }) });
          break;
        }
        case 'function':
          functions.push({ library: item.library, engine: item.engine, bytes: item.code.length });
          break;
        case 'module-aux':
          modules.push({ name: item.moduleName, when: item.when });
          break;
        case 'slot-info':
          slotInfoRecords++;
          break;
        case 'db':
          currentDb = item.db;
          dbOf(item.db);
          break;
        case 'resize':
          dbOf(currentDb).resize = { dbSize: item.dbSize, expiresSize: item.expiresSize };
          break;
      }
    },
    onKey(r) {
      const d = dbOf(r.db);
      const expired = r.expireAtMs !== null && r.expireAtMs <= now;
      // Expired keys take file bytes but no memory: a master drops them when it loads the file.
      const memory = expired ? 0 : r.memory;
      addTo(d.all, r.fileBytes, memory);
      let dt = d.types.get(r.type);
      if (!dt) d.types.set(r.type, (dt = sizes()));
      addTo(dt, r.fileBytes, memory);
      let t = types.get(r.type);
      if (!t) types.set(r.type, (t = { ...sizes(), elements: 0, encodings: new Map() }));
      addTo(t, r.fileBytes, memory);
      t.elements += r.elements;
      let e = t.encodings.get(r.typeByte);
      if (!e) t.encodings.set(r.typeByte, (e = sizes()));
      addTo(e, r.fileBytes, memory);
      if (r.fieldTtls > 0) d.fieldTtlKeys++;
      if (r.expireAtMs === null) ttl.none++;
      else {
        d.expires++;
        const left = r.expireAtMs - now;
        if (expired) {
          d.expiredAtRead++;
          ttl.expired++;
        } else if (left < HOUR) ttl.lt1h++;
        else if (left < DAY) ttl.lt1d++;
        else if (left < 7 * DAY) ttl.lt7d++;
        else ttl.longer++;
      }
      if (!expired) {
        d.live++;
        if (r.expireAtMs !== null) d.liveExpires++;
      }
      biggest.offer(r);
    },
  });

  const dbStats: RdbDbStats[] = [...dbs.values()]
    .filter((d) => d.all.keys > 0 || d.resize !== null)
    .sort((a, b) => a.db - b.db)
    .map((d) => {
      const tables = dictTable(d.live) + dictTable(d.liveExpires);
      return {
        db: d.db,
        keys: d.all.keys,
        expires: d.expires,
        expiredAtRead: d.expiredAtRead,
        fieldTtlKeys: d.fieldTtlKeys,
        resize: d.resize,
        fileBytes: d.all.fileBytes,
        memory: d.all.memory + tables,
        types: RDB_KEY_TYPES.filter((t) => d.types.has(t)).map((t) => ({ type: t, ...d.types.get(t)! })),
      };
    });
  const typeStats: RdbTypeStats[] = RDB_KEY_TYPES.filter((t) => types.has(t)).map((t) => {
    const s = types.get(t)!;
    return {
      type: t,
      keys: s.keys,
      fileBytes: s.fileBytes,
      memory: s.memory,
      elements: s.elements,
      encodings: [...s.encodings]
        .sort((a, b) => b[1].keys - a[1].keys || a[0] - b[0])
        .map(([typeByte, e]) => ({ typeByte, name: rdbTypeName(typeByte).name, ...e })),
    };
  });
  const sum = (f: (d: RdbDbStats) => number) => dbStats.reduce((n, d) => n + f(d), 0);
  const redisVer = aux.find((a) => a.key === 'redis-ver');
  const ctime = aux.find((a) => a.key === 'ctime');
  const usedMem = aux.find((a) => a.key === 'used-mem');
  const ctimeSeconds = ctime && /^\d+$/.test(ctime.value) ? Number(ctime.value) : NaN;
  const estimatedBytes = sum((d) => d.memory);
  return {
    version: 1,
    file,
    fileBytes: result.fileBytes,
    readAt: new Date(now).toISOString(),
    parseMs: result.parseMs,
    rdbVersion: result.rdbVersion,
    writtenBy: redisVer ? { version: redisVer.value, from: 'aux' } : { version: redisVersionOfRdb(result.rdbVersion).text, from: 'rdb-version' },
    checksum: result.checksumOk ? 'ok' : result.rdbVersion < 5 ? 'absent' : 'disabled',
    aux,
    createdAt: Number.isFinite(ctimeSeconds) ? new Date(ctimeSeconds * 1000).toISOString() : null,
    usedMemAux: usedMem && /^\d+$/.test(usedMem.value) ? Number(usedMem.value) : null,
    functions,
    modules,
    slotInfoRecords,
    totals: {
      keys: sum((d) => d.keys),
      expires: sum((d) => d.expires),
      expiredAtRead: sum((d) => d.expiredAtRead),
      fieldTtlKeys: sum((d) => d.fieldTtlKeys),
      fileBytes: sum((d) => d.fileBytes),
      memory: estimatedBytes,
    },
    ttl,
    dbs: dbStats,
    types: typeStats,
    biggestKeys: biggest.sorted(),
    top,
    memory: { estimatedBytes, method: MEMORY_METHOD },
  };
}
