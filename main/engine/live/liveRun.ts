import fs from 'node:fs';
import path from 'node:path';
import { addCounts, emptyCounts, type KeyCounts } from '../../../shared/events.js';
import { redactUrl, type Job } from '../../../shared/job.js';
import { tlsForRealHost } from '../endpoints/endpoint.js';
import { parseInfo } from '../endpoints/serverFacts.js';
import type { EventBus } from '../events/eventBus.js';
import { KeyFilter } from '../filters/keyFilter.js';
import type { LatencyProbes } from '../pacing/latencyProbe.js';
import type { Pace } from '../pacing/pace.js';
import { runPacing } from '../pacing/runPacing.js';
import type { LoadedJob } from '../job/loadJob.js';
import { ReplicationError, type ReplicationPosition } from '../replication/index.js';
import { RedisConnection } from '../resp/connection.js';
import { replyText } from '../resp/reply.js';
import { selectionHash } from '../run/checkpoint.js';
import { describeKey } from '../run/describeKey.js';
import type { RunOptions, RunResult } from '../run/migration.js';
import { ResumeError, waitForEndpoints } from '../run/migration.js';
import { openEndpoints, refuseUnsupported, UnsupportedError } from '../run/openEndpoints.js';
import { RateMeter } from '../run/rateMeter.js';
import { writeFileAtomic } from '../run/stateDir.js';
import { RdbFileSource } from '../sources/rdbFileSource.js';
import { StagingSet } from '../staging/stagingSet.js';
import { TunnelSet, tunnelOptions } from '../tunnels/tunnelSet.js';
import { ConflictJournal, SKIP_JOURNAL_FILE } from '../writers/conflictJournal.js';
import type { WritePolicy } from '../writers/writePolicy.js';
import { LiveApplyError } from './liveApplier.js';
import { followByNotifications } from './notificationsFallback.js';
import { LiveNode, type CommandSink, type LiveEvent } from './liveNode.js';
import { createLiveSink } from './liveSink.js';

export const LIVE_CHECKPOINT_FILE = 'live-checkpoint.json';
/** The replication backlog of Ferry's own staging replicas while live sync reads them. */
const STAGING_BACKLOG_BYTES = 64 * 1024 * 1024;
/** The latest live event of every node, rewritten every second while `--live` runs, removed when it ends (read by `ferry cutover`). */
export const LIVE_STATUS_FILE = 'live-status.json';

interface LiveCheckpoint {
  version: 1;
  job: string;
  selection: string;
  updatedAt: number;
  /** By `source node`: where the target stands in that node's replication stream. */
  nodes: Record<string, ReplicationPosition>;
}

export interface LiveStatus {
  job: string;
  pid: number;
  updatedAt: number;
  nodes: LiveEvent[];
}

/**
 * `ferry run --live`: every source is followed through its replication stream (its staging
 * replica's, for `stage: replica`): a full sync through the normal writers, then the commands in
 * order, until stopped. The checkpoint holds each node's replid and applied offset, so `--resume`
 * continues with a partial resync where the server's backlog still allows it.
 */
