import type { CallOutput } from '../../../shared/api.js';

type RunSummary = CallOutput<'run.wait'>;
export type CutoverVerdict = CallOutput<'run.cutover'>;
import { emptyCounts, type EngineEventOf, type KeyCounts, type LatencySummary, type ShardStage } from '../../../shared/events.js';
import {
  appendCapped,
  KEEP_KEY_ERRORS,
  KEEP_WARNINGS,
  noticeId,
  percentOf,
  stagingFrom,
  tunnelFrom,
  type Notice,
  type StagingNode,
  type TunnelState,
} from './common.js';
import { addLatency, emptySeries, type LatencySeries } from './latency.js';

/** A source's stage as the UI shows it: the engine's, plus `verifying` while a staged run checks its copy. */
export type RowStage = ShardStage | 'verifying';

export interface SourceRow {
  name: string;
  stage: RowStage;
  message?: string;
  counts: KeyCounts;
  total: number;
  keysPerSec: number;
  bytesPerSec: number;
  etaMs: number | null;
  /** 0-100 of the keys the source held at the start (100 once done). */
  progress: number;
  /** The run's own verify against the staging copy. */
  verify?: { compared: number; differences: number; total: number };
}

export interface KeyErrorEntry {
  id: number;
  source: string;
  db: number;
  keyHex: string;
  message: string;
  at: number;
}

export type RunStatus = 'idle' | 'running' | 'paused' | 'done' | 'failed' | 'stopped';

export type LiveNodeState = EngineEventOf<'live'>;

/**
 * The guided cut-over of a live run (run.cutover): `waiting` for lag 0 on every node, then
 * `verifying` (its verify's events arrive as kind `verify`), then the verdict.
 */
export interface CutoverState {
  status: 'idle' | 'waiting' | 'verifying' | 'safe' | 'unsafe' | 'failed' | 'cancelled';
  startedAt: number | null;
  /** run.cutover's answer. */
  verdict: CutoverVerdict | null;
  /** Why the call failed (not a verdict: the cut-over could not be made). */
  error: string | null;
}

export function initialCutover(): CutoverState {
  return { status: 'idle', startedAt: null, verdict: null, error: null };
}

export interface RunOutcome {
  outcome: 'done' | 'failed' | 'stopped';
  counts: KeyCounts;
  perSource: Record<string, KeyCounts>;
  elapsedMs: number | null;
  message?: string;
  verified?: { compared: number; differences: number };
  latency?: LatencySummary[];
}

export interface RunState {
  runId: string | null;
  /** Run ids that are over (paused, replaced): their late events are dropped. */
  retired: string[];
  status: RunStatus;
  /** The run follows its sources' replication streams until stopped (run.start with live). */
  liveMode: boolean;
  /** A call in flight (the buttons wait for it). */
  pending: 'start' | 'pause' | 'resume' | 'cancel' | null;
  job: string | null;
  target: string | null;
  resumed: boolean;
  startedAt: number | null;
  /** Source names in the order the run listed them (rows select their own entry of `sources`). */
  order: string[];
  sources: Record<string, SourceRow>;
  /** By source, then node. */
  staging: Record<string, Record<string, StagingNode>>;
  /** Live sync (`--live`), by source, then node: the latest event of each. */
  live: Record<string, Record<string, LiveNodeState>>;
  cutover: CutoverState;
  tunnels: Record<string, TunnelState>;
  bigKeyWarnings: Notice[];
  /** Big keys being copied in windows, by `source db keyHex`; a finished one stays at 100 %. */
  bigKeyProgress: Record<string, BigKeyProgress>;
  warnings: Notice[];
  keyErrors: KeyErrorEntry[];
  /** Every key error of the run (the list keeps the newest 200). */
  keyErrorCount: number;
  latency: Record<string, LatencySeries>;
  latencyOrder: string[];
  /** options.latencyBudgetMs of the job being run. */
  budgetMs: number;
  outcome: RunOutcome | null;
  error: string | null;
}

export function initialRun(): RunState {
  return {
    runId: null,
    retired: [],
    status: 'idle',
    liveMode: false,
    pending: null,
    job: null,
    target: null,
    resumed: false,
    startedAt: null,
    order: [],
    sources: {},
    staging: {},
    live: {},
    cutover: initialCutover(),
    tunnels: {},
    bigKeyWarnings: [],
    bigKeyProgress: {},
    warnings: [],
    keyErrors: [],
    keyErrorCount: 0,
    latency: {},
    latencyOrder: [],
    budgetMs: 2,
    outcome: null,
    error: null,
  };
}

