import type { EngineEvent } from '../../shared/events.js';
import { EventBus } from '../engine/events/eventBus.js';
import type { LoadedJob } from '../engine/job/loadJob.js';
import { runMigration } from '../engine/run/migration.js';
import { runLive } from '../engine/live/liveRun.js';
import { cutover } from '../engine/live/cutover.js';
import { describeLive } from './progressView.js';
import { stateDirFor } from '../engine/run/stateDir.js';
import { verifyJob } from '../engine/verify/verifier.js';
import { planJob } from '../engine/plan/planner.js';
import { renderPlanHtml } from '../engine/plan/planHtml.js';
import { hasBlocker } from '../../shared/plan.js';
import { writeFileAtomic } from '../engine/run/stateDir.js';
import { formatPlanSummary } from './planSummary.js';
import type { TunnelChoices } from '../engine/tunnels/tunnelSet.js';
import { ProgressView } from './progressView.js';
import { formatRunSummary, formatVerifySummary } from './summary.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Subscribes the right view: NDJSON events, or progress bars / lines. */
function attachOutput(bus: EventBus, json: boolean, latencyLines = false): ProgressView | null {
  if (json) {
    bus.on((event: EngineEvent) => process.stdout.write(`${JSON.stringify(event)}\n`));
    return null;
  }
  const out = process.stderr.isTTY ? process.stderr : process.stdout;
  const view = new ProgressView(out, Boolean(out.isTTY), latencyLines);
  bus.on((event) => view.handle(event));
  return view;
}

/** First Ctrl-C stops cleanly (checkpoint saved); a second one leaves at once. */
function interruptible(): AbortController {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nStopping after the keys in flight (Ctrl-C again to quit now)...\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller;
}

export interface RunCommandOptions {
  /** Follow the sources' replication streams until stopped (ferry run --live). */
  live?: boolean;
  resume: boolean;
  json: boolean;
  /** Print each endpoint's latency once a second (ferry run --latency). */
  latency?: boolean;
  stateDir?: string;
  tunnels?: TunnelChoices;
}

/** `ferry run`: migrates, shows progress, prints the summary; returns the exit code. */
export async function runCommand(loaded: LoadedJob, opts: RunCommandOptions): Promise<number> {
  const stateDir = stateDirFor(loaded.job.name, loaded.path, opts.stateDir);
  const bus = new EventBus();
  const view = attachOutput(bus, opts.json, opts.latency);
  const started = Date.now();
  const runOpts = { resume: opts.resume, stateDir, signal: interruptible().signal, tunnels: opts.tunnels };
  const result = opts.live ? await runLive(loaded, runOpts, bus) : await runMigration(loaded, runOpts, bus);
  view?.finish();
  if (!opts.json) {
    process.stdout.write(`${formatRunSummary(result, Date.now() - started)}\n`);
    if (opts.live && result.message) process.stdout.write(`${result.message}\n`);
    if (result.outcome !== 'done' && loaded.path) process.stdout.write(`To continue: ${resumeCommand(loaded.path, opts.stateDir, opts.live)}\n`);
  }
  // A live run ends when it is told to: stopped is its success.
  return result.outcome === 'done' || (opts.live && result.outcome === 'stopped') ? EXIT_OK : EXIT_FAILED;
}

