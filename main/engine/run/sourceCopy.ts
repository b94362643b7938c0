import { emptyCounts, type KeyCounts } from '../../../shared/events.js';
import type { Job } from '../../../shared/job.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { KeyFilter } from '../filters/keyFilter.js';
import { ScanReader, type BigKeyEntry, type SizeCheck, type SourceEntry } from '../readers/scanReader.js';
import { atLeast } from '../endpoints/serverFacts.js';
import { ReplyError } from '../resp/reply.js';
import { replyNumber } from '../resp/reply.js';
import { RestoreWriter } from '../writers/restoreWriter.js';
import type { WritePolicy } from '../writers/writePolicy.js';
import type { ShardCheckpoint } from './checkpoint.js';
import { targetDbMapping } from './dbMapping.js';
import type { Pace } from '../pacing/pace.js';

/** One unit of scanning: a db of a standalone source, or db 0 of one cluster master. */
export interface Shard {
  id: string;
  db: number;
  node?: { host: string; port: number };
  /** Keys it held when the run started. */
  keys: number;
}

/** How many read-but-unwritten keys / bytes one shard may hold (back-pressure budget). */
export const SHARD_BUDGET = { keys: 20_000, bytes: 64 * 1024 * 1024 };

/** Lists the shards of a source: its non-empty dbs, or its masters for a cluster. */
export async function listShards(source: Endpoint): Promise<Shard[]> {
  if (source.isCluster) {
    const shards: Shard[] = [];
    for (const node of source.masters) {
      const conn = await source.nodeConnection(node.host, node.port);
      shards.push({ id: `${node.host}:${node.port}/db0`, db: 0, node, keys: replyNumber(await conn.call('DBSIZE')) });
    }
    return shards;
  }
  // A source URL that names a db (redis://host/3) selects that db alone.
  const { db, dbInPath } = source.address;
  return [...source.facts.keyspace.entries()]
    .filter(([n, keys]) => keys > 0 && (!dbInPath || n === db))
    .sort(([a], [b]) => a - b)
    .map(([db, keys]) => ({ id: `db${db}`, db, keys }));
}

export interface SourceCopyHooks {
  /** A key at or above `options.bigKey`, about to be copied in windows. */
  onBigKey(entry: BigKeyEntry): void;
  /** A big key's windows so far: elements (bytes for a string) done of the total. */
  onBigKeyProgress?(entry: BigKeyEntry, done: number, total: number): void;
  onSkipped(entry: SourceEntry | BigKeyEntry, targetDb: number): void;
  onConflict(entry: SourceEntry | BigKeyEntry, targetDb: number): void;
  onKeyError(db: number, key: Buffer, message: string): void;
  onFatal(err: Error): void;
}

/**
 * Copies every shard of one source into the target, one shard after another, each through a
 * ScanReader feeding a RestoreWriter. Saves nothing itself: the migration reads `shardState`.
 */
export class SourceCopy {
  readonly counts: KeyCounts;
  private readonly readers = new Map<string, ScanReader>();
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly source: Endpoint,
    private readonly target: Endpoint,
    private readonly job: Job,
    private readonly filter: KeyFilter,
    private readonly policy: WritePolicy,
    readonly shards: Shard[],
    private readonly checkpoint: Record<string, ShardCheckpoint>,
    counts: KeyCounts | undefined,
    private readonly hooks: SourceCopyHooks,
    /** Latency guard + token bucket (main/engine/pacing); absent: full speed, no limits. */
    readonly pace?: Pace,
  ) {
    this.counts = counts ?? emptyCounts();
    this.targetDbOf = targetDbMapping(job, target.address);
  }

  readonly targetDbOf: (sourceDb: number) => number;

  /** Keys the shards held when the run started (the progress total). */
  get total(): number {
    return this.shards.reduce((n, s) => n + s.keys, 0);
  }

  /** What the migration's checkpoint keeps about this source, as of now. */
  checkpointState(): { shards: Record<string, ShardCheckpoint>; counts: KeyCounts } {
    return { shards: this.shardState(), counts: { ...this.counts } };
  }

  /** The checkpoint of each shard as of now. */
  shardState(): Record<string, ShardCheckpoint> {
    const state: Record<string, ShardCheckpoint> = { ...this.checkpoint };
    for (const [id, reader] of this.readers) state[id] = { cursor: reader.tracker.committed, complete: reader.tracker.complete };
    return state;
  }

  async run(): Promise<void> {
    const writer = new RestoreWriter({
      source: this.source,
      sourceName: this.name,
      target: this.target,
      targetDbOf: this.targetDbOf,
      policy: this.policy,
      counts: this.counts,
      onSkipped: this.hooks.onSkipped,
      onConflict: this.hooks.onConflict,
      onKeyError: (entry, message) => this.hooks.onKeyError(entry.db, entry.key, message),
      onDone: (entry, settled) => entry.reader.finish(entry, settled),
      onFatal: this.hooks.onFatal,
      onBigKeyProgress: this.hooks.onBigKeyProgress,
      pace: this.pace?.guard,
    });
    const sizeCheck: SizeCheck = { memoryUsage: await memoryUsageAllowed(this.source), bigKey: this.job.options.bigKey };
    // A cluster source's masters are scanned in parallel (each has its own connection);
    // a standalone source's dbs one after another.
    const runShard = async (shard: Shard) => {
      const saved = this.checkpoint[shard.id];
      if (saved?.complete || this.stopped) return;
      const reader: ScanReader = new ScanReader({
        endpoint: this.source,
        db: shard.db,
        node: shard.node,
        filter: this.filter,
        startCursor: saved?.cursor ?? '0',
        budget: SHARD_BUDGET,
        counts: this.counts,
        sizeCheck,
        pace: this.pace,
        onEntry: (entry) => writer.write(entry),
        onBigKey: (entry) => {
          this.hooks.onBigKey(entry);
          writer.writeBig(entry);
        },
        onKeyError: (key, message) => this.hooks.onKeyError(shard.db, key, message),
      });
      this.readers.set(shard.id, reader);
      await reader.run();
    };
    if (this.source.isCluster) await Promise.all(this.shards.map(runShard));
    else for (const shard of this.shards) await runShard(shard);
  }

  /** Stops reading new keys; keys already read are still written. */
  stop(): void {
    this.stopped = true;
    for (const reader of this.readers.values()) reader.stop();
  }
}

/** Whether the source answers MEMORY USAGE (Redis ≥ 4.0, and not refused by a provider or an ACL). */
export async function memoryUsageAllowed(source: Endpoint): Promise<boolean> {
  if (!atLeast(source.facts, 4, 0)) return false;
  const probe = Buffer.from(`ferry:probe:${process.pid}:${Date.now()}`);
  const db = source.isCluster ? 0 : [...source.facts.keyspace.keys()][0] ?? 0;
  try {
    if (!source.isCluster) await source.useDbs([db]);
    await source.call(db, probe, 'MEMORY', 'USAGE', probe);
    return true;
  } catch (err) {
    if (err instanceof ReplyError) return false;
    throw err;
  }
}