function newRow(name: string): SourceRow {
  return { name, stage: 'queued', counts: emptyCounts(), total: 0, keysPerSec: 0, bytesPerSec: 0, etaMs: null, progress: 0 };
}

const TERMINAL: ReadonlySet<RowStage> = new Set(['done', 'failed', 'stopped']);

function retire(retired: string[], id: string | null): string[] {
  return id === null || retired.includes(id) ? retired : [...retired.slice(-19), id];
}

// ---------------------------------------------------------------------------
// The user's actions
// ---------------------------------------------------------------------------

/** run.start was called: a fresh run (its id comes with the reply, or with its first event); `live` follows the sources until stopped. */
export function runStarting(run: RunState, budgetMs: number, live = false): RunState {
  return { ...initialRun(), retired: retire(run.retired, run.runId), status: 'running', pending: 'start', budgetMs, liveMode: live };
}

/** run.start or run.resume answered. */
export function runAccepted(run: RunState, runId: string): RunState {
  if (run.runId !== null && run.runId !== runId) return { ...run, runId, retired: retire(run.retired, run.runId), pending: null };
  return { ...run, runId, pending: null };
}

export function runPending(run: RunState, pending: RunState['pending']): RunState {
  return { ...run, pending };
}

/** run.resume was called on a paused run: its id is over; the new one comes with the reply (a live run stays live). */
export function runResuming(run: RunState): RunState {
  return { ...run, status: 'running', pending: 'resume', outcome: null, error: null, cutover: initialCutover(), retired: retire(run.retired, run.runId), runId: null };
}

/** A call failed (start, pause, resume, cancel, wait). */
export function runCallFailed(run: RunState, action: RunState['pending'], message: string): RunState {
  if (action === 'start' || action === 'resume') return { ...run, pending: null, status: 'failed', error: message };
  return { ...run, pending: null, error: message };
}

/** Cancel of a run that is already over (paused): nothing is running, the UI will not offer to resume. */
export function runCancelledWhilePaused(run: RunState): RunState {
  return { ...run, status: 'stopped', pending: null };
}