export async function runLive(loaded: LoadedJob, opts: RunOptions, bus: EventBus): Promise<RunResult> {
  const { job } = loaded;
  refuseUnsupported(job);
  refuseFiles(job);
  const startedAt = Date.now();
  const checkpointFile = path.join(opts.stateDir, LIVE_CHECKPOINT_FILE);
  const checkpoint = opts.resume ? loadLiveCheckpoint(job, checkpointFile) : { version: 1 as const, job: job.name, selection: selectionHash(job), updatedAt: startedAt, nodes: {} };

  const tunnels = await TunnelSet.forJob(job, tunnelOptions(opts.tunnels, bus));
  let staging: StagingSet | null = null;
  // Full syncs are paced like a bulk copy (latency guard on the target); the stream is not: it must keep up.
  const { pace, probes } = runPacing(job, bus);
  const state: LiveState = { nodes: [], latest: new Map() };
  const save = () => {
    for (const n of state.nodes) {
      const position = n.live.position;
      if (position) checkpoint.nodes[n.key] = position;
    }
    checkpoint.updatedAt = Date.now();
    writeFileAtomic(checkpointFile, `${JSON.stringify(checkpoint, null, 1)}\n`);
    const status: LiveStatus = { job: job.name, pid: process.pid, updatedAt: Date.now(), nodes: [...state.latest.values()] };
    writeFileAtomic(path.join(opts.stateDir, LIVE_STATUS_FILE), `${JSON.stringify(status)}\n`);
  };
  const saver = setInterval(save, opts.checkpointEveryMs ?? 1000);
  let failure: string | undefined;
  try {
    staging = await StagingSet.start(job, { root: path.join(opts.stateDir, 'staging'), tunnels, attached: true, emit: (e) => bus.emit(e), signal: opts.signal });
    const paths = { tunnels, staging };
    const context = { loaded, opts, bus, paths, pace, probes, checkpoint, state };
    let attempt = await followOnce(context, true);
    // A lost target (a dropped VPN): wait until every endpoint answers, then go on from the saved offsets.
    while (attempt.targetLost && !opts.signal?.aborted) {
      save();
      const givenUp = await waitForEndpoints(job, paths, attempt.failure ?? 'the target connection was lost', opts, bus);
      if (givenUp) {
        attempt = { failure: givenUp, targetLost: false };
        break;
      }
      attempt = await followOnce(context, false);
    }
    failure = attempt.failure;
    save();
  } catch (err) {
    if (err instanceof UnsupportedError || err instanceof ResumeError) throw err;
    failure ??= (err as Error).message;
  } finally {
    clearInterval(saver);
    await probes.stop();
    // No status: no live run (what ferry cutover goes by).
    fs.rmSync(path.join(opts.stateDir, LIVE_STATUS_FILE), { force: true });
    await staging?.stop(job.options.keepStaging);
    tunnels?.close();
  }
  const perSource: Record<string, KeyCounts> = {};
  for (const n of state.nodes) perSource[n.source] = addCounts(perSource[n.source] ?? emptyCounts(), sumOf(n.sync.map((c) => c.counts)));
  const result: RunResult = {
    outcome: failure ? 'failed' : 'stopped',
    counts: sumOf(Object.values(perSource)),
    perSource,
    message: failure ?? `live sync stopped; each source's replication offset is saved: run again with --live --resume to continue from it`,
  };
  bus.emit({ type: 'run-finished', ...result, elapsedMs: Date.now() - startedAt, at: Date.now() });
  return result;
}

/** Every node followed so far (over reconnects), and the latest event of each. */
interface LiveState {
  nodes: Array<{ source: string; key: string; live: LiveNode; sync: RdbFileSource[]; sink: CommandSink }>;
  latest: Map<string, LiveEvent>;
}

interface FollowContext {
  loaded: LoadedJob;
  opts: RunOptions;
  bus: EventBus;
  paths: { tunnels: TunnelSet | null; staging: StagingSet };
  pace: Pace;
  probes: LatencyProbes;
  checkpoint: LiveCheckpoint;
  state: LiveState;
}

/**
 * Opens the endpoints and follows every source node until stopped or failed. `targetLost`: the
 * target's connection dropped (the nodes stopped with their offsets saved), so it is worth waiting
 * for it and following again.
 */
