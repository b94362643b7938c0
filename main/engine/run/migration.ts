import path from 'node:path';
import { addCounts, emptyCounts, type KeyCounts } from '../../../shared/events.js';
import { redactUrl, type Job } from '../../../shared/job.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { EventBus } from '../events/eventBus.js';
import { KeyFilter } from '../filters/keyFilter.js';
import type { LoadedJob } from '../job/loadJob.js';
import { ConflictJournal, SKIP_JOURNAL_FILE } from '../writers/conflictJournal.js';
import type { WritePolicy } from '../writers/writePolicy.js';
import { loadCheckpoint, newCheckpoint, saveCheckpoint, selectionHash, type Checkpoint } from './checkpoint.js';
import { RateMeter } from './rateMeter.js';
import { listShards, SourceCopy } from './sourceCopy.js';
import { RdbFileSource } from '../sources/rdbFileSource.js';
import type { RdbSourceFile } from '../sources/rdbFile.js';
import { writeFileAtomic } from './stateDir.js';
import { describeKey } from './describeKey.js';
import { runLimited } from './runLimited.js';
import { openEndpoints, refuseUnsupported, UnsupportedError, type EndpointPaths } from './openEndpoints.js';
import { StagingSet } from '../staging/stagingSet.js';
import { verifyJob } from '../verify/verifier.js';
import { atLeast } from '../endpoints/serverFacts.js';
import type { LatencySummary } from '../../../shared/events.js';
import type { LatencyProbes } from '../pacing/latencyProbe.js';
import type { Pace } from '../pacing/pace.js';
import { runPacing } from '../pacing/runPacing.js';
import { TunnelSet, tunnelOptions, type TunnelChoices } from '../tunnels/tunnelSet.js';
import { TunnelError } from '../tunnels/sshTunnel.js';

export interface RunOptions {
  resume: boolean;
  stateDir: string;
  signal?: AbortSignal;
  /** How often progress events go out (ms). */
  progressEveryMs?: number;
  /** How often the checkpoint is saved (ms). */
  checkpointEveryMs?: number;
  /** SSH tunnels: host-key acceptance, Ferry's known_hosts, ssh config (tests point these at temp files). */
  tunnels?: TunnelChoices;
  /** How long a run waits for lost endpoints to answer again before it fails (default 10 min). */
  reconnectGiveUpMs?: number;
}

export type RunOutcome = 'done' | 'failed' | 'stopped';

export interface RunResult {
  outcome: RunOutcome;
  counts: KeyCounts;
  perSource: Record<string, KeyCounts>;
  message?: string;
  /** Per endpoint, what the latency probes saw (absent when they measured nothing). */
  latency?: LatencySummary[];
  /** The verify a run does itself (against staging copies, before they go). */
  verified?: { compared: number; differences: number };
}

/** Big keys listed one by one in warnings; past this they are only counted. */
const BIG_KEY_WARNINGS = 20;

export const RUN_REPORT_FILE = 'run-report.json';

/** A job that cannot be resumed as asked: bad input, exit 2. */
export class ResumeError extends Error {}

/**
 * Copies every selected key of every source into the target: the snapshot migration. Sources run
 * in parallel (`options.parallel.sources`); the checkpoint is saved every second so `resume`
 * continues where a killed run stopped.
 */