/** run.wait's answer: the same as run-finished, minus what only the event carries. */
export function runSummary(run: RunState, summary: RunSummary): RunState {
  if (run.runId !== null && summary.runId !== run.runId) return run;
  const outcome: RunOutcome = {
    outcome: summary.outcome,
    counts: summary.counts,
    perSource: summary.perSource,
    elapsedMs: run.outcome?.elapsedMs ?? null,
    message: summary.message,
    verified: summary.verified,
    latency: run.outcome?.latency,
  };
  return finish(run, outcome);
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/**
 * Makes `op` the current run: a run id seen for the first time replaces the one shown (whose late
 * events are dropped from then on). Returns null for the events of a run that is over.
 */
export function adoptRun(run: RunState, op: string): RunState | null {
  if (run.runId === op) return run;
  if (run.retired.includes(op)) return null;
  // A run this page did not start (or whose reply has not come yet, or after a reload): follow it.
  const fresh = run.runId !== null || run.status !== 'running';
  // Whether a run found this way is live, its live events say.
  return fresh
    ? {
        ...run,
        runId: op,
        retired: retire(run.retired, run.runId),
        status: 'running',
        outcome: null,
        liveMode: false,
        live: {},
        cutover: initialCutover(),
        pending: run.pending === 'start' || run.pending === 'resume' ? run.pending : null,
      }
    : { ...run, runId: op };
}

export function runStarted(run: RunState, e: EngineEventOf<'run-started'>): RunState {
  const sources: Record<string, SourceRow> = {};
  for (const name of e.sources) sources[name] = newRow(name);
  return {
    ...run,
    status: 'running',
    job: e.job,
    target: e.target,
    resumed: e.resumed,
    startedAt: e.at,
    order: [...e.sources],
    sources,
    staging: e.resumed ? run.staging : {},
    outcome: null,
    error: null,
    // A resumed run goes on where the paused one stopped: keep what was seen.
    keyErrors: e.resumed ? run.keyErrors : [],
    keyErrorCount: e.resumed ? run.keyErrorCount : 0,
    bigKeyWarnings: e.resumed ? run.bigKeyWarnings : [],
    bigKeyProgress: e.resumed ? run.bigKeyProgress : {},
    warnings: e.resumed ? run.warnings : [],
    latency: e.resumed ? run.latency : {},
    latencyOrder: e.resumed ? run.latencyOrder : [],
  };
}

function updateRow(run: RunState, name: string, fn: (row: SourceRow) => SourceRow): RunState {
  const row = run.sources[name] ?? newRow(name);
  const order = run.order.includes(name) ? run.order : [...run.order, name];
  return { ...run, order, sources: { ...run.sources, [name]: fn(row) } };
}

export function runSourceStage(run: RunState, e: EngineEventOf<'source-stage'>): RunState {
  return updateRow(run, e.source, (row) => ({
    ...row,
    stage: e.stage,
    message: e.message,
    progress: e.stage === 'done' ? 100 : row.progress,
    etaMs: e.stage === 'done' ? 0 : row.etaMs,
    keysPerSec: TERMINAL.has(e.stage) ? 0 : row.keysPerSec,
    bytesPerSec: TERMINAL.has(e.stage) ? 0 : row.bytesPerSec,
  }));
}

export function runProgress(run: RunState, e: EngineEventOf<'progress'>): RunState {
  return updateRow(run, e.source, (row) => ({
    ...row,
    counts: e.counts,
    total: e.total,
    keysPerSec: e.keysPerSec,
    bytesPerSec: e.bytesPerSec,
    etaMs: e.etaMs,
    progress: row.stage === 'done' ? 100 : e.total > 0 ? percentOf(e.counts.scanned, e.total) : 0,
  }));
}

export function runKeyError(run: RunState, e: EngineEventOf<'key-error'>): RunState {
  const entry: KeyErrorEntry = { id: noticeId(), source: e.source, db: e.db, keyHex: e.keyHex, message: e.message, at: e.at };
  return { ...run, keyErrors: appendCapped(run.keyErrors, entry, KEEP_KEY_ERRORS), keyErrorCount: run.keyErrorCount + 1 };
}

export interface BigKeyProgress {
  source: string;
  db: number;
  keyHex: string;
  keyType: string;
  done: number;
  total: number;
  unit: 'elements' | 'bytes';
  progress: number;
}

/** Keeps the newest big keys only: a run with thousands of them shows the ones that move. */
const KEEP_BIG_KEYS = 20;

export function runBigKeyProgress(run: RunState, e: EngineEventOf<'big-key-progress'>): RunState {
  const id = `${e.source} ${e.db} ${e.keyHex}`;
  const entry: BigKeyProgress = { source: e.source, db: e.db, keyHex: e.keyHex, keyType: e.keyType, done: e.done, total: e.total, unit: e.unit, progress: percentOf(e.done, e.total) };
  const others = Object.entries(run.bigKeyProgress).filter(([k]) => k !== id).slice(-(KEEP_BIG_KEYS - 1));
  return { ...run, bigKeyProgress: Object.fromEntries([...others, [id, entry]]) };
}

/** The engine's big-key notices (`… is a big key: it is copied in windows …`). */
export function isBigKeyWarning(message: string): boolean {
  return /\bbig keys?\b/i.test(message);
}

export function runWarning(run: RunState, e: EngineEventOf<'warning'>): RunState {
  const notice: Notice = { id: noticeId(), at: e.at, source: e.source, message: e.message };
  return isBigKeyWarning(e.message)
    ? { ...run, bigKeyWarnings: appendCapped(run.bigKeyWarnings, notice, KEEP_WARNINGS) }
    : { ...run, warnings: appendCapped(run.warnings, notice, KEEP_WARNINGS) };
}

export function runTunnel(run: RunState, e: EngineEventOf<'tunnel'>): RunState {
  return { ...run, tunnels: { ...run.tunnels, [e.tunnel]: tunnelFrom(e) } };
}

export function runStaging(run: RunState, e: EngineEventOf<'staging'>): RunState {
  const nodes = { ...run.staging[e.source], [e.node]: stagingFrom(e) };
  return { ...run, staging: { ...run.staging, [e.source]: nodes } };
}

export function runLive(run: RunState, e: EngineEventOf<'live'>): RunState {
  const nodes = { ...run.live[e.source], [e.node]: e };
  return { ...run, liveMode: true, live: { ...run.live, [e.source]: nodes } };
}

/** Streaming with nothing left to apply: the target holds every effect of the node's stream so far. */
export function isCaughtUp(n: LiveNodeState): boolean {
  return n.phase === 'streaming' && n.lagBytes === 0 && (n.lagKeys ?? 0) === 0;
}

/** Every live node of the run, in source order, then node order. */
export function liveNodes(run: Pick<RunState, 'live' | 'order'>): LiveNodeState[] {
  const sources = [...run.order.filter((s) => run.live[s]), ...Object.keys(run.live).filter((s) => !run.order.includes(s))];
  return sources.flatMap((s) => Object.values(run.live[s] ?? {}).sort((a, b) => a.node.localeCompare(b.node)));
}

/** The nodes not caught up yet (what a cut-over waits for). */
export function nodesBehind(run: Pick<RunState, 'live' | 'order'>): LiveNodeState[] {
  return liveNodes(run).filter((n) => !isCaughtUp(n));
}

// --- the cut-over -----------------------------------------------------------------------

/** run.cutover was called: it waits for lag 0 first. */
export function cutoverStarted(run: RunState, at: number): RunState {
  return { ...run, cutover: { status: 'waiting', startedAt: at, verdict: null, error: null } };
}

/** Its verify began (the first verify-progress of kind `verify` while it waited). */
export function cutoverVerifying(run: RunState): RunState {
  return run.cutover.status === 'waiting' ? { ...run, cutover: { ...run.cutover, status: 'verifying' } } : run;
}

/** run.cutover answered: safe to switch, or not (with the reason). */
export function cutoverDone(run: RunState, verdict: CutoverVerdict): RunState {
  if (run.cutover.status !== 'waiting' && run.cutover.status !== 'verifying') return run;
  return { ...run, cutover: { ...run.cutover, status: verdict.safe ? 'safe' : 'unsafe', verdict, error: null } };
}

/** run.cutover failed or was cancelled: no verdict. */
export function cutoverFailed(run: RunState, message: string, cancelled: boolean): RunState {
  if (run.cutover.status !== 'waiting' && run.cutover.status !== 'verifying') return run;
  return { ...run, cutover: { ...run.cutover, status: cancelled ? 'cancelled' : 'failed', error: cancelled ? null : message } };
}

export function runLatency(run: RunState, e: EngineEventOf<'latency'>): RunState {
  const series = addLatency(run.latency[e.endpoint] ?? emptySeries(e.endpoint), e);
  const latencyOrder = run.latencyOrder.includes(e.endpoint) ? run.latencyOrder : [...run.latencyOrder, e.endpoint];
  return { ...run, latency: { ...run.latency, [e.endpoint]: series }, latencyOrder };
}

/** A staged run verifies its copy before removing it: the row shows it as `verifying`. */
export function runVerifyProgress(run: RunState, e: EngineEventOf<'verify-progress'>): RunState {
  return updateRow(run, e.source, (row) => ({
    ...row,
    stage: TERMINAL.has(row.stage) && row.stage !== 'done' ? row.stage : 'verifying',
    verify: { compared: e.compared, differences: e.differences, total: e.total },
  }));
}

export function runFinished(run: RunState, e: EngineEventOf<'run-finished'>): RunState {
  const budget = e.latency?.[0]?.budgetMs;
  return finish(budget !== undefined ? { ...run, budgetMs: budget } : run, {
    outcome: e.outcome,
    counts: e.counts,
    perSource: e.perSource,
    elapsedMs: e.elapsedMs,
    message: e.message,
    verified: e.verified,
    latency: e.latency,
  });
}

function finish(run: RunState, outcome: RunOutcome): RunState {
  const endStage: RowStage = outcome.outcome;
  const sources: Record<string, SourceRow> = { ...run.sources };
  for (const name of new Set([...run.order, ...Object.keys(outcome.perSource)])) {
    const row = sources[name] ?? newRow(name);
    const counts = outcome.perSource[name] ?? row.counts;
    const stage: RowStage = TERMINAL.has(row.stage) ? row.stage : row.stage === 'verifying' && outcome.outcome === 'done' ? 'done' : endStage;
    sources[name] = {
      ...row,
      counts,
      stage,
      progress: stage === 'done' ? 100 : row.total > 0 ? percentOf(counts.scanned, row.total) : row.progress,
      keysPerSec: 0,
      bytesPerSec: 0,
      etaMs: stage === 'done' ? 0 : null,
    };
  }
  const order = run.order.length > 0 ? run.order : Object.keys(sources);
  // A pause ends the run as `stopped` with its checkpoint kept: the UI offers to resume it.
  const status: RunStatus = outcome.outcome === 'stopped' && (run.pending === 'pause' || run.status === 'paused') ? 'paused' : outcome.outcome;
  return { ...run, sources, order, outcome, status, pending: run.pending === 'pause' || run.pending === 'cancel' ? null : run.pending };
}
