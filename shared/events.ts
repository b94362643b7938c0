import { z } from 'zod';

/**
 * The one event stream that leaves the engine. The CLI, the WebSocket server and the Electron IPC
 * bridge are all subscribers; the UI draws exactly these. Keys travel as hex (they are bytes).
 */

export const ShardStage = z.enum(['queued', 'connecting', 'staging', 'copying', 'live', 'reconnecting', 'done', 'failed', 'stopped']);
export type ShardStage = z.infer<typeof ShardStage>;

/** Counts of what happened to keys, per source (and summed for the run). */
export const KeyCounts = z.object({
  /** Keys returned by SCAN (after include/exclude). */
  scanned: z.number(),
  /** Written to the target. */
  written: z.number(),
  /** Already on the target with the same value (a resumed run's own writes, or identical data). */
  unchanged: z.number(),
  /** On the target with another value, kept there by `onConflict: skip`. */
  skipped: z.number(),
  /** Expired before they could be written. */
  expired: z.number(),
  /** Gone between SCAN and DUMP. */
  vanished: z.number(),
  /** Left out by `options.types`. */
  filtered: z.number(),
  /** Written with plain commands because the target refused the payload. */
  viaCommands: z.number(),
  /** RESTOREd with a payload re-encoded for the target's older RDB version. Absent from checkpoints older than it. */
  reencoded: z.number().default(0),
  /** Big keys copied in windows (never DUMPed nor RESTOREd whole). */
  chunked: z.number(),
  /** Keys that could not be written (see key-error events). */
  errors: z.number(),
  /** Payload bytes written. */
  bytes: z.number(),
});
export type KeyCounts = z.infer<typeof KeyCounts>;

export function emptyCounts(): KeyCounts {
  return { scanned: 0, written: 0, unchanged: 0, skipped: 0, expired: 0, vanished: 0, filtered: 0, viaCommands: 0, reencoded: 0, chunked: 0, errors: 0, bytes: 0 };
}

export function addCounts(into: KeyCounts, from: KeyCounts): KeyCounts {
  for (const k of Object.keys(into) as Array<keyof KeyCounts>) into[k] += from[k] ?? 0;
  return into;
}

export const RunStartedEvent = z.object({
  type: z.literal('run-started'),
  job: z.string(),
  resumed: z.boolean(),
  sources: z.array(z.string()),
  target: z.string(),
  at: z.number(),
});

export const SourceStageEvent = z.object({
  type: z.literal('source-stage'),
  source: z.string(),
  stage: ShardStage,
  message: z.string().optional(),
  at: z.number(),
});

export const ProgressEvent = z.object({
  type: z.literal('progress'),
  source: z.string(),
  counts: KeyCounts,
  /** Keys the selected dbs held when the run started (an estimate: SCAN sees what exists as it goes). */
  total: z.number(),
  keysPerSec: z.number(),
  bytesPerSec: z.number(),
  /** null while unknown. */
  etaMs: z.number().nullable(),
  at: z.number(),
});

export const KeyErrorEvent = z.object({
  type: z.literal('key-error'),
  source: z.string(),
  db: z.number(),
  keyHex: z.string(),
  message: z.string(),
  at: z.number(),
});

export const WarningEvent = z.object({
  type: z.literal('warning'),
  source: z.string().optional(),
  message: z.string(),
  at: z.number(),
});

/** A big key being copied in windows: sent a few times a second per key, and when it completes. */
export const BigKeyProgressEvent = z.object({
  type: z.literal('big-key-progress'),
  source: z.string(),
  db: z.number(),
  keyHex: z.string(),
  keyType: z.string(),
  /** Elements copied so far (bytes for a string), of `total`. */
  done: z.number(),
  total: z.number(),
  unit: z.enum(['elements', 'bytes']),
  at: z.number(),
});

/** An SSH tunnel changed state (main/engine/tunnels). `message` says why it went down. */
export const TunnelEvent = z.object({
  type: z.literal('tunnel'),
  tunnel: z.string(),
  state: z.enum(['connecting', 'up', 'down', 'closed']),
  /** Reconnect attempts since it went down (0 while up). */
  attempt: z.number(),
  message: z.string().optional(),
  at: z.number(),
});

/** A staging replica's progress (main/engine/staging): one per source, or per master of a cluster source. */
export const StagingEvent = z.object({
  type: z.literal('staging'),
  source: z.string(),
  /** The source node it replicates, `host:port` as the job names it. */
  node: z.string(),
  state: z.enum(['starting', 'syncing', 'loading', 'synced', 'detached', 'stopped', 'failed']),
  /** Bytes of the master's RDB received so far, and in all (null while unknown). */
  receivedBytes: z.number(),
  totalBytes: z.number().nullable(),
  message: z.string().optional(),
  at: z.number(),
});

/**
 * One second of one endpoint node as a dedicated PING probe saw it (main/engine/pacing), with the
 * server's own view (`LATENCY LATEST`) where the server reports it. Sent once a second per node.
 */