export async function runMigration(loaded: LoadedJob, opts: RunOptions, bus: EventBus): Promise<RunResult> {
  const { job } = loaded;
  refuseUnsupported(job);
  const startedAt = Date.now();
  let checkpoint: Checkpoint;
  if (opts.resume) {
    const saved = loadCheckpoint(opts.stateDir);
    if (!saved) throw new ResumeError(`job ${job.name}: there is no checkpoint to resume in ${opts.stateDir}; run it without --resume`);
    if (saved.selection !== selectionHash(job)) {
      throw new ResumeError(`job ${job.name}: its sources, target, dbs or filters changed since the checkpoint was written; a resume would copy something else. Run it without --resume to start again`);
    }
    if (saved.finished) {
      return { outcome: 'done', counts: sumCounts(saved), perSource: perSourceCounts(saved), message: `job ${job.name} already finished; nothing to resume` };
    }
    checkpoint = saved;
  } else {
    checkpoint = newCheckpoint(job);
  }

  const tunnels = await TunnelSet.forJob(job, tunnelOptions(opts.tunnels, bus));
  let staging: StagingSet | null = null;
  try {
    staging = await StagingSet.start(job, { root: path.join(opts.stateDir, 'staging'), tunnels, emit: (e) => bus.emit(e), signal: opts.signal });
  } catch (err) {
    tunnels?.close();
    throw err;
  }
  if (opts.resume) restartStaged(checkpoint, staging, bus);
  const paths: EndpointPaths = { tunnels, staging };
  const { pace, probes } = runPacing(job, bus);
  try {
    const shared = { paths, probes, pace, probesStarted: false };
    if (opts.resume) resetErrors(checkpoint);
    let attempt = await copyOnce(loaded, checkpoint, opts, bus, shared);
    // The probes go on through reconnects (they retry by themselves): started once.
    shared.probesStarted = true;
    while (attempt.connectionLost && !opts.signal?.aborted) {
      // A dropped VPN or tunnel: wait until every endpoint answers again, then go on from the checkpoint.
      const givenUp = await waitForEndpoints(job, paths, attempt.result.message ?? 'a connection was lost', opts, bus);
      if (givenUp) {
        attempt.result.message = givenUp;
        break;
      }
      resetErrors(checkpoint);
      attempt = await copyOnce(loaded, checkpoint, { ...opts, resume: true }, bus, shared);
    }
    const { result } = attempt;
    if (result.outcome === 'done' && staging.size > 0) await verifyFrozenCopies(loaded, opts, paths, result, bus);
    await probes.stop();
    const latency = probes.summary().filter((l) => l.seconds > 0);
    if (latency.length > 0) result.latency = latency;
    writeFileAtomic(path.join(opts.stateDir, RUN_REPORT_FILE), `${JSON.stringify({ job: job.name, startedAt, finishedAt: Date.now(), ...result }, null, 2)}\n`);
    bus.emit({ type: 'run-finished', ...result, elapsedMs: Date.now() - startedAt, at: Date.now() });
    return result;
  } finally {
    await probes.stop();
    await staging.stop(job.options.keepStaging);
    if (job.options.keepStaging && staging.size > 0) bus.emit({ type: 'warning', message: `staging files kept (keepStaging): ${staging.dirs.join(', ')}`, at: Date.now() });
    tunnels?.close();
  }
}

/**
 * A staged source is read from a frozen copy that exists only during the run, so the run verifies
 * against it before the copy goes: afterwards the live source has moved on.
 */
async function verifyFrozenCopies(loaded: LoadedJob, opts: RunOptions, paths: EndpointPaths, result: RunResult, bus: EventBus): Promise<void> {
  const check = await verifyJob(loaded, { stateDir: opts.stateDir, ttlToleranceMs: 1000, paths, signal: opts.signal }, bus);
  const d = check.differences;
  const differences = d.missing + d.type + d.value + d.ttl;
  result.verified = { compared: check.compared, differences };
  if (differences > 0) {
    result.outcome = 'failed';
    result.message = `verify against the staging copies found ${differences} difference(s) (missing ${d.missing}, type ${d.type}, value ${d.value}, ttl ${d.ttl}); see the differences above`;
  }
}

/**
 * A resumed run syncs its staging copies anew: a new snapshot, where the old SCAN cursors mean
 * nothing. Staged sources start over; keys already on the target count as unchanged.
 */
function restartStaged(checkpoint: Checkpoint, staging: StagingSet, bus: EventBus): void {
  for (const [name, saved] of Object.entries(checkpoint.sources)) {
    if (!staging.has(name)) continue;
    const done = Object.values(saved.shards).some((s) => s.cursor !== '0' || s.complete);
    checkpoint.sources[name] = { shards: {}, counts: emptyCounts() };
    if (done) bus.emit({ type: 'warning', source: name, message: `source ${name} is staged: the resumed run reads a fresh copy, so it goes over every key again (keys already copied count as unchanged)`, at: Date.now() });
  }
}

