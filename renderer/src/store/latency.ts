import type { EngineEventOf } from '../../../shared/events.js';

/** Seconds of latency history kept per endpoint (the chart's window). */
export const LATENCY_WINDOW_SECONDS = 120;

/** One second of one endpoint, merged over its nodes (a cluster has a probe per master). */
export interface LatencyPoint {
  /** Unix second. */
  second: number;
  calls: number;
  avgMs: number;
  p99Ms: number;
  maxMs: number;
  serverMaxMs: number | null;
  /** The lowest over the nodes: the guard's factor, 1 = full speed. */
  paceFactor: number;
}

export interface LatencySeries {
  endpoint: string;
  nodes: string[];
  /** Oldest first, at most LATENCY_WINDOW_SECONDS seconds apart from newest to oldest. */
  points: LatencyPoint[];
  /**
   * The lowest per-second median seen on the endpoint: its network round trip. The budget is for
   * the latency Ferry adds on top of it (as the engine's guard measures), so the chart's budget
   * line sits at floor + budget.
   */
  floorMs: number | null;
}

export function emptySeries(endpoint: string): LatencySeries {
  return { endpoint, nodes: [], points: [], floorMs: null };
}

function merge(a: LatencyPoint, e: EngineEventOf<'latency'>): LatencyPoint {
  const calls = a.calls + e.calls;
  return {
    second: a.second,
    calls,
    avgMs: calls > 0 ? (a.avgMs * a.calls + e.avgMs * e.calls) / calls : Math.max(a.avgMs, e.avgMs),
    p99Ms: Math.max(a.p99Ms, e.p99Ms),
    maxMs: Math.max(a.maxMs, e.maxMs),
    serverMaxMs: a.serverMaxMs === null ? e.serverMaxMs : e.serverMaxMs === null ? a.serverMaxMs : Math.max(a.serverMaxMs, e.serverMaxMs),
    paceFactor: Math.min(a.paceFactor, e.paceFactor),
  };
}

function pointOf(e: EngineEventOf<'latency'>, second: number): LatencyPoint {
  return { second, calls: e.calls, avgMs: e.avgMs, p99Ms: e.p99Ms, maxMs: e.maxMs, serverMaxMs: e.serverMaxMs, paceFactor: e.paceFactor };
}

/** Adds one node's second to its endpoint's ring; returns a new series (the old one is not changed). */
export function addLatency(series: LatencySeries, e: EngineEventOf<'latency'>): LatencySeries {
  const second = Math.floor(e.at / 1000);
  const pts = series.points;
  const newest = pts.length > 0 ? pts[pts.length - 1]!.second : second;
  if (second <= newest - LATENCY_WINDOW_SECONDS) return series; // older than the window
  let points: LatencyPoint[];
  const last = pts[pts.length - 1];
  if (!last || second > last.second) {
    points = [...pts, pointOf(e, second)];
  } else {
    // Another node's report of a second already there (or a late one): merge or insert in order.
    const i = pts.findIndex((p) => p.second >= second);
    points = pts.slice();
    if (pts[i]!.second === second) points[i] = merge(pts[i]!, e);
    else points.splice(i, 0, pointOf(e, second));
  }
  const newestNow = points[points.length - 1]!.second;
  let drop = 0;
  while (drop < points.length && points[drop]!.second <= newestNow - LATENCY_WINDOW_SECONDS) drop++;
  if (drop > 0) points = points.slice(drop);
  const nodes = series.nodes.includes(e.node) ? series.nodes : [...series.nodes, e.node];
  const floorMs = e.calls > 0 ? Math.min(series.floorMs ?? Infinity, e.p50Ms) : series.floorMs;
  return { endpoint: series.endpoint, nodes, points, floorMs };
}
