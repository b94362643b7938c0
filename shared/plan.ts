import { z } from 'zod';

/**
 * The plan document: what `ferry plan` found and concluded, written as JSON (`--json`), drawn as
 * HTML (`--html`) and, later, by the UI. It holds no secrets: endpoints are named by host:port.
 * Keys travel as `key` (printable text, or 0x-hex when the bytes are not text) plus `keyHex`.
 */

export const CommandAvailability = z.enum(['allowed', 'refused', 'unknown']);
export type CommandAvailability = z.infer<typeof CommandAvailability>;

/** The commands whose availability decides how Ferry reads and writes. */
export const PROBED_COMMANDS = ['SYNC', 'PSYNC', 'REPLICAOF', 'CONFIG', 'DUMP', 'RESTORE', 'MEMORY', 'SCAN', 'MIGRATE'] as const;

export const EndpointFacts = z.object({
  role: z.enum(['source', 'target']),
  name: z.string(),
  /** host:port, never the password. */
  address: z.string(),
  reachable: z.boolean(),
  /** Why it could not be reached (when not reachable). */
  error: z.string().optional(),
  /** Median PING round trip (ms). */
  rttMs: z.number().nullable(),
  version: z.string().nullable(),
  /** The RDB version of its DUMP payloads. */
  rdbVersion: z.number().nullable(),
  mode: z.enum(['standalone', 'cluster']).nullable(),
  /** Cluster masters and how many slots each serves. */
  nodes: z.array(z.object({ address: z.string(), slots: z.number(), usedMemory: z.number().nullable(), maxmemory: z.number().nullable() })),
  usedMemory: z.number().nullable(),
  /** 0 = no limit; null = could not be read. */
  maxmemory: z.number().nullable(),
  maxmemoryPolicy: z.string().nullable(),
  /** `subexpiry` (Redis 7.4+): keys holding hash fields with their own TTLs. */
  keyspace: z.array(z.object({ db: z.number(), keys: z.number(), expires: z.number(), subexpiry: z.number().optional() })),
  commands: z.record(z.string(), CommandAvailability),
  /** null when CONFIG is refused. */
  notifyKeyspaceEvents: z.string().nullable(),
  /** What Ferry will do because of these facts, each with its reason. */
  decisions: z.array(z.string()),
});
export type EndpointFacts = z.infer<typeof EndpointFacts>;

export const TTL_BUCKETS = ['none', 'lt1h', 'lt1d', 'lt7d', 'longer', 'expired'] as const;
export const TtlHistogram = z.object({
  none: z.number(),
  lt1h: z.number(),
  lt1d: z.number(),
  lt7d: z.number(),
  longer: z.number(),
  expired: z.number(),
});
export type TtlHistogram = z.infer<typeof TtlHistogram>;

export const TypeStats = z.record(z.string(), z.object({ keys: z.number(), bytes: z.number() }));
export type TypeStats = z.infer<typeof TypeStats>;

/** A node of the key-prefix tree (keys split on `:`, to depth 3). */
export interface PrefixNode {
  prefix: string;
  keys: number;
  bytes: number;
  children: PrefixNode[];
}
export const PrefixNode: z.ZodType<PrefixNode> = z.lazy(() =>
  z.object({ prefix: z.string(), keys: z.number(), bytes: z.number(), children: z.array(PrefixNode) }),
);

export const DbAnalysis = z.object({
  db: z.number(),
  targetDb: z.number(),
  /** Keys in the db (INFO keyspace). */
  keysInDb: z.number(),
  /** Keys the job selects (after include/exclude/types); extrapolated when sampled. */
  keys: z.number(),
  bytes: z.number(),
  /** Keys actually looked at. */
  analysed: z.number(),
  types: TypeStats,
  ttl: TtlHistogram,
  /** How memory was measured: MEMORY USAGE, or estimated from DUMP lengths (old servers). */
  memorySource: z.enum(['memory-usage', 'dump-length']),
});
export type DbAnalysis = z.infer<typeof DbAnalysis>;

export const PrefixStat = z.object({ prefix: z.string(), keys: z.number(), bytes: z.number() });

export const SourceAnalysis = z.object({
  name: z.string(),
  dbs: z.array(DbAnalysis),
  keys: z.number(),
  bytes: z.number(),
  /** Keys/s measured by reading a sample the way `ferry run` reads (PTTL + DUMP, pipelined). */
  readKeysPerSec: z.number().nullable(),
  estimatedMs: z.number().nullable(),
  prefixTree: z.array(PrefixNode),
  heaviestByBytes: z.array(PrefixStat),
  heaviestByCount: z.array(PrefixStat),
});
export type SourceAnalysis = z.infer<typeof SourceAnalysis>;

export const BigKey = z.object({
  source: z.string(),
  db: z.number(),
  key: z.string(),
  keyHex: z.string(),
  type: z.string(),
  bytes: z.number(),
  elements: z.number(),
  /** How Ferry will move it. */
  strategy: z.string(),
  /** The stall one plain RESTORE of it would cause on the target (estimate, ms). */
  restoreStallMs: z.number(),
});
export type BigKey = z.infer<typeof BigKey>;

export const CollisionGroup = z.object({
  kind: z.enum(['between-sources', 'with-target']),
  /** The sources involved (for with-target: the one source). */
  sources: z.array(z.string()),
  targetDb: z.number(),
  /** Keys in the group, and how many hold the same value everywhere (those are not conflicts). */
  keys: z.number(),
  identical: z.number(),
  samples: z.array(z.object({ key: z.string(), keyHex: z.string(), identical: z.boolean() })),
  /** What the conflict policy will do with them. */
  consequence: z.string(),
});
export type CollisionGroup = z.infer<typeof CollisionGroup>;

export const Verdict = z.object({
  level: z.enum(['ok', 'warn', 'blocker']),
  topic: z.enum(['reachability', 'commands', 'versions', 'capacity', 'duration', 'staging', 'collisions', 'big-keys', 'job']),
  message: z.string(),
});
export type Verdict = z.infer<typeof Verdict>;

export const PlanDocument = z.object({
  version: z.literal(1),
  job: z.string(),
  createdAt: z.string(),
  /** Keys sampled per source db, or null when every selected key was analysed. */
  sample: z.number().nullable(),
  elapsedMs: z.number(),
  endpoints: z.array(EndpointFacts),
  sources: z.array(SourceAnalysis),
  totals: z.object({ keys: z.number(), bytes: z.number(), estimatedMs: z.number().nullable() }),
  bigKeys: z.array(BigKey),
  collisions: z.object({
    /** Distinct (target db, key) pairs that more than one source would write. */
    betweenSources: z.number(),
    /** Selected source keys that already exist on the target. */
    withTarget: z.number(),
    groups: z.array(CollisionGroup),
  }),
  capacity: z.object({
    targetUsed: z.number().nullable(),
    planned: z.number(),
    maxmemory: z.number().nullable(),
    /** Cluster targets: per master, by the slots of the planned keys. */
    perNode: z.array(z.object({ address: z.string(), used: z.number().nullable(), planned: z.number(), maxmemory: z.number().nullable() })),
  }),
  staging: z.array(z.object({ source: z.string(), bytesNeeded: z.number(), freeBytes: z.number().nullable(), dir: z.string() })),
  verdicts: z.array(Verdict),
});
export type PlanDocument = z.infer<typeof PlanDocument>;

/** The plan has something that stops the move as the job stands. */
export function hasBlocker(plan: Pick<PlanDocument, 'verdicts'>): boolean {
  return plan.verdicts.some((v) => v.level === 'blocker');
}
