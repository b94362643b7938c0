import fs from 'node:fs';
import path from 'node:path';
import type { EngineEvent } from '../../../shared/events.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { EventBus } from '../events/eventBus.js';
import type { LoadedJob } from '../job/loadJob.js';
import type { Pace } from '../pacing/pace.js';
import { runMigration, type RunOptions } from '../run/migration.js';
import { KeyspaceFollower } from './keyspaceFollower.js';
import type { LiveEvent } from './liveNode.js';

export interface FallbackOptions {
  loaded: LoadedJob;
  /** The source that refuses SYNC and PSYNC. */
  name: string;
  source: Endpoint;
  target: Endpoint;
  runOpts: RunOptions;
  bus: EventBus;
  pace: Pace;
  signal: AbortSignal;
  emit(event: LiveEvent): void;
  /** The first failure stops the whole live run. */
  fail(message: string): void;
}

/** What a bulk copy of the fallback passes on: what the run's own view draws about a source. */
const FORWARDED = new Set<EngineEvent['type']>(['progress', 'warning', 'key-error', 'big-key-progress']);

/**
 * Live sync of a source that refuses SYNC and PSYNC (a managed service): keyspace notifications
 * are turned on (or checked) and subscribed first, then the source is bulk-copied by SCAN, then
 * every key a notification named (during the copy and after) is copied again as it is then. Best
 * effort: notifications can be lost, so the cut-over verifies and repairs every key that differs.
 * Runs until the signal aborts.
 */
export async function followByNotifications(o: FallbackOptions): Promise<void> {
  const { name, source, target, bus, signal } = o;
  const node = `${source.address.host}:${source.address.port}${source.isCluster ? ` (${source.masters.length} masters)` : ''}`;
  const warn = (message: string) => bus.emit({ type: 'warning', source: name, message, at: Date.now() });
  warn(
    `source ${name} refuses SYNC and PSYNC, so live sync follows it by keyspace notifications: best effort (a notification lost under load is a change missed), ` +
      'so ferry cutover verifies every key and repairs what differs',
  );
  let lostMessage: string | undefined;
  const follower = new KeyspaceFollower({
    sourceName: name,
    source,
    target,
    job: o.loaded.job,
    pace: o.pace.guard,
    onLost: (lost) => {
      lostMessage = `notifications from ${lost.node} were lost at ${new Date(lost.at).toISOString()} (${lost.reason}); the cut-over's repair re-copies what differs`;
      warn(lostMessage);
    },
    onKeyError: (db, key, message) => bus.emit({ type: 'key-error', source: name, db, keyHex: key.toString('hex'), message, at: Date.now() }),
    onFatal: (err) => o.fail(err.message),
    onWarning: warn,
  });
  let phase: LiveEvent['phase'] = 'connecting';
  const emit = () =>
    o.emit({
      type: 'live',
      source: name,
      node,
      phase,
      mode: 'notifications',
      resync: null,
      serverOffset: 0,
      appliedOffset: 0,
      lagBytes: 0,
      lagKeys: follower.lagKeys,
      lagMs: follower.oldestPendingMs,
      applied: follower.counters.copied + follower.counters.deleted,
      dropped: follower.counters.filtered,
      errors: follower.counters.errors,
      ...(lostMessage && { message: lostMessage }),
      at: Date.now(),
    });
  const ticker = setInterval(() => {
    if (phase === 'streaming' && !follower.subscribed) phase = 'reconnecting';
    else if (phase === 'reconnecting' && follower.subscribed) phase = 'streaming';
    emit();
  }, 1000);
  emit();
  try {
    try {
      await follower.start();
    } catch (err) {
      return o.fail((err as Error).message);
    }
    // Subscribed first: whatever changes from here on is named by a notification, even during the copy.
    phase = 'full-sync';
    emit();
    const copyBus = new EventBus();
    copyBus.on((e) => {
      if (FORWARDED.has(e.type)) bus.emit(e.type === 'progress' ? { ...e, source: name } : e);
    });
    const one = { ...o.loaded, job: { ...o.loaded.job, sources: o.loaded.job.sources.filter((s) => s.name === name) } };
    const stateDir = path.join(o.runOpts.stateDir, 'notifications', name);
    fs.mkdirSync(stateDir, { recursive: true });
    const copied = await runMigration(one, { ...o.runOpts, resume: false, stateDir, signal }, copyBus);
    if (signal.aborted) return;
    if (copied.outcome !== 'done') return o.fail(`source ${name}: the bulk copy before following its notifications failed: ${copied.message ?? copied.outcome}`);
    // Only now: a key copied again earlier could be overwritten by the bulk copy's older read.
    follower.startCopying();
    phase = follower.subscribed ? 'streaming' : 'reconnecting';
    emit();
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    clearInterval(ticker);
    await follower.stop().catch(() => undefined);
    phase = 'stopped';
    emit();
  }
}
