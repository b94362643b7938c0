// The migrations the host is running: started in the background, each with its own AbortController
// and event bus, waited for, paused (stopped with the checkpoint kept), resumed and cancelled. A live
// run (`ferry run --live`) follows its sources until paused or cancelled, and can be cut over.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import type { AppEvent, CallOutput, RunSummary } from '../../shared/api.js';
import { emptyCounts, type EngineEvent } from '../../shared/events.js';
import type { Job } from '../../shared/job.js';
import { EventBus } from '../engine/events/eventBus.js';
import type { LoadedJob } from '../engine/job/loadJob.js';
import { cutover, CutoverError } from '../engine/live/cutover.js';
import { LIVE_CHECKPOINT_FILE, runLive } from '../engine/live/liveRun.js';
import { loadCheckpoint, selectionHash } from '../engine/run/checkpoint.js';
import { ResumeError, runMigration } from '../engine/run/migration.js';
import { refuseUnsupported } from '../engine/run/openEndpoints.js';
import { abortable } from './abortable.js';
import { BadInputError, CancelledError, errorCodeOf } from './errors.js';

type Summary = z.output<typeof RunSummary>;
type CutoverOutput = CallOutput<'run.cutover'>;

export interface RunRegistryDeps {
  load(yaml: string): LoadedJob;
  stateDirOf(job: Job): string;
  emit(event: AppEvent): void;
}

export interface StartRunOptions {
  resume: boolean;
  /** Follow the sources' replication streams until stopped (runLive) instead of copying once. */
  live: boolean;
  acceptNewHostKeys: boolean;
}

export interface CutoverRunOptions {
  timeoutMs?: number;
  pauseWritesMs?: number;
  ttlToleranceMs: number;
  /** Cancels the cut-over (the live run goes on). */
  signal: AbortSignal;
  /** The cut-over's own events (its verify's progress and differences). */
  onEvent(event: EngineEvent): void;
}

interface RunRecord {
  runId: string;
  jobName: string;
  /** Kept to resume: read again then, so a secret fixed in the meantime is used. */
  yaml: string;
  acceptNewHostKeys: boolean;
  live: boolean;
  /** A cut-over of this (live) run is under way. */
  cuttingOver: boolean;
  controller: AbortController;
  /** Rejects when the user must act before the run can go (e.g. a tunnel's host key is unknown). */
  ended: Promise<Summary>;
  running: boolean;
  outcome?: Summary['outcome'];
  cancelled: boolean;
}

/** Ended runs remembered for run.wait and run.resume; older ones are forgotten. */
const ENDED_KEPT = 100;

export class RunRegistry {
  private readonly runs = new Map<string, RunRecord>();

  constructor(private readonly deps: RunRegistryDeps) {}

  /** Starts a run and returns its id at once; refuses a second run of a job that is running. */
  start(yaml: string, opts: StartRunOptions): string {
    const loaded = this.deps.load(yaml);
    const { job } = loaded;
    const busy = [...this.runs.values()].find((r) => r.running && r.jobName === job.name);
    if (busy) throw new BadInputError(`job ${job.name} is already running (run ${busy.runId}); wait for it, pause it or cancel it first`);
    // Refused here rather than by the engine in the background, so run.start itself says why.
    refuseUnsupported(job);
    if (opts.live) refuseUnfollowable(job);
    const stateDir = this.deps.stateDirOf(job);
    if (opts.resume) (opts.live ? refuseUnresumableLive : refuseUnresumable)(job, stateDir);

    const runId = `run-${crypto.randomUUID()}`;
    const controller = new AbortController();
    const bus = new EventBus();
    bus.on((event) => this.deps.emit({ kind: 'run', op: runId, event }));
    const startedAt = Date.now();
    const runOpts = { resume: opts.resume, stateDir, signal: controller.signal, tunnels: { acceptNewHostKeys: opts.acceptNewHostKeys } };
    const ended = (opts.live ? runLive(loaded, runOpts, bus) : runMigration(loaded, runOpts, bus)).then(
      (result): Summary => ({ runId, ...result }),
      (err: unknown): Summary => {
        // The engine sent no run-finished: listeners learn the end from this one.
        const message = err instanceof Error ? err.message : String(err);
        bus.emit({ type: 'run-finished', outcome: 'failed', counts: emptyCounts(), perSource: {}, elapsedMs: Date.now() - startedAt, message, at: Date.now() });
        // What the user must act on (an unknown host key, a job to fix) reaches run.wait as that error;
        // anything else is a failed run like one the engine reports itself.
        if (errorCodeOf(err) !== 'failed') throw err;
        return { runId, outcome: 'failed', counts: emptyCounts(), perSource: {}, message };
      },
    );
    const record: RunRecord = {
      runId,
      jobName: job.name,
      yaml,
      acceptNewHostKeys: opts.acceptNewHostKeys,
      live: opts.live,
      cuttingOver: false,
      controller,
      ended,
      running: true,
      cancelled: false,
    };
    ended.then(
      (summary) => this.settle(record, summary.outcome),
      () => this.settle(record, 'failed'),
    );
    this.runs.set(runId, record);
    return runId;
  }

  /** The run's summary when it ends; the signal gives up waiting (the run goes on). */
  wait(runId: string, signal: AbortSignal): Promise<Summary> {
    return abortable(this.get(runId).ended, signal);
  }

  /**
   * Stops after the keys in flight; the checkpoint is saved. Resolves when the run has stopped. A
   * live run stops following its sources, each node's replication offset saved.
   */
  async pause(runId: string): Promise<void> {
    const record = this.get(runId);
    record.controller.abort();
    await record.ended.catch(() => undefined);
  }