/** The command that resumes this run, as the user would type it. */
function resumeCommand(jobPath: string, stateDir: string | undefined, live = false): string {
  const quote = (s: string) => (/^[\w./:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return `ferry run ${quote(jobPath)}${live ? ' --live' : ''} --resume${stateDir ? ` --state-dir ${quote(stateDir)}` : ''}`;
}

export interface CutoverCommandOptions {
  json: boolean;
  timeoutMs: number;
  pauseWritesMs?: number;
  ttlToleranceMs: number;
  stateDir?: string;
  tunnels?: TunnelChoices;
}

/** `ferry cutover`: waits for lag 0 on every source, verifies, says whether it is safe to switch. */
export async function cutoverCommand(loaded: LoadedJob, opts: CutoverCommandOptions): Promise<number> {
  const stateDir = stateDirFor(loaded.job.name, loaded.path, opts.stateDir);
  const bus = new EventBus();
  const view = attachOutput(bus, opts.json);
  const started = Date.now();
  let lastWait = 0;
  const result = await cutover(
    loaded,
    {
      stateDir,
      timeoutMs: opts.timeoutMs,
      pauseWritesMs: opts.pauseWritesMs,
      ttlToleranceMs: opts.ttlToleranceMs,
      tunnels: opts.tunnels,
      signal: interruptible().signal,
      onWaiting: (behind) => {
        if (opts.json || Date.now() - lastWait < 2000) return;
        lastWait = Date.now();
        process.stderr.write(`waiting for lag 0: ${behind.map(describeLive).join('; ')}\n`);
      },
    },
    bus,
  );
  view?.finish();
  if (opts.json) process.stdout.write(`${JSON.stringify({ type: 'cutover', safe: result.safe, reason: result.reason ?? null, repaired: result.repaired ?? null, nodes: result.nodes })}\n`);
  else {
    if (result.verify) process.stdout.write(`${formatVerifySummary(result.verify, Date.now() - started)}\n`);
    if (result.repaired !== undefined) process.stdout.write(`Repaired: ${result.repaired} key(s) that differed were copied again from their source and checked (a source followed by keyspace notifications).\n`);
    process.stdout.write(result.safe ? `Safe to switch: every source's stream is applied (lag 0) and the target equals the sources.\n` : `NOT safe to switch: ${result.reason}\n`);
  }
  return result.safe ? EXIT_OK : EXIT_FAILED;
}

export interface VerifyCommandOptions {
  json: boolean;
  ttlToleranceMs: number;
  stateDir?: string;
  tunnels?: TunnelChoices;
}

/** `ferry verify`: compares, prints the summary and first differences; returns the exit code. */
export async function verifyCommand(loaded: LoadedJob, opts: VerifyCommandOptions): Promise<number> {
  const stateDir = stateDirFor(loaded.job.name, loaded.path, opts.stateDir);
  const bus = new EventBus();
  const view = attachOutput(bus, opts.json);
  const started = Date.now();
  const result = await verifyJob(loaded, { stateDir, ttlToleranceMs: opts.ttlToleranceMs, tunnels: opts.tunnels }, bus);
  view?.finish();
  if (!opts.json) process.stdout.write(`${formatVerifySummary(result, Date.now() - started)}\n`);
  const d = result.differences;
  return d.missing + d.type + d.value + d.ttl === 0 ? EXIT_OK : EXIT_FAILED;
}

export interface PlanCommandOptions {
  jsonFile?: string;
  htmlFile?: string;
  sample: number | null;
  tunnels?: TunnelChoices;
}

/** `ferry plan`: the dry run; writes the plan document as JSON / HTML, prints the summary. */
export async function planCommand(loaded: LoadedJob, opts: PlanCommandOptions): Promise<number> {
  process.stderr.write(`Planning job ${loaded.job.name}${opts.sample ? ` (a sample of ${opts.sample} keys per source db)` : ''}: reading every endpoint, writing nothing...\n`);
  // Staging syncs and tunnel changes can take a while: shown on stderr, the summary goes to stdout.
  const view = new ProgressView(process.stderr, Boolean(process.stderr.isTTY));
  const plan = await planJob(loaded, { sample: opts.sample, tunnels: opts.tunnels, stateDir: stateDirFor(loaded.job.name, loaded.path), onEvent: (e) => view.handle(e) });
  view.finish();
  if (opts.jsonFile) writeFileAtomic(opts.jsonFile, `${JSON.stringify(plan, null, 2)}\n`);
  if (opts.htmlFile) writeFileAtomic(opts.htmlFile, renderPlanHtml(plan));
  process.stdout.write(`${formatPlanSummary(plan)}\n`);
  for (const [what, file] of [['JSON', opts.jsonFile], ['HTML', opts.htmlFile]] as const) if (file) process.stdout.write(`Plan ${what} written to ${file}\n`);
  return hasBlocker(plan) ? EXIT_FAILED : EXIT_OK;
}