async function followOnce(ctx: FollowContext, first: boolean): Promise<{ failure?: string; targetLost: boolean }> {
  const { loaded, opts, bus, paths, pace, probes, checkpoint, state } = ctx;
  const { job } = loaded;
  const staging = paths.staging;
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener('abort', onAbort);
  let failure: string | undefined;
  let targetLost = false;
  const fail = (message: string) => {
    failure ??= message;
    controller.abort();
  };
  const { sources, target } = await openEndpoints(job, paths);
  const opened = [target, ...sources.values()];
  let progressTimer: NodeJS.Timeout | null = null;
  try {
    if (first) await probes.start([{ name: 'target', endpoint: target }]);
    const filter = new KeyFilter(job.options);
    const policy: WritePolicy = { onConflict: job.options.onConflict, keepTtl: job.options.ttl.keep, extendMs: job.options.ttl.extendMs };
    const journal = new ConflictJournal(path.join(opts.stateDir, SKIP_JOURNAL_FILE), { append: opts.resume || !first });
    const nodes: LiveState['nodes'] = [];
    for (const [name, source] of sources) {
      const hooks = {
        onBigKey: () => undefined,
        onSkipped: (entry: { db: number; key: Buffer }, targetDb: number) => journal.record(name, entry.db, targetDb, entry.key),
        onConflict: (entry: { db: number; key: Buffer }, targetDb: number) =>
          fail(`${describeKey(entry.key)} (db ${entry.db}) from source ${name} already exists on the target (db ${targetDb}) with a different value, and onConflict is fail. Set options.onConflict to skip or replace, or delete the key on the target, then run again`),
        onKeyError: (db: number, key: Buffer, message: string) => bus.emit({ type: 'key-error', source: name, db, keyHex: key.toString('hex'), message, at: Date.now() }),
        onWarning: (message: string) => bus.emit({ type: 'warning', source: name, message, at: Date.now() }),
        onFatal: (err: Error) => fail(err.message),
      };
      const masters = source.isCluster ? source.masters.map((m) => ({ host: m.host, port: m.port })) : [{ host: source.address.host, port: source.address.port }];
      for (const m of masters) {
        const node = `${m.host.includes(':') ? `[${m.host}]` : m.host}:${m.port}`;
        const key = `${name} ${node}`;
        const staged = staging.replicaOf(name, m.host, m.port);
        if (staged && first) await unlimitedReplicaBuffer(staged, name);
        // Opens the node's tunnel forward (if it goes through one) before the link looks it up.
        if (!staged) await source.nodeConnection(m.host, m.port);
        const reach = staged ?? source.localAddressOf(m.host, m.port);
        const addr = source.address;
        const sync: RdbFileSource[] = [];
        const sink = createLiveSink({ source: name, node, sourceEndpoint: source, target, job, filter, onWarning: hooks.onWarning });
        const live = new LiveNode({
          source: name,
          node,
          link: {
            ...reach,
            label: `source ${name} (${node}${staged ? ', its staging replica' : ''})`,
            ...(!staged && addr.username && { username: addr.username }),
            ...(!staged && addr.password && { password: addr.password }),
            ...(!staged && addr.tls && { tls: tlsForRealHost(addr.tls, m.host) }),
          },
          resume: checkpoint.nodes[key] ?? null,
          fullSync: (file, again) => {
            if (again) {
              bus.emit({
                type: 'warning',
                source: name,
                message:
                  `${node}: a full resync writes the whole dataset over the earlier one (keys it wrote are replaced${policy.onConflict === 'skip' ? ', except where onConflict: skip keeps them' : ''}); ` +
                  'a key deleted on the source while the link was down stays on the target, where verify cannot see it: for an exact copy, start again into an empty target',
                at: Date.now(),
              });
            }
            const syncPolicy: WritePolicy = again && policy.onConflict === 'fail' ? { ...policy, onConflict: 'replace' } : policy;
            const copy = new RdbFileSource(name, file, target, job, filter, syncPolicy, { shards: {} }, hooks, pace);
            sync.push(copy);
            return copy;
          },
          sink,
          serverOffset: async () => {
            const conn = await source.nodeConnection(m.host, m.port);
            return Number(parseInfo(replyText(await conn.call('INFO', 'replication'))).get('master_repl_offset') ?? 0);
          },
          emit: (e) => {
            state.latest.set(key, e);
            bus.emit(e);
          },
          signal: controller.signal,
        });
        nodes.push({ source: name, key, live, sync, sink });
      }
    }
    state.nodes.push(...nodes);

    if (first) bus.emit({ type: 'run-started', job: job.name, resumed: opts.resume, sources: [...sources.keys()], target: redactUrl(job.target.url), at: Date.now() });
    const meters = new Map([...sources.keys()].map((n) => [n, new RateMeter()]));
    const progress = () => {
      for (const [name, meter] of meters) {
        const copies = state.nodes.filter((n) => n.source === name).flatMap((n) => n.sync);
        const counts = sumOf(copies.map((c) => c.counts));
        meter.sample(counts.scanned, counts.bytes);
        const total = copies.reduce((t, c) => t + c.total, 0);
        bus.emit({ type: 'progress', source: name, counts, total, keysPerSec: meter.rates.keysPerSec, bytesPerSec: meter.rates.bytesPerSec, etaMs: null, at: Date.now() });
      }
    };
    progressTimer = setInterval(progress, opts.progressEveryMs ?? 1000);
    for (const name of sources.keys()) bus.emit({ type: 'source-stage', source: name, stage: 'live', message: 'following its replication stream', at: Date.now() });

    // A source that refuses SYNC and PSYNC is followed by keyspace notifications instead (once,
    // whichever of its nodes was refused first; the others end).
    const fallbacks = new Map<string, Promise<void>>();
    const fallBack = (name: string): Promise<void> => {
      let running = fallbacks.get(name);
      if (!running) {
        running = followByNotifications({ loaded, name, source: sources.get(name)!, target, runOpts: opts, bus, pace, signal: controller.signal, emit: (e) => { state.latest.set(`${name} ${e.node}`, e); bus.emit(e); }, fail });
        fallbacks.set(name, running);
      }
      return running;
    };
    await Promise.all(
      nodes.map((n) =>
        n.live.run().catch((err: Error) => {
          if (err instanceof ReplicationError && err.kind === 'refused' && !staging.has(n.source) && !controller.signal.aborted) {
            // This node's own entry goes: the fallback reports the source as one.
            state.latest.delete(n.key);
            return fallBack(n.source);
          }
          if (!opts.signal?.aborted && ((err instanceof LiveApplyError && err.code === 'CONNECTION_LOST') || target.connectionLost)) targetLost = true;
          else bus.emit({ type: 'source-stage', source: n.source, stage: 'failed', message: err.message, at: Date.now() });
          fail(err.message);
        }),
      ),
    );
    // A full sync's writer reports a lost target as a plain failure.
    if (failure !== undefined && !opts.signal?.aborted && target.connectionLost) targetLost = true;
    if (targetLost) for (const n of nodes) warnUncertain(n.source, n.key, n.sink, bus);
    progress();
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    opened.forEach((o) => o.close());
  }
  return { ...(failure !== undefined && { failure }), targetLost };
}

