import fs from 'node:fs';
import path from 'node:path';
import type { EventBus } from '../events/eventBus.js';
import type { LoadedJob } from '../job/loadJob.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import type { RedisConnection } from '../resp/connection.js';
import { openEndpoints } from '../run/openEndpoints.js';
import { TunnelSet, tunnelOptions, type TunnelChoices } from '../tunnels/tunnelSet.js';
import { verifyAndRepair } from '../verify/repair.js';
import { verifyJob, type VerifyResult } from '../verify/verifier.js';
import { LIVE_STATUS_FILE, type LiveStatus } from './liveRun.js';
import type { LiveEvent } from './liveNode.js';

export interface CutoverOptions {
  stateDir: string;
  /** How long to wait for lag 0 on every source node (default 10 min). */
  timeoutMs?: number;
  ttlToleranceMs: number;
  tunnels?: TunnelChoices;
  signal?: AbortSignal;
  /** Called while waiting, with the nodes still behind. */
  onWaiting?(behind: LiveEvent[]): void;
  /**
   * Pause the application's writes on every source master (CLIENT PAUSE … WRITE, Redis 6.2+) for at
   * most this long while Ferry catches up and verifies: a consistent point without stopping the
   * application by hand. The pause ends as soon as the verify does.
   */
  pauseWritesMs?: number;
}

export interface CutoverResult {
  /** Every node caught up and verify found the target equal to the sources. */
  safe: boolean;
  /** Why it is not safe, when it is not. */
  reason?: string;
  /** The nodes as they stood when the lag was 0 (or at the timeout). */
  nodes: LiveEvent[];
  verify?: VerifyResult;
  /** Sources followed by notifications (best effort): the keys the verify found different and re-copied. */
  repaired?: number;
}

/** A status older than this means no live run is writing it. */
const STALE_MS = 5000;

/** Thrown when there is nothing to cut over: no live run of the job is running. */
export class CutoverError extends Error {}

/**
 * The guided cut-over: waits until the live run of this job (`ferry run --live`, in another
 * process) has applied every source node's stream up to the server's own offset, measured after
 * the cut-over began; then verifies every key. The application's writes to the sources must have
 * stopped first (a key written during the verify shows as a difference), or `pauseWritesMs` pauses
 * them for the duration: a consistent point.
 */
export async function cutover(loaded: LoadedJob, opts: CutoverOptions, bus: EventBus): Promise<CutoverResult> {
  const file = path.join(opts.stateDir, LIVE_STATUS_FILE);
  await waitForStatus(loaded, file);
  if (!opts.pauseWritesMs) return catchUpAndVerify(loaded, opts, bus, file);
  const tunnels = await TunnelSet.forJob(loaded.job, tunnelOptions(opts.tunnels, bus));
  let sources: Map<string, Endpoint> | null = null;
  let target: Endpoint | null = null;
  const paused: RedisConnection[] = [];
  try {
    ({ sources, target } = await openEndpoints(loaded.job, { tunnels }));
    const pauseEnds = Date.now() + opts.pauseWritesMs;
    for (const [name, source] of sources) {
      if (!atLeast(source.facts, 6, 2)) {
        throw new CutoverError(`source ${name} is Redis ${source.facts.version}: pausing only writes (CLIENT PAUSE … WRITE) needs 6.2 or newer; stop the application's writes yourself and run ferry cutover without --pause-writes`);
      }
      const masters = source.isCluster ? source.masters : [{ host: source.address.host, port: source.address.port }];
      for (const m of masters) {
        const conn = await source.nodeConnection(m.host, m.port);
        await conn.call('CLIENT', 'PAUSE', String(opts.pauseWritesMs), 'WRITE');
        paused.push(conn);
      }
    }
    bus.emit({ type: 'warning', message: `writes to the sources are paused for at most ${Math.round(opts.pauseWritesMs / 1000)} s (CLIENT PAUSE WRITE) while Ferry catches up and verifies`, at: Date.now() });
    const result = await catchUpAndVerify(loaded, { ...opts, timeoutMs: Math.min(opts.timeoutMs ?? 600_000, opts.pauseWritesMs) }, bus, file, { tunnels });
    if (result.safe && Date.now() > pauseEnds) {
      return { ...result, safe: false, reason: `the pause (${Math.round(opts.pauseWritesMs / 1000)} s) ran out before the verify ended, so writes may have reached the sources during it; give --pause-writes more time` };
    }
    return result;
  } finally {
    // Unpaused at once, also when something failed: the application must not wait for the timeout.
    await Promise.all(paused.map((c) => c.call('CLIENT', 'UNPAUSE').catch(() => undefined)));
    for (const s of sources?.values() ?? []) s.close();
    target?.close();
    tunnels?.close();
  }
}

/** Waits briefly for the status of a live run of this job; refuses when there is none. */
async function waitForStatus(loaded: LoadedJob, file: string): Promise<void> {
  const began = Date.now();
  let status = readStatus(file);
  // A run that has just started writes its first status within a second.
  while ((!status || Date.now() - status.updatedAt > STALE_MS) && Date.now() - began < STALE_MS) {
    await new Promise((r) => setTimeout(r, 250));
    status = readStatus(file);
  }
  if (!status || Date.now() - status.updatedAt > STALE_MS) {
    throw new CutoverError(`job ${loaded.job.name}: no live run of it is running (${status ? `its status in ${file} is ${Math.round((Date.now() - status.updatedAt) / 1000)} s old` : `no ${file}`}); start it with ferry run JOB --live, let it catch up, then run ferry cutover again`);
  }
}

