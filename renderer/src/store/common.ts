import type { EngineEventOf } from '../../../shared/events.js';

/** Lists fed by events keep their newest entries only. */
export const KEEP_KEY_ERRORS = 200;
export const KEEP_WARNINGS = 200;
export const KEEP_DIFFERENCES = 5000;

export interface Notice {
  id: number;
  at: number;
  source?: string;
  message: string;
}

export interface TunnelState {
  tunnel: string;
  state: EngineEventOf<'tunnel'>['state'];
  attempt: number;
  message?: string;
  at: number;
}

export interface StagingNode {
  source: string;
  node: string;
  state: EngineEventOf<'staging'>['state'];
  receivedBytes: number;
  totalBytes: number | null;
  /** 0-100 of the RDB received (100 once synced), null while the size is unknown. */
  percent: number | null;
  message?: string;
}

let nextId = 1;
export function noticeId(): number {
  return nextId++;
}

/** Appends, keeping the newest `keep`. */
export function appendCapped<T>(list: readonly T[], item: T, keep: number): T[] {
  const out = list.length >= keep ? list.slice(list.length - keep + 1) : list.slice();
  out.push(item);
  return out;
}

export function tunnelFrom(e: EngineEventOf<'tunnel'>): TunnelState {
  return { tunnel: e.tunnel, state: e.state, attempt: e.attempt, message: e.message, at: e.at };
}

export function stagingFrom(e: EngineEventOf<'staging'>): StagingNode {
  let percent: number | null = null;
  if (e.state === 'synced' || e.state === 'detached' || e.state === 'loading') percent = 100;
  else if (e.totalBytes !== null && e.totalBytes > 0) percent = Math.min(100, Math.floor((e.receivedBytes / e.totalBytes) * 100));
  return { source: e.source, node: e.node, state: e.state, receivedBytes: e.receivedBytes, totalBytes: e.totalBytes, percent, message: e.message };
}

/** The staging share of a source over its nodes (0-100), or null when no size is known yet. */
export function stagingPercent(nodes: Record<string, StagingNode> | undefined): number | null {
  if (!nodes) return null;
  const list = Object.values(nodes);
  if (list.length === 0) return null;
  if (list.every((n) => n.percent === 100)) return 100;
  let received = 0;
  let total = 0;
  for (const n of list) {
    if (n.totalBytes === null) return null;
    received += Math.min(n.receivedBytes, n.totalBytes);
    total += n.totalBytes;
  }
  return total > 0 ? Math.min(100, Math.floor((received / total) * 100)) : null;
}

export function percentOf(part: number, whole: number): number {
  if (!(whole > 0)) return 0;
  return Math.max(0, Math.min(100, Math.floor((part / whole) * 100)));
}