  /** A new run of the same job from the paused (or failed) run's checkpoint; a live run goes on live (`--live --resume`). */
  resume(runId: string): string {
    const record = this.get(runId);
    if (record.running) throw new BadInputError(`run ${runId} is still running; pause it first`);
    if (record.outcome === 'done') throw new BadInputError(`run ${runId} finished; there is nothing to resume`);
    return this.start(record.yaml, { resume: true, live: record.live, acceptNewHostKeys: record.acceptNewHostKeys });
  }

  /**
   * The guided cut-over of a running live run: waits for lag 0 on every source node, then verifies
   * (its events go to `onEvent`). The live run goes on whatever the verdict.
   */
  async cutover(runId: string, opts: CutoverRunOptions): Promise<CutoverOutput> {
    const record = this.get(runId);
    if (!record.live) throw new BadInputError(`run ${runId} is not a live run: only a live run (run.start with live) can be cut over; check a finished copy with verify.run`);
    if (!record.running) throw new BadInputError(`run ${runId} is not running any more; resume it (live) and let it catch up before cutting over`);
    if (record.cuttingOver) throw new BadInputError(`run ${runId} is already being cut over; wait for that cut-over's verdict, or cancel it`);
    const loaded = this.deps.load(record.yaml);
    const bus = new EventBus();
    bus.on(opts.onEvent);
    record.cuttingOver = true;
    try {
      const result = await cutover(
        loaded,
        {
          stateDir: this.deps.stateDirOf(loaded.job),
          timeoutMs: opts.timeoutMs,
          pauseWritesMs: opts.pauseWritesMs,
          ttlToleranceMs: opts.ttlToleranceMs,
          tunnels: { acceptNewHostKeys: record.acceptNewHostKeys },
          signal: opts.signal,
        },
        bus,
      );
      // A cancelled cut-over ends early with partial counts: not a verdict to show as one.
      if (opts.signal.aborted) throw new CancelledError('cut-over cancelled');
      return { safe: result.safe, reason: result.reason ?? null, nodes: result.nodes, verify: result.verify ?? null };
    } catch (err) {
      // The live run has not written its first status yet (still staging or connecting).
      if (err instanceof CutoverError) {
        throw new BadInputError(
          record.running
            ? `run ${runId} is not following its sources yet (it has written no live status: still staging or connecting); wait until its nodes stream, then cut over again`
            : `run ${runId} stopped before the cut-over could begin; resume it (live), let it catch up, then cut over again`,
        );
      }
      throw err;
    } finally {
      record.cuttingOver = false;
    }
  }

  /** Stops the run and forgets it once it has stopped (its checkpoint stays on disk). */
  async cancel(runId: string): Promise<void> {
    const record = this.get(runId);
    record.cancelled = true;
    if (!record.running) this.runs.delete(runId);
    record.controller.abort();
    await record.ended.catch(() => undefined);
  }

  /** Stops every run (the host is shutting down); resolves when all have stopped. */
  async stopAll(): Promise<void> {
    const running = [...this.runs.values()].filter((r) => r.running);
    for (const r of running) r.controller.abort();
    await Promise.all(running.map((r) => r.ended.catch(() => undefined)));
  }

  private settle(record: RunRecord, outcome: Summary['outcome']): void {
    record.running = false;
    record.outcome = outcome;
    if (record.cancelled) this.runs.delete(record.runId);
    this.forgetOldRuns();
  }

  private get(runId: string): RunRecord {
    const record = this.runs.get(runId);
    if (!record) throw new BadInputError(`there is no run ${runId} (it was cancelled, or the host restarted); start the job again`);
    return record;
  }

  private forgetOldRuns(): void {
    const ended = [...this.runs.values()].filter((r) => !r.running);
    for (const r of ended.slice(0, Math.max(0, ended.length - ENDED_KEPT))) this.runs.delete(r.runId);
  }
}

/** An RDB file has no changes to follow (runLive refuses it too, but only in the background). */
function refuseUnfollowable(job: Job): void {
  const problems = job.sources.flatMap((s, i) => (s.rdb !== undefined ? [`sources[${i}].rdb: an RDB file has no changes to follow; run this job without live`] : []));
  if (problems.length > 0) throw new BadInputError(`job ${job.name} cannot run live: ${problems.join('; ')}`);
}

/** A live resume goes on from the live checkpoint (each node's replid and offset), not the copy's. */
function refuseUnresumableLive(job: Job, stateDir: string): void {
  const file = path.join(stateDir, LIVE_CHECKPOINT_FILE);
  let saved: { selection?: unknown } | null = null;
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { selection?: unknown };
  } catch {
    saved = null;
  }
  if (!saved) throw new ResumeError(`job ${job.name}: there is no live checkpoint to resume; run it live without resume`);
  if (saved.selection !== selectionHash(job)) {
    throw new ResumeError(`job ${job.name}: its sources, target, dbs or filters changed since the live checkpoint was written; run it live without resume, to start again`);
  }
}

/** The engine refuses these too, but only once the run is under way in the background. */
function refuseUnresumable(job: Job, stateDir: string): void {
  const saved = loadCheckpoint(stateDir);
  if (!saved) throw new ResumeError(`job ${job.name}: there is no checkpoint to resume; start it without resume`);
  if (saved.selection !== selectionHash(job)) {
    throw new ResumeError(`job ${job.name}: its sources, target, dbs or filters changed since the checkpoint was written; a resume would copy something else. Start it without resume`);
  }
}
