import fs from 'node:fs';
import path from 'node:path';
import type { EventBus } from '../events/eventBus.js';
import type { LoadedJob } from '../job/loadJob.js';
import type { TunnelChoices } from '../tunnels/tunnelSet.js';
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
}

export interface CutoverResult {
  /** Every node caught up and verify found the target equal to the sources. */
  safe: boolean;
  /** Why it is not safe, when it is not. */
  reason?: string;
  /** The nodes as they stood when the lag was 0 (or at the timeout). */
  nodes: LiveEvent[];
  verify?: VerifyResult;
}

/** A status older than this means no live run is writing it. */
const STALE_MS = 5000;

/** Thrown when there is nothing to cut over: no live run of the job is running. */
export class CutoverError extends Error {}

/**
 * The guided cut-over: waits until the live run of this job (`ferry run --live`, in another
 * process) has applied every source node's stream up to the server's own offset, measured after
 * the cut-over began; then verifies every key. The application's writes to the sources must have
 * stopped first: a key written during the verify shows as a difference.
 */
export async function cutover(loaded: LoadedJob, opts: CutoverOptions, bus: EventBus): Promise<CutoverResult> {
  const file = path.join(opts.stateDir, LIVE_STATUS_FILE);
  const began = Date.now();
  const deadline = began + (opts.timeoutMs ?? 600_000);
  let status = readStatus(file);
  // A run that has just started writes its first status within a second.
  while ((!status || Date.now() - status.updatedAt > STALE_MS) && Date.now() - began < STALE_MS) {
    await new Promise((r) => setTimeout(r, 250));
    status = readStatus(file);
  }
  if (!status || Date.now() - status.updatedAt > STALE_MS) {
    throw new CutoverError(`job ${loaded.job.name}: no live run of it is running (${status ? `its status in ${file} is ${Math.round((Date.now() - status.updatedAt) / 1000)} s old` : `no ${file}`}); start it with ferry run JOB --live, let it catch up, then run ferry cutover again`);
  }
  for (;;) {
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
    const next = readStatus(file);
    if (!next || Date.now() - next.updatedAt > STALE_MS) return { safe: false, reason: `the live run of job ${loaded.job.name} stopped writing its status (${file})`, nodes: status.nodes };
    status = next;
  }
  const nodes = status.nodes;
  const verify = await verifyJob(loaded, { stateDir: opts.stateDir, ttlToleranceMs: opts.ttlToleranceMs, tunnels: opts.tunnels }, bus);
  const d = verify.differences;
  const differences = d.missing + d.type + d.value + d.ttl;
  if (differences > 0) {
    return { safe: false, reason: `verify found ${differences} difference(s) after the lag was 0; if the application still writes to a source, stop its writes and run ferry cutover again`, nodes, verify };
  }
  return { safe: true, nodes, verify };
}

/** Streaming, nothing left to apply, as measured after `since`. */
function caughtUp(n: LiveEvent, since: number): boolean {
  // An event a full tick (1 s) after `since` carries a server offset fetched after it.
  return n.phase === 'streaming' && n.lagBytes === 0 && n.at >= since + 1000;
}

function readStatus(file: string): LiveStatus | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LiveStatus;
  } catch {
    return null;
  }
}