/** What one pass over the sources ended with; `connectionLost`: a connection dropped, so another pass may finish it. */
interface Attempt {
  result: RunResult;
  connectionLost: boolean;
}

/** One pass: opens the endpoints, copies from the checkpoint on, saves the checkpoint, closes the endpoints. */
async function copyOnce(
  loaded: LoadedJob,
  checkpoint: Checkpoint,
  opts: RunOptions,
  bus: EventBus,
  { paths, probes, pace, probesStarted }: { paths: EndpointPaths; probes: LatencyProbes; pace: Pace; probesStarted: boolean },
): Promise<Attempt> {
  const { job } = loaded;
  const { sources, files, target } = await openEndpoints(job, paths);
  try {
    refuseSilentLoss(job, sources, target);
    if (opts.resume) refuseChangedFiles(job, files, checkpoint);
  } catch (err) {
    for (const source of sources.values()) source.close();
    target.close();
    throw err;
  }
  const journal = new ConflictJournal(path.join(opts.stateDir, SKIP_JOURNAL_FILE), { append: opts.resume });
  const filter = new KeyFilter(job.options);
  const policy: WritePolicy = { onConflict: job.options.onConflict, keepTtl: job.options.ttl.keep, extendMs: job.options.ttl.extendMs };
  let failure: string | undefined;
  let bigKeys = 0;
  const lastBigKeyEvent = new Map<string, number>();
  const copies: Array<SourceCopy | RdbFileSource> = [];
  const stopAll = () => copies.forEach((c) => c.stop());
  const fail = (err: Error | string) => {
    failure ??= typeof err === 'string' ? err : err.message;
    stopAll();
  };
  const onAbort = () => stopAll();
  opts.signal?.addEventListener('abort', onAbort);

  let timers: NodeJS.Timeout[] = [];
  try {
    if (!probesStarted) await probes.start([{ name: 'target', endpoint: target }, ...[...sources].map(([name, endpoint]) => ({ name, endpoint }))]);
    for (const { name, rdb } of job.sources) {
      const saved = checkpoint.sources[name];
      const hooks = {
        onSkipped: (entry: { db: number; key: Buffer }, targetDb: number) => journal.record(name, entry.db, targetDb, entry.key),
        onBigKey: (entry: { db: number; key: Buffer; type: string; bytes: number; elements: number }) => {
          if (++bigKeys > BIG_KEY_WARNINGS) return;
          bus.emit({
            type: 'warning',
            source: name,
            message:
              `${describeKey(entry.key)} (db ${entry.db}, ${entry.type}, ${formatMb(entry.bytes)}${entry.type === 'string' ? '' : `, ${entry.elements.toLocaleString('en-US')} elements`}) is a big key: ` +
              'it is copied in windows into a temporary key and appears at once when complete' +
              (bigKeys === BIG_KEY_WARNINGS ? ' (further big keys are counted, not listed)' : ''),
            at: Date.now(),
          });
        },
        onBigKeyProgress: (entry: { db: number; key: Buffer; type: string }, done: number, total: number) => {
          // A few a second per key, and the last one: enough for a progress bar.
          const now = Date.now();
          const key = entry.key.toString('hex');
          if (done < total && now - (lastBigKeyEvent.get(key) ?? 0) < 250) return;
          lastBigKeyEvent.set(key, now);
          if (done >= total) lastBigKeyEvent.delete(key);
          bus.emit({ type: 'big-key-progress', source: name, db: entry.db, keyHex: key, keyType: entry.type, done, total, unit: entry.type === 'string' ? 'bytes' : 'elements', at: now });
        },
        onConflict: (entry: { db: number; key: Buffer }, targetDb: number) =>
          fail(
            `${describeKey(entry.key)} (db ${entry.db}) from source ${name} already exists on the target (db ${targetDb}) with a different value, and onConflict is fail. ` +
              `Set options.onConflict to skip or replace, or delete the key on the target, then run again with --resume`,
          ),
        onKeyError: (db: number, key: Buffer, message: string) => bus.emit({ type: 'key-error', source: name, db, keyHex: key.toString('hex'), message, at: Date.now() }),
        onWarning: (message: string) => bus.emit({ type: 'warning', source: name, message, at: Date.now() }),
        onFatal: (err: Error) => fail(err),
      };
      if (rdb !== undefined) {
        // An RDB file: read in file order; it opens the target dbs it needs as it meets them.
        copies.push(new RdbFileSource(name, files.get(name)!, target, job, filter, policy, saved, hooks, pace));
        continue;
      }
      const source = sources.get(name)!;
      const shards = await listShards(source);
      if (!source.isCluster) await source.useDbs(shards.map((s) => s.db));
      const copy: SourceCopy = new SourceCopy(name, source, target, job, filter, policy, shards, saved.shards, saved.counts, hooks, pace);
      await target.useDbs(new Set(shards.map((s) => copy.targetDbOf(s.db))));
      copies.push(copy);
    }

    bus.emit({ type: 'run-started', job: job.name, resumed: opts.resume, sources: job.sources.map((s) => s.name), target: redactUrl(job.target.url), at: Date.now() });
    for (const copy of copies) bus.emit({ type: 'source-stage', source: copy.name, stage: 'queued', at: Date.now() });
    const meters = new Map(copies.map((c) => [c.name, new RateMeter()]));
    const emitProgress = (copy: SourceCopy | RdbFileSource) => {
      const meter = meters.get(copy.name)!;
      meter.sample(copy.counts.scanned, copy.counts.bytes);
      const { keysPerSec, bytesPerSec } = meter.rates;
      const total = copy.total;
      const left = Math.max(0, total - copy.counts.scanned);
      bus.emit({
        type: 'progress',
        source: copy.name,
        counts: { ...copy.counts },
        total,
        keysPerSec,
        bytesPerSec,
        etaMs: left === 0 ? 0 : keysPerSec > 0 ? (left / keysPerSec) * 1000 : null,
        at: Date.now(),
      });
    };
    const save = () => {
      for (const copy of copies) checkpoint.sources[copy.name] = copy.checkpointState();
      saveCheckpoint(opts.stateDir, checkpoint);
    };
    save();
    timers = [setInterval(save, opts.checkpointEveryMs ?? 1000), setInterval(() => copies.forEach(emitProgress), opts.progressEveryMs ?? 500)];

    await runLimited(copies, job.options.parallel.sources, async (copy) => {
      bus.emit({ type: 'source-stage', source: copy.name, stage: 'copying', at: Date.now() });
      try {
        await copy.run();
        await target.drain();
      } catch (err) {
        fail(err as Error);
      }
      emitProgress(copy);
      const stage = failure ? 'failed' : opts.signal?.aborted ? 'stopped' : 'done';
      bus.emit({ type: 'source-stage', source: copy.name, stage, at: Date.now() });
    });
    timers.forEach(clearInterval);
    await target.drain().catch(() => undefined);
    if (bigKeys > BIG_KEY_WARNINGS) bus.emit({ type: 'warning', message: `${bigKeys} big keys in all (at or above options.bigKey.bytes)`, at: Date.now() });
    const errors = copies.reduce((n, c) => n + c.counts.errors, 0);
    if (!failure && errors > 0) failure = `${errors} key(s) could not be copied; see the key errors above`;
    const outcome: RunOutcome = failure ? 'failed' : opts.signal?.aborted ? 'stopped' : 'done';
    checkpoint.finished = outcome === 'done';
    save();
    const result: RunResult = {
      outcome,
      counts: sumCounts(checkpoint),
      perSource: perSourceCounts(checkpoint),
      message: failure ?? (outcome === 'stopped' ? 'stopped on request; the checkpoint is saved, a resumed run continues from it' : undefined),
    };
    // A dropped connection (not one Ferry closed) makes the failure worth another pass.
    const connectionLost = outcome === 'failed' && [target, ...sources.values()].some((e) => e.connectionLost);
    return { result, connectionLost };
  } finally {
    timers.forEach(clearInterval);
    opts.signal?.removeEventListener('abort', onAbort);
    await journal.close();
    for (const source of sources.values()) source.close();
    target.close();
  }
}