/**
 * What the lost connection leaves unknown: a write that was sent and not answered is applied again
 * after the reconnect; for most writes that changes nothing, for RPUSH, INCR and the like it may.
 */
function warnUncertain(source: string, nodeKey: string, sink: CommandSink, bus: EventBus): void {
  const keys = sink.uncertainKeys();
  if (keys.length === 0) return;
  const listed = [...new Map(keys.map((k) => [`${k.db} ${k.key.toString('hex')}`, k])).values()];
  const shown = listed.slice(0, 10).map((k) => `${describeKey(k.key)} (db ${k.db}, ${k.command})`).join(', ');
  bus.emit({
    type: 'warning',
    source,
    message:
      `${nodeKey.slice(source.length + 1)}: ${listed.length} key(s) had a write that is not safe to repeat in flight when the target connection dropped; it is applied again from the last acknowledged offset, so they may hold it twice: ` +
      `${shown}${listed.length > 10 ? ', …' : ''}. ferry cutover's verify shows any such difference`,
    at: Date.now(),
  });
}

/** An RDB file has no stream of changes to follow. */
function refuseFiles(job: Job): void {
  const problems = job.sources.flatMap((s, i) => (s.rdb !== undefined ? [`sources[${i}].rdb: an RDB file has no changes to follow; copy it with ferry run (without --live), or from a job of its own`] : []));
  if (problems.length) throw new UnsupportedError(problems.join('\n'));
}

function loadLiveCheckpoint(job: Job, file: string): LiveCheckpoint {
  if (!fs.existsSync(file)) throw new ResumeError(`job ${job.name}: there is no live checkpoint to resume in ${path.dirname(file)}; run it with --live, without --resume`);
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as LiveCheckpoint;
  if (saved.version !== 1) throw new ResumeError(`${file}: unknown live checkpoint version ${String(saved.version)}`);
  if (saved.selection !== selectionHash(job)) {
    throw new ResumeError(`job ${job.name}: its sources, target, dbs or filters changed since the live checkpoint was written; run it with --live, without --resume, to start again`);
  }
  return saved;
}

/**
 * A staging replica is Ferry's own: while Ferry copies a full sync, the stream waits in the
 * replica's output buffer for Ferry, and Redis's default limit for replicas (256 MB) would cut the
 * link; and its backlog decides whether a reconnect of Ferry's is partial.
 */
async function unlimitedReplicaBuffer(replica: { host: string; port: number }, source: string): Promise<void> {
  const conn = await RedisConnection.connect({ host: replica.host, port: replica.port, label: `staging replica of source ${source}` });
  try {
    await conn.call('CONFIG', 'SET', 'client-output-buffer-limit', 'replica 0 0 0');
    // A backlog that outlasts a pause of Ferry's (a full sync, a restart): a partial resync instead of a full one.
    await conn.call('CONFIG', 'SET', 'repl-backlog-size', String(STAGING_BACKLOG_BYTES));
  } finally {
    conn.close();
  }
}

function sumOf(list: KeyCounts[]): KeyCounts {
  const total = emptyCounts();
  for (const c of list) addCounts(total, c);
  return total;
}