/** Waits until every node has applied the stream up to the server's offset, then verifies. */
async function catchUpAndVerify(loaded: LoadedJob, opts: CutoverOptions, bus: EventBus, file: string, paths?: { tunnels: TunnelSet | null }): Promise<CutoverResult> {
  const began = Date.now();
  const deadline = began + (opts.timeoutMs ?? 600_000);
  let status = readStatus(file);
  for (;;) {
    if (!status || Date.now() - status.updatedAt > STALE_MS) return { safe: false, reason: `the live run of job ${loaded.job.name} stopped writing its status (${file})`, nodes: status?.nodes ?? [] };
    if (opts.signal?.aborted) return { safe: false, reason: 'cut-over cancelled', nodes: status.nodes };
    const behind = status.nodes.filter((n) => !caughtUp(n, began));
    const failed = status.nodes.find((n) => n.phase === 'failed' || n.phase === 'stopped');
    if (failed) return { safe: false, reason: `source ${failed.source} (${failed.node}) is ${failed.phase}${failed.message ? `: ${failed.message}` : ''}`, nodes: status.nodes };
    if (status.nodes.length > 0 && behind.length === 0) break;
    if (Date.now() > deadline) {
      const worst = behind.map((n) => `${n.source} ${n.node}: ${n.phase}, ${n.lagBytes} bytes behind`).join('; ');
      return { safe: false, reason: `the live run did not catch up within ${Math.round((opts.timeoutMs ?? 600_000) / 1000)} s (${worst}); are the application's writes stopped?`, nodes: status.nodes };
    }
    opts.onWaiting?.(behind);
    await new Promise((r) => setTimeout(r, 250));
    status = readStatus(file);
  }
  const nodes = status.nodes;
  const verifyOpts = { stateDir: opts.stateDir, ttlToleranceMs: opts.ttlToleranceMs, tunnels: opts.tunnels, signal: opts.signal, ...(paths && { paths }) };
  // Notifications may have been lost: every key that differs is copied again and checked again.
  const bestEffort = nodes.some((n) => n.mode === 'notifications');
  let repaired: number | undefined;
  let verify: VerifyResult;
  let differences: number;
  if (bestEffort) {
    const r = await verifyAndRepair(loaded, verifyOpts, bus);
    verify = r.verify;
    repaired = r.repair.repaired;
    differences = r.repair.stillDifferent.length;
  } else {
    verify = await verifyJob(loaded, verifyOpts, bus);
    const d = verify.differences;
    differences = d.missing + d.type + d.value + d.ttl;
  }
  if (differences > 0) {
    const advice = opts.pauseWritesMs ? 'the sources were paused, so these are real: see the differences, repair, and run ferry cutover again' : 'if the application still writes to a source, stop its writes (or use --pause-writes) and run ferry cutover again';
    const found = bestEffort ? `${differences} key(s) still differ after the repair` : `verify found ${differences} difference(s) after the lag was 0`;
    return { safe: false, reason: `${found}; ${advice}`, nodes, verify, ...(repaired !== undefined && { repaired }) };
  }
  // Equal while the verify read both sides is not enough if the sources still change: the
  // commands the live run applied since lag 0 say whether they did (caught up again after verify).
  const verifiedAt = Date.now();
  let after = readStatus(file);
  while (after && !(after.nodes.length > 0 && after.nodes.every((n) => caughtUp(n, verifiedAt)))) {
    if (Date.now() - verifiedAt > 30_000 || Date.now() - after.updatedAt > STALE_MS) break;
    await new Promise((r) => setTimeout(r, 250));
    after = readStatus(file);
  }
  const appliedSince = sumApplied(after?.nodes ?? []) - sumApplied(nodes);
  if (!after || !after.nodes.every((n) => caughtUp(n, verifiedAt))) {
    return { safe: false, reason: 'the live run did not report lag 0 again after the verify; run ferry cutover again', nodes: after?.nodes ?? nodes, verify };
  }
  if (appliedSince > 0) {
    return {
      safe: false,
      reason:
        `the sources changed during the cut-over (${appliedSince} command(s) applied since the lag was 0: the application's writes, or keys expiring); ` +
        'stop the application\'s writes, or use --pause-writes (which also holds expiries), and run ferry cutover again',
      nodes: after.nodes,
      verify,
    };
  }
  return { safe: true, nodes: after.nodes, verify, ...(repaired !== undefined && { repaired }) };
}

function sumApplied(nodes: LiveEvent[]): number {
  return nodes.reduce((t, n) => t + n.applied, 0);
}

/** Streaming, nothing left to apply, as measured after `since`. */
function caughtUp(n: LiveEvent, since: number): boolean {
  // An event a full tick (1 s) after `since` carries a server offset fetched after it.
  return n.phase === 'streaming' && n.lagBytes === 0 && (n.lagKeys ?? 0) === 0 && n.at >= since + 1000;
}

function readStatus(file: string): LiveStatus | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LiveStatus;
  } catch {
    return null;
  }
}