/**
 * A resumed run skips the keys its checkpoint says are settled, by their place in the file: refused
 * when the file is not the one the checkpoint was written for (another size or modification time).
 */
function refuseChangedFiles(job: Job, files: Map<string, RdbSourceFile>, checkpoint: Checkpoint): void {
  for (const [name, file] of files) {
    const saved = checkpoint.sources[name]?.file;
    if (!saved || (saved.size === file.size && saved.mtimeMs === file.mtimeMs)) continue;
    throw new ResumeError(
      `job ${job.name}: source ${name}: the RDB file ${file.path} changed since the checkpoint was written ` +
        `(${saved.size} bytes, modified ${new Date(saved.mtimeMs).toISOString()}; now ${file.size} bytes, modified ${new Date(file.mtimeMs).toISOString()}), ` +
        'so the keys the checkpoint counts as copied are not known. Run it without --resume to start again',
    );
  }
}

/** A pass redoes the pages where keys failed, so their errors are counted again if they fail again. */
function resetErrors(checkpoint: Checkpoint): void {
  for (const source of Object.values(checkpoint.sources)) source.counts.errors = 0;
}

const RECONNECT_DELAYS_MS = [1000, 2000, 4000, 8000, 15_000, 30_000];

/**
 * Waits until the target and every source can be opened again (tunnels reconnect by themselves).
 * Returns null when they can, or why it gave up: a permanent problem, or the time limit.
 */
