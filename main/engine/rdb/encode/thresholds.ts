import { RdbType } from '../rdbTypes.js';

/**
 * Which RDB version brought what (rdb.h), and the encoding limits of Redis's default config, which
 * the encoder follows so that a payload looks like one the target's own release would write.
 */
export const RdbVersion = {
  /** Redis 2.6: DUMP/RESTORE, hash ziplists. */
  DUMP: 6,
  /** Redis 3.2: quicklists. */
  QUICKLIST: 7,
  /** Redis 4.0: binary zset scores (ZSET_2), modules. */
  ZSET_BINARY: 8,
  /** Redis 5.0: streams. */
  STREAM: 9,
  /** Redis 7.0: listpack hashes and zsets, quicklist 2, streams v2 (first ID, max deleted ID, entries added, entries read). */
  LISTPACK: 10,
  /** Redis 7.2: listpack sets, streams v3 (consumer active time). */
  SET_LISTPACK: 11,
  /** Redis 7.4: hash field TTLs; list elements over 8 KB in plain quicklist nodes. */
  FIELD_TTL: 12,
} as const;

/** The newest RDB version the encoder writes. */
export const MAX_ENCODE_VERSION = 12;

/** Default limits (redis.conf / config.c): beyond them Redis uses the plain type. */
export const Limits = {
  /** list-max-ziplist-entries / -value (Redis < 3.2). */
  listZiplistEntries: 512,
  listZiplistValue: 64,
  /** list-max-ziplist-size / list-max-listpack-size -2: quicklist nodes up to 8 KB. */
  quicklistNodeBytes: 8192,
  /** set-max-intset-entries. */
  setIntsetEntries: 512,
  /** set-max-listpack-entries / -value (Redis 7.2+). */
  setListpackEntries: 128,
  setListpackValue: 64,
  /** hash-max-ziplist-entries / -value, hash-max-listpack-* (7.0+). */
  hashPackedEntries: 512,
  hashPackedValue: 64,
  /** zset-max-ziplist-entries / -value, zset-max-listpack-* (7.0+). */
  zsetPackedEntries: 128,
  zsetPackedValue: 64,
  /** stream-node-max-bytes / -entries. */
  streamNodeBytes: 4096,
  streamNodeEntries: 100,
} as const;

/**
 * The oldest RDB version whose loader reads each type byte, for the types whose layout has not
 * changed since (so a payload of that type is valid for any version from there on). Module types
 * are left out: whether a target can read them depends on its modules, not its version.
 */
export const TYPE_SINCE: ReadonlyMap<number, number> = new Map([
  [RdbType.STRING, RdbVersion.DUMP],
  [RdbType.LIST, RdbVersion.DUMP],
  [RdbType.SET, RdbVersion.DUMP],
  [RdbType.ZSET, RdbVersion.DUMP],
  [RdbType.HASH, RdbVersion.DUMP],
  [RdbType.HASH_ZIPMAP, RdbVersion.DUMP],
  [RdbType.LIST_ZIPLIST, RdbVersion.DUMP],
  [RdbType.SET_INTSET, RdbVersion.DUMP],
  [RdbType.ZSET_ZIPLIST, RdbVersion.DUMP],
  [RdbType.HASH_ZIPLIST, RdbVersion.DUMP],
  [RdbType.LIST_QUICKLIST, RdbVersion.QUICKLIST],
  [RdbType.ZSET_2, RdbVersion.ZSET_BINARY],
  [RdbType.STREAM_LISTPACKS, RdbVersion.STREAM],
  [RdbType.HASH_LISTPACK, RdbVersion.LISTPACK],
  [RdbType.ZSET_LISTPACK, RdbVersion.LISTPACK],
  [RdbType.LIST_QUICKLIST_2, RdbVersion.LISTPACK],
  [RdbType.STREAM_LISTPACKS_2, RdbVersion.LISTPACK],
  [RdbType.SET_LISTPACK, RdbVersion.SET_LISTPACK],
  [RdbType.STREAM_LISTPACKS_3, RdbVersion.SET_LISTPACK],
  [RdbType.HASH_METADATA, RdbVersion.FIELD_TTL],
  [RdbType.HASH_LISTPACK_EX, RdbVersion.FIELD_TTL],
]);