export const LatencyEvent = z.object({
  type: z.literal('latency'),
  /** `target` or the source's name. */
  endpoint: z.string(),
  /** The node probed, `host:port` (a cluster has one probe per master). */
  node: z.string(),
  /** PINGs answered in this second (one at a time, every 5 ms: ~200 on an idle server). */
  calls: z.number(),
  avgMs: z.number(),
  p50Ms: z.number(),
  p99Ms: z.number(),
  maxMs: z.number(),
  /** The worst stall the server itself recorded in this second (LATENCY LATEST); null where it cannot tell. */
  serverMaxMs: z.number().nullable(),
  /** The latency guard's factor (0, 1] after this second: 1 is full speed. */
  paceFactor: z.number(),
  at: z.number(),
});

/** What the latency probes saw of one endpoint over a whole run (run report, run-finished). */
export const LatencySummary = z.object({
  endpoint: z.string(),
  nodes: z.array(z.string()),
  /** Per-second windows measured (summed over nodes). */
  seconds: z.number(),
  calls: z.number(),
  avgMs: z.number(),
  maxMs: z.number(),
  /** The worst per-second p99. */
  worstP99Ms: z.number(),
  /** Seconds in which some node's p99 was above the budget. */
  secondsOverBudget: z.number(),
  budgetMs: z.number(),
  /** The worst stall the server itself recorded; null where it cannot tell. */
  serverMaxMs: z.number().nullable(),
});
export type LatencySummary = z.infer<typeof LatencySummary>;

export const RunFinishedEvent = z.object({
  type: z.literal('run-finished'),
  outcome: z.enum(['done', 'failed', 'stopped']),
  counts: KeyCounts,
  perSource: z.record(z.string(), KeyCounts),
  elapsedMs: z.number(),
  message: z.string().optional(),
  /** Per endpoint, when the latency probes ran. */
  latency: z.array(LatencySummary).optional(),
  /** The verify the run did itself, against staging copies before they were removed. */
  verified: z.object({ compared: z.number(), differences: z.number() }).optional(),
  at: z.number(),
});

export const VerifyProgressEvent = z.object({
  type: z.literal('verify-progress'),
  source: z.string(),
  compared: z.number(),
  differences: z.number(),
  total: z.number(),
  at: z.number(),
});

export const DifferenceKind = z.enum(['missing', 'type', 'value', 'ttl']);
export type DifferenceKind = z.infer<typeof DifferenceKind>;

export const VerifyDifferenceEvent = z.object({
  type: z.literal('verify-difference'),
  source: z.string(),
  db: z.number(),
  targetDb: z.number(),
  keyHex: z.string(),
  kind: DifferenceKind,
  detail: z.string(),
  at: z.number(),
});

export const VerifyFinishedEvent = z.object({
  type: z.literal('verify-finished'),
  compared: z.number(),
  equal: z.number(),
  differences: z.record(DifferenceKind, z.number()),
  /** Keys kept on the target by `onConflict: skip`: not differences. */
  keptByPolicy: z.number(),
  /** Source keys that vanished or expired while verify ran. */
  vanished: z.number(),
  elapsedMs: z.number(),
  at: z.number(),
});

/**
 * Live sync of one source node (`ferry run --live`, main/engine/live): its phase and how far the
 * target is behind the node's replication stream. Sent once a second per node, and on each change.
 */
export const LiveEvent = z.object({
  type: z.literal('live'),
  source: z.string(),
  /** The source node, `host:port` as the job names it. */
  node: z.string(),
  phase: z.enum(['connecting', 'full-sync', 'streaming', 'reconnecting', 'stopped', 'failed']),
  /**
   * `replication` (absent in older events): the node's replication stream, ordered and lossless.
   * `notifications`: the fallback for a source that refuses SYNC and PSYNC: a bulk copy, then the
   * keys keyspace notifications name are copied again; best effort (notifications can be lost), so
   * the cut-over verifies and repairs. Its lag is in keys (`lagKeys`), not bytes.
   */
  mode: z.enum(['replication', 'notifications']).optional(),
  /** Notifications mode: changed keys not copied yet. */
  lagKeys: z.number().optional(),
  /** How the latest connection started: the whole dataset again (`full`), or from Ferry's offset (`partial`). */
  resync: z.enum(['full', 'partial']).nullable(),
  /** The server's replication offset, and the offset up to which the target holds every effect. */
  serverOffset: z.number(),
  appliedOffset: z.number(),
  lagBytes: z.number(),
  /** How long the target has been behind (0 when caught up). */
  lagMs: z.number(),
  /** Commands applied on the target, dropped (filters, replication chatter), and refused by it. */
  applied: z.number(),
  dropped: z.number(),
  errors: z.number(),
  message: z.string().optional(),
  at: z.number(),
});

export const EngineEvent = z.discriminatedUnion('type', [
  RunStartedEvent,
  SourceStageEvent,
  ProgressEvent,
  KeyErrorEvent,
  WarningEvent,
  RunFinishedEvent,
  LatencyEvent,
  BigKeyProgressEvent,
  TunnelEvent,
  StagingEvent,
  VerifyProgressEvent,
  VerifyDifferenceEvent,
  VerifyFinishedEvent,
  LiveEvent,
]);
export type EngineEvent = z.infer<typeof EngineEvent>;
export type EngineEventOf<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;
