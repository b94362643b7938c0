import type { CallOutput } from '../../../shared/api.js';
import type { DifferenceKind, EngineEventOf } from '../../../shared/events.js';
import { appendCapped, KEEP_DIFFERENCES, KEEP_WARNINGS, noticeId, percentOf, tunnelFrom, type Notice, type TunnelState } from './common.js';

export interface VerifySourceProgress {
  source: string;
  compared: number;
  differences: number;
  total: number;
  percent: number;
}

export interface DifferenceRow {
  id: number;
  source: string;
  db: number;
  targetDb: number;
  keyHex: string;
  kind: DifferenceKind;
  detail: string;
}

export interface VerifyResult {
  compared: number;
  equal: number;
  differences: Record<DifferenceKind, number>;
  keptByPolicy: number;
  vanished: number;
  elapsedMs: number | null;
}

export interface VerifyState {
  status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  order: string[];
  progress: Record<string, VerifySourceProgress>;
  /** The newest differences (KEEP_DIFFERENCES); `differenceCount` counts them all. */
  differences: DifferenceRow[];
  differenceCount: number;
  summary: VerifyResult | null;
  warnings: Notice[];
  tunnels: Record<string, TunnelState>;
  error: string | null;
}

export function initialVerify(): VerifyState {
  return { status: 'idle', order: [], progress: {}, differences: [], differenceCount: 0, summary: null, warnings: [], tunnels: {}, error: null };
}

export function totalDifferences(summary: VerifyResult): number {
  return Object.values(summary.differences).reduce((a, b) => a + b, 0);
}

export function verifyStarted(): VerifyState {
  return { ...initialVerify(), status: 'running' };
}

export function verifyProgress(v: VerifyState, e: EngineEventOf<'verify-progress'>): VerifyState {
  const order = v.order.includes(e.source) ? v.order : [...v.order, e.source];
  const row: VerifySourceProgress = { source: e.source, compared: e.compared, differences: e.differences, total: e.total, percent: percentOf(e.compared, e.total) };
  return { ...v, order, progress: { ...v.progress, [e.source]: row } };
}

export function verifyDifference(v: VerifyState, e: EngineEventOf<'verify-difference'>): VerifyState {
  const row: DifferenceRow = { id: noticeId(), source: e.source, db: e.db, targetDb: e.targetDb, keyHex: e.keyHex, kind: e.kind, detail: e.detail };
  return { ...v, differences: appendCapped(v.differences, row, KEEP_DIFFERENCES), differenceCount: v.differenceCount + 1 };
}

export function verifyFinished(v: VerifyState, e: EngineEventOf<'verify-finished'>): VerifyState {
  const progress: Record<string, VerifySourceProgress> = {};
  for (const [name, p] of Object.entries(v.progress)) progress[name] = { ...p, percent: 100 };
  return {
    ...v,
    progress,
    status: v.status === 'running' || v.status === 'idle' ? 'done' : v.status,
    summary: { compared: e.compared, equal: e.equal, differences: e.differences, keptByPolicy: e.keptByPolicy, vanished: e.vanished, elapsedMs: e.elapsedMs },
  };
}

/** verify.run's answer: the summary (if the event did not bring it) and its first differences (if no event did). */
export function verifyResult(v: VerifyState, r: CallOutput<'verify.run'>): VerifyState {
  const differences =
    v.differences.length > 0
      ? v.differences
      : r.firstDifferences.map((d) => ({ id: noticeId(), source: d.source, db: d.db, targetDb: d.targetDb, keyHex: d.keyHex, kind: d.kind, detail: d.detail }));
  return {
    ...v,
    status: 'done',
    differences,
    differenceCount: Math.max(v.differenceCount, differences.length),
    summary: {
      compared: r.compared,
      equal: r.equal,
      differences: r.differences,
      keptByPolicy: r.keptByPolicy,
      vanished: r.vanished,
      elapsedMs: v.summary?.elapsedMs ?? null,
    },
    error: null,
  };
}

export function verifyFailed(v: VerifyState, message: string, cancelled: boolean): VerifyState {
  return { ...v, status: cancelled ? 'cancelled' : 'failed', error: cancelled ? null : message };
}

export function verifyWarning(v: VerifyState, e: EngineEventOf<'warning'>): VerifyState {
  return { ...v, warnings: appendCapped(v.warnings, { id: noticeId(), at: e.at, source: e.source, message: e.message }, KEEP_WARNINGS) };
}

export function verifyTunnel(v: VerifyState, e: EngineEventOf<'tunnel'>): VerifyState {
  return { ...v, tunnels: { ...v.tunnels, [e.tunnel]: tunnelFrom(e) } };
}
