import type { StreamGroup, StreamValue } from '../values/logicalValue.js';

/** RDB value type bytes (rdb.h); the first byte of a DUMP payload, and of each key in a file. */
export const RdbType = {
  STRING: 0,
  LIST: 1,
  SET: 2,
  ZSET: 3,
  HASH: 4,
  ZSET_2: 5,
  MODULE_PRE_GA: 6,
  MODULE_2: 7,
  HASH_ZIPMAP: 9,
  LIST_ZIPLIST: 10,
  SET_INTSET: 11,
  ZSET_ZIPLIST: 12,
  HASH_ZIPLIST: 13,
  LIST_QUICKLIST: 14,
  STREAM_LISTPACKS: 15,
  HASH_LISTPACK: 16,
  ZSET_LISTPACK: 17,
  LIST_QUICKLIST_2: 18,
  STREAM_LISTPACKS_2: 19,
  SET_LISTPACK: 20,
  STREAM_LISTPACKS_3: 21,
  HASH_METADATA_PRE_GA: 22,
  HASH_LISTPACK_EX_PRE_GA: 23,
  HASH_METADATA: 24,
  HASH_LISTPACK_EX: 25,
} as const;

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(RdbType));

/** True for the type bytes rdb.h defines (including module and pre-GA types this parser refuses). */
export function isKnownType(type: number): boolean {
  return KNOWN_TYPES.has(type);
}

/** The newest RDB version this parser knows (Redis 7.4 and 8.0 write 12). */
export const MAX_RDB_VERSION = 12;

/**
 * A parsed value. Assignable to LogicalValue (same shape, same ordering rules: sets and hashes
 * sorted by bytes, zsets in rank order), plus what a DUMP or RDB file holds beyond it.
 */
export type ParsedValue =
  | { type: 'string'; value: Buffer }
  | { type: 'list'; items: Buffer[] }
  | { type: 'set'; members: Buffer[] }
  | ParsedHash
  | { type: 'zset'; members: Array<[Buffer, number]> }
  | { type: 'stream'; stream: ParsedStream };

export interface ParsedHash {
  type: 'hash';
  /** Sorted by field bytes. */
  fields: Array<[Buffer, Buffer]>;
  /**
   * Hashes with field TTLs (types 24, 25; Redis 7.4+) only: the fields that have one, with their
   * absolute expire time in Unix ms, sorted by field bytes. Fields whose time has passed are kept:
   * whether to drop them is the caller's decision, the parser does not look at the clock.
   */
  fieldExpiresMs?: Array<[field: Buffer, expireAtMs: number]>;
}

export interface ParsedStream extends StreamValue {
  /** recorded-first-entry-id (types 19, 21; Redis 7.0+). */
  firstId?: string;
  groups: ParsedStreamGroup[];
}

export interface ParsedStreamGroup extends StreamGroup {
  /** Last delivery time (Unix ms) of each pending entry, in the order of `pending`. */
  deliveryTimesMs: number[];
  /** Per consumer, in the order of `consumers`. */
  consumerTimes: Array<{ seenTimeMs: number; /** Redis 7.2+ (type 21) only. */ activeTimeMs?: number }>;
}
