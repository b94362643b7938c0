import { z } from 'zod';
import { TtlHistogram } from './plan.js';

/**
 * What `ferry rdb inspect FILE` found in an RDB file (`--json` prints it as is; the UI can draw it).
 * Everything comes from one streaming pass over the file. Keys travel as `key` (printable text, or
 * 0x-hex when the bytes are not text) plus `keyHex`, as in the plan document.
 *
 * Three sizes appear: `fileBytes` (what the key takes in the file: type byte, name and value, as
 * stored, compressed or not), `elements` (1 for a string; fields, members, items or stream entries)
 * and `memory`, an ESTIMATE of the RAM the value would take in a Redis server (see `memory.method`).
 */

export const RDB_KEY_TYPES = ['string', 'list', 'set', 'zset', 'hash', 'stream'] as const;
export const RdbKeyType = z.enum(RDB_KEY_TYPES);
export type RdbKeyType = z.infer<typeof RdbKeyType>;

const Sizes = { keys: z.number(), fileBytes: z.number(), memory: z.number() };

export const RdbEncodingStats = z.object({
  /** The RDB value-type byte, e.g. 18. */
  typeByte: z.number(),
  /** Its name, e.g. `list-quicklist-2`. */
  name: z.string(),
  ...Sizes,
});
export type RdbEncodingStats = z.infer<typeof RdbEncodingStats>;

export const RdbTypeStats = z.object({
  type: RdbKeyType,
  ...Sizes,
  elements: z.number(),
  /** By encoding (type byte), most keys first. */
  encodings: z.array(RdbEncodingStats),
});
export type RdbTypeStats = z.infer<typeof RdbTypeStats>;

export const RdbDbStats = z.object({
  db: z.number(),
  /** Every key record of the db in the file, expired ones included. */
  keys: z.number(),
  /** Keys with a TTL (expired ones included). */
  expires: z.number(),
  /** Keys whose TTL had already passed when the file was read (Redis drops them when it loads the file as a master). */
  expiredAtRead: z.number(),
  /** Hashes with fields that have their own TTL (Redis 7.4+). */
  fieldTtlKeys: z.number(),
  /** The resize-db hint the server wrote (Redis 3.2+): its dict sizes when it saved; null when absent. */
  resize: z.object({ dbSize: z.number(), expiresSize: z.number() }).nullable(),
  fileBytes: z.number(),
  memory: z.number(),
  /** Per key type, in the order of RDB_KEY_TYPES (types the db lacks are left out). */
  types: z.array(z.object({ type: RdbKeyType, ...Sizes })),
});
export type RdbDbStats = z.infer<typeof RdbDbStats>;

export const RdbBigKey = z.object({
  db: z.number(),
  key: z.string(),
  keyHex: z.string(),
  type: RdbKeyType,
  /** The encoding's name (see RdbEncodingStats). */
  encoding: z.string(),
  fileBytes: z.number(),
  elements: z.number(),
  memory: z.number(),
  /** Absolute expire time (Unix ms), or null. */
  expireAtMs: z.number().nullable(),
});
export type RdbBigKey = z.infer<typeof RdbBigKey>;

export const RdbAuxField = z.object({
  key: z.string(),
  /** The value as text when it is printable, else 0x-hex. */
  value: z.string(),
  /** How Ferry reads it, when it knows the field: `ctime` as an ISO date, `used-mem` as bytes… */
  meaning: z.string().optional(),
});
export type RdbAuxField = z.infer<typeof RdbAuxField>;

export const RdbInspection = z.object({
  version: z.literal(1),
  /** The file as given. */
  file: z.string(),
  fileBytes: z.number(),
  /** When the file was read (ISO): `expiredAtRead` and the TTL histogram are relative to it. */
  readAt: z.string(),
  /** Wall time of the one pass over the file. */
  parseMs: z.number(),
  rdbVersion: z.number(),
  /** The Redis version that wrote the file: its aux field `redis-ver`, else what its RDB version implies. */
  writtenBy: z.object({ version: z.string(), from: z.enum(['aux', 'rdb-version']) }),
  /**
   * ok: the CRC-64 matches; absent: RDB versions before 5 have none; disabled: the server wrote 0
   * (rdbchecksum no). A mismatch is an error, not a status.
   */
  checksum: z.enum(['ok', 'absent', 'disabled']),
  /** Every aux field, in file order. */
  aux: z.array(RdbAuxField),
  /** `ctime` as an ISO date, or null. */
  createdAt: z.string().nullable(),
  /** `used-mem`: the writing server's used_memory when it saved, or null. */
  usedMemAux: z.number().nullable(),
  functions: z.array(z.object({ library: z.string().nullable(), engine: z.string().nullable(), bytes: z.number() })),
  /** Module aux data (skipped): which modules the file needs. */
  modules: z.array(z.object({ name: z.string(), when: z.number() })),
  /** Cluster slot-info records (Redis 7.4+ cluster nodes): how many. */
  slotInfoRecords: z.number(),
  totals: z.object({
    keys: z.number(),
    expires: z.number(),
    expiredAtRead: z.number(),
    fieldTtlKeys: z.number(),
    fileBytes: z.number(),
    memory: z.number(),
  }),
  /** Keys by TTL left when read (`expired`: already passed). */
  ttl: TtlHistogram,
  dbs: z.array(RdbDbStats),
  /** Per key type, in the order of RDB_KEY_TYPES (absent types left out). */
  types: z.array(RdbTypeStats),
  /** The biggest keys by bytes in the file, largest first (at most `top`). */
  biggestKeys: z.array(RdbBigKey),
  top: z.number(),
  memory: z.object({
    /** Estimated RAM of the data in Redis: keys, values, per-db tables. */
    estimatedBytes: z.number(),
    /** How it was estimated, in one paragraph. */
    method: z.string(),
  }),
});
export type RdbInspection = z.infer<typeof RdbInspection>;
