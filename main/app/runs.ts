// The migrations the host is running: started in the background, each with its own AbortController
// and event bus, waited for, paused (stopped with the checkpoint kept), resumed and cancelled.
import crypto from 'node:crypto';
import type { z } from 'zod';
import type { AppEvent, RunSummary } from '../../shared/api.js';
import { emptyCounts } from '../../shared/events.js';
import type { Job } from '../../shared/job.js';
import { EventBus } from '../engine/events/eventBus.js';
import type { LoadedJob } from '../engine/job/loadJob.js';
import { loadCheckpoint, selectionHash } from '../engine/run/checkpoint.js';
import { ResumeError, runMigration } from '../engine/run/migration.js';
import { refuseUnsupported } from '../engine/run/openEndpoints.js';
import { abortable } from './abortable.js';
import { BadInputError, errorCodeOf } from './errors.js';

type Summary = z.output<typeof RunSummary>;

export interface RunRegistryDeps {
  load(yaml: string): LoadedJob;
  stateDirOf(job: Job): string;
  emit(event: AppEvent): void;
}

export interface StartRunOptions {
  resume: boolean;
  acceptNewHostKeys: boolean;
}

interface RunRecord {
  runId: string;
  jobName: string;
  /** Kept to resume: read again then, so a secret fixed in the meantime is used. */
  yaml: string;
  acceptNewHostKeys: boolean;
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
    const stateDir = this.deps.stateDirOf(job);
    if (opts.resume) refuseUnresumable(job, stateDir);

    const runId = `run-${crypto.randomUUID()}`;
    const controller = new AbortController();
    const bus = new EventBus();
    bus.on((event) => this.deps.emit({ kind: 'run', op: runId, event }));
    const startedAt = Date.now();
    const ended = runMigration(loaded, { resume: opts.resume, stateDir, signal: controller.signal, tunnels: { acceptNewHostKeys: opts.acceptNewHostKeys } }, bus).then(
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
    const record: RunRecord = { runId, jobName: job.name, yaml, acceptNewHostKeys: opts.acceptNewHostKeys, controller, ended, running: true, cancelled: false };
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

  /** Stops after the keys in flight; the checkpoint is saved. Resolves when the run has stopped. */
  async pause(runId: string): Promise<void> {
    const record = this.get(runId);
    record.controller.abort();
    await record.ended.catch(() => undefined);
  }

  /** A new run of the same job from the paused (or failed) run's checkpoint. */
  resume(runId: string): string {
    const record = this.get(runId);
    if (record.running) throw new BadInputError(`run ${runId} is still running; pause it first`);
    if (record.outcome === 'done') throw new BadInputError(`run ${runId} finished; there is nothing to resume`);
    return this.start(record.yaml, { resume: true, acceptNewHostKeys: record.acceptNewHostKeys });
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

/** The engine refuses these too, but only once the run is under way in the background. */
function refuseUnresumable(job: Job, stateDir: string): void {
  const saved = loadCheckpoint(stateDir);
  if (!saved) throw new ResumeError(`job ${job.name}: there is no checkpoint to resume; start it without resume`);
  if (saved.selection !== selectionHash(job)) {
    throw new ResumeError(`job ${job.name}: its sources, target, dbs or filters changed since the checkpoint was written; a resume would copy something else. Start it without resume`);
  }
}