export async function waitForEndpoints(job: Job, paths: EndpointPaths, reason: string, opts: RunOptions, bus: EventBus): Promise<string | null> {
  const giveUpMs = opts.reconnectGiveUpMs ?? 10 * 60_000;
  const giveUpAt = Date.now() + giveUpMs;
  bus.emit({ type: 'warning', message: `${reason}; Ferry reconnects and continues from the checkpoint (for up to ${Math.round(giveUpMs / 1000)} s)`, at: Date.now() });
  for (const s of job.sources) bus.emit({ type: 'source-stage', source: s.name, stage: 'reconnecting', message: reason, at: Date.now() });
  for (let attempt = 0; ; attempt++) {
    await sleep(RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)], opts.signal);
    if (opts.signal?.aborted) return null;
    try {
      const { sources, target } = await openEndpoints(job, paths);
      for (const e of [target, ...sources.values()]) e.close();
      return null;
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof TunnelError && err.permanent) return message;
      if (Date.now() >= giveUpAt) return `${message}\n(gave up reconnecting after ${Math.round(giveUpMs / 1000)} s; the checkpoint is saved: run again with --resume)`;
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}

function formatMb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * A source whose hash fields have their own TTLs (Redis 7.4+) cannot be copied exactly into an
 * older target: refused unless the job accepts that loss (options.acceptLoss).
 */
function refuseSilentLoss(job: Job, sources: Map<string, Endpoint>, target: Endpoint): void {
  if (atLeast(target.facts, 7, 4) || job.options.acceptLoss.includes('hash-field-ttls')) return;
  for (const [name, source] of sources) {
    const keys = source.facts.fieldTtlKeys ?? 0;
    if (keys > 0) {
      throw new UnsupportedError(
        `source ${name}: ${keys} key(s) hold hash fields with their own TTLs, which the target (Redis ${target.facts.version}) cannot keep; ` +
          'use a target of 7.4 or newer, or accept the loss with options.acceptLoss: [hash-field-ttls] (ferry plan shows the details)',
      );
    }
  }
}

function sumCounts(checkpoint: Checkpoint): KeyCounts {
  const total = emptyCounts();
  for (const s of Object.values(checkpoint.sources)) addCounts(total, s.counts);
  return total;
}

function perSourceCounts(checkpoint: Checkpoint): Record<string, KeyCounts> {
  return Object.fromEntries(Object.entries(checkpoint.sources).map(([name, s]) => [name, s.counts]));
}

export type { Job };
