// Builders of real-shaped events for the store's tests: every event is parsed with the contract's
// schemas, so a test cannot feed the store something the host would never send.
import { AppEvent } from '../../../shared/api.js';
import { textToHex } from '../util/keys.js';
import { emptyCounts, type EngineEvent, type KeyCounts } from '../../../shared/events.js';

export const T0 = 1_750_000_000_000;

export function app(kind: AppEvent['kind'], op: string, event: EngineEvent): AppEvent {
  return AppEvent.parse({ kind, op, event });
}

export function counts(over: Partial<KeyCounts> = {}): KeyCounts {
  return { ...emptyCounts(), ...over };
}

export const ev = {
  runStarted: (sources: string[], at = T0, resumed = false): EngineEvent => ({ type: 'run-started', job: 'idc-exit', resumed, sources, target: 'redis://127.0.0.1:7000', at }),
  stage: (source: string, stage: Extract<EngineEvent, { type: 'source-stage' }>['stage'], at = T0, message?: string): EngineEvent => ({
    type: 'source-stage',
    source,
    stage,
    ...(message !== undefined && { message }),
    at,
  }),
  progress: (source: string, scanned: number, total: number, at = T0): EngineEvent => ({
    type: 'progress',
    source,
    counts: counts({ scanned, written: scanned, bytes: scanned * 100 }),
    total,
    keysPerSec: 1000,
    bytesPerSec: 100_000,
    etaMs: scanned >= total ? 0 : ((total - scanned) / 1000) * 1000,
    at,
  }),
  bigKey: (source: string, key: string, done: number, total: number, at = T0): EngineEvent => ({
    type: 'big-key-progress',
    source,
    db: 0,
    keyHex: textToHex(key),
    keyType: 'zset',
    done,
    total,
    unit: 'elements',
    at,
  }),
  keyError: (source: string, i: number, at = T0): EngineEvent => ({ type: 'key-error', source, db: 0, keyHex: textToHex(`k:${i}`), message: `refused ${i}`, at }),
  warning: (message: string, source?: string, at = T0): EngineEvent => ({ type: 'warning', ...(source !== undefined && { source }), message, at }),
  finished: (outcome: 'done' | 'failed' | 'stopped', perSource: Record<string, KeyCounts>, at = T0): EngineEvent => {
    const total = emptyCounts();
    for (const c of Object.values(perSource)) for (const k of Object.keys(total) as Array<keyof KeyCounts>) total[k] += c[k];
    return {
      type: 'run-finished',
      outcome,
      counts: total,
      perSource,
      elapsedMs: 4200,
      latency: [{ endpoint: 'target', nodes: ['127.0.0.1:7000'], seconds: 4, calls: 800, avgMs: 0.2, maxMs: 3, worstP99Ms: 1, secondsOverBudget: 0, budgetMs: 5, serverMaxMs: null }],
      at,
    };
  },
  latency: (endpoint: string, node: string, at: number, p: { avg?: number; p50?: number; p99?: number; max?: number; calls?: number; pace?: number } = {}): EngineEvent => ({
    type: 'latency',
    endpoint,
    node,
    calls: p.calls ?? 200,
    avgMs: p.avg ?? 0.3,
    p50Ms: p.p50 ?? 0.2,
    p99Ms: p.p99 ?? 0.9,
    maxMs: p.max ?? 2,
    serverMaxMs: null,
    paceFactor: p.pace ?? 1,
    at,
  }),
  tunnel: (tunnel: string, state: 'connecting' | 'up' | 'down' | 'closed', attempt = 0, at = T0): EngineEvent => ({ type: 'tunnel', tunnel, state, attempt, at }),
  staging: (source: string, node: string, state: Extract<EngineEvent, { type: 'staging' }>['state'], receivedBytes: number, totalBytes: number | null, at = T0): EngineEvent => ({
    type: 'staging',
    source,
    node,
    state,
    receivedBytes,
    totalBytes,
    at,
  }),
  live: (
    source: string,
    node: string,
    phase: Extract<EngineEvent, { type: 'live' }>['phase'],
    p: { lagBytes?: number; lagMs?: number; applied?: number; dropped?: number; errors?: number; resync?: 'full' | 'partial' | null; message?: string; serverOffset?: number; mode?: 'replication' | 'notifications'; lagKeys?: number } = {},
    at = T0,
  ): EngineEvent => {
    const serverOffset = p.serverOffset ?? 10_000;
    const lagBytes = p.lagBytes ?? 0;
    return {
      type: 'live',
      source,
      node,
      phase,
      resync: p.resync === undefined ? 'full' : p.resync,
      serverOffset,
      appliedOffset: serverOffset - lagBytes,
      lagBytes,
      lagMs: p.lagMs ?? 0,
      applied: p.applied ?? 0,
      dropped: p.dropped ?? 0,
      errors: p.errors ?? 0,
      ...(p.message !== undefined && { message: p.message }),
      ...(p.mode !== undefined && { mode: p.mode }),
      ...(p.lagKeys !== undefined && { lagKeys: p.lagKeys }),
      at,
    };
  },
  verifyProgress: (source: string, compared: number, total: number, differences = 0, at = T0): EngineEvent => ({ type: 'verify-progress', source, compared, differences, total, at }),
  verifyDifference: (source: string, key: string, kind: 'missing' | 'type' | 'value' | 'ttl', at = T0): EngineEvent => ({
    type: 'verify-difference',
    source,
    db: 0,
    targetDb: 0,
    keyHex: key.startsWith('0x') ? key.slice(2) : textToHex(key),
    kind,
    detail: `${kind} differs`,
    at,
  }),
  verifyFinished: (compared: number, differences: { missing?: number; type?: number; value?: number; ttl?: number }, at = T0): EngineEvent => {
    const d = { missing: 0, type: 0, value: 0, ttl: 0, ...differences };
    const n = d.missing + d.type + d.value + d.ttl;
    return { type: 'verify-finished', compared, equal: compared - n, differences: d, keptByPolicy: 0, vanished: 0, elapsedMs: 900, at };
  },
};
