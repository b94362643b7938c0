import { emptyCounts, type KeyCounts } from '../../../shared/events.js';
import type { Job } from '../../../shared/job.js';
import { isBig, measureKey, type KeySize } from '../bigkeys/bigKeyProbe.js';
import { compareBigKey } from '../bigkeys/chunkedCompare.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import type { EventBus } from '../events/eventBus.js';
import { KeyFilter } from '../filters/keyFilter.js';
import type { LoadedJob } from '../job/loadJob.js';
import { payloadType, type KeyType } from '../keys/keyTypes.js';
import type { BigKeyEntry, SourceEntry } from '../readers/scanReader.js';
import { CONNECTION_LOST, ReplyError, replyNumber, replyText } from '../resp/reply.js';
import { targetDbMapping } from '../run/dbMapping.js';
import { openEndpoints, type EndpointPaths } from '../run/openEndpoints.js';
import { memoryUsageAllowed } from '../run/sourceCopy.js';
import { TunnelSet, tunnelOptions } from '../tunnels/tunnelSet.js';
import { describeDifference, printableBytes, valuesEqual } from '../values/logicalValue.js';
import { keyCommand, readValue } from '../values/readValue.js';
import { RestoreWriter } from '../writers/restoreWriter.js';
import { plannedExpiry, type WritePolicy } from '../writers/writePolicy.js';
import { compareTtl, verifyJob, type Difference, type VerifyOptions, type VerifyResult } from './verifier.js';

// ---------------------------------------------------------------------------------------------
// The re-copy routine, shared by verify-and-repair and the keyspace-notification follower
// (main/engine/live/keyspaceFollower.ts).
// ---------------------------------------------------------------------------------------------

/** One key of one source db. */
export interface KeyRef {
  db: number;
  key: Buffer;
}

/** Replies after which no later write can succeed either (as in the RestoreWriter). */
const FATAL = /^(OOM|READONLY|MISCONF|NOPERM|LOADING|MASTERDOWN)\b/;

/**
 * What became of a key: `copied` (the target now holds the source's value as read), `deleted` (not
 * on the source, so removed from the target), `filtered` (the job does not select it: left alone),
 * `failed` (reported through onKeyError, or the target is lost: see `fatal`).
 */
export type CopyOutcome = 'copied' | 'deleted' | 'filtered' | 'failed';

export interface KeyCopierOptions {
  sourceName: string;
  source: Endpoint;
  target: Endpoint;
  /** Filters (include/exclude/types), db mapping, TTL policy and big-key limits come from here. */
  job: Job;
  /** Pacing (latency guard): big-key windows shrink with its factor. */
  pace?: { factor: number };
  onKeyError?(db: number, key: Buffer, message: string): void;
  onBigKeyProgress?(ref: KeyRef, done: number, total: number): void;
}

/**
 * Copies given keys from a source to the target as they are NOW, whatever the target holds: the
 * source wins (RESTORE … REPLACE, ABSTTL where the target has it). Small keys go by PTTL + DUMP and
 * the RestoreWriter (which re-encodes or falls back to commands for an older target); big keys
 * (options.bigKey) by the chunked copy, never one DUMP; a key the source no longer holds is
 * removed from the target (UNLINK). Keys are read when `copy` is called, so a key changed after
 * that needs another `copy` (the follower's notifications, or repair's re-check, see to it).
 *
 * In a merge of several sources into one target db, a key deleted on this source is deleted on
 * the target even if another source holds it too: the same as the replication path does.
 */
export class KeyCopier {
  readonly counts = { copied: 0, deleted: 0, filtered: 0, chunked: 0, errors: 0 };
  /** Set once the target can take no more writes (connection lost, OOM, READONLY…): later copies fail at once. */
  fatal: Error | null = null;
  readonly targetDbOf: (sourceDb: number) => number;
  private readonly filter: KeyFilter;
  private readonly policy: WritePolicy;
  private readonly writer: RestoreWriter;
  private readonly unlink: 'UNLINK' | 'DEL';
  /** The writer's own counts (expired, vanished, re-encoded…): not reported, the writer needs them. */
  private readonly writerCounts: KeyCounts = emptyCounts();
  private readonly waiting = new Map<object, (settled: boolean) => void>();
  private readonly openDbs = new Map<string, Promise<void>>();
  private memoryUsage: Promise<boolean> | null = null;

  constructor(private readonly o: KeyCopierOptions) {
    this.filter = new KeyFilter(o.job.options);
    this.targetDbOf = targetDbMapping(o.job, o.target.address);
    // Replace: the source wins, as in live sync (the target key was written by Ferry, or repair was asked for).
    this.policy = { onConflict: 'replace', keepTtl: o.job.options.ttl.keep, extendMs: o.job.options.ttl.extendMs };
    this.unlink = atLeast(o.target.facts, 4, 0) ? 'UNLINK' : 'DEL';
    this.writer = new RestoreWriter({
      source: o.source,
      sourceName: o.sourceName,
      target: o.target,
      targetDbOf: this.targetDbOf,
      policy: this.policy,
      counts: this.writerCounts,
      onDone: (entry, settled) => {
        const done = this.waiting.get(entry);
        this.waiting.delete(entry);
        done?.(settled);
      },
      // Never called with onConflict: replace.
      onSkipped: () => undefined,
      onConflict: () => undefined,
      onKeyError: (entry, message) => this.keyError(entry.db, entry.key, message),
      onFatal: (err) => (this.fatal ??= err),
      pace: o.pace,
      onBigKeyProgress: (entry, done, total) => o.onBigKeyProgress?.({ db: entry.db, key: entry.key }, done, total),
    });
  }

  /** Copies the keys (any dbs, pipelined); resolves with each key's outcome, in order. */
  async copy(keys: readonly KeyRef[]): Promise<CopyOutcome[]> {
    // MEMORY USAGE is probed once, before any db connection is opened here (it opens one itself).
    this.memoryUsage ??= memoryUsageAllowed(this.o.source);
    const memoryUsage = await this.memoryUsage;
    await Promise.all([...new Set(keys.map((k) => k.db))].map((db) => this.useDb(db)));
    return Promise.all(keys.map((k) => this.copyOne(k, memoryUsage)));
  }

  private async copyOne({ db, key }: KeyRef, memoryUsage: boolean): Promise<CopyOutcome> {
    if (this.fatal) return 'failed';
    if (!this.filter.matchesKey(key)) {
      this.counts.filtered++;
      return 'filtered';
    }
    const { source, job } = this.o;
    try {
      const [pttl, memory] = await Promise.all([
        keyCommand(source, db, key, ['PTTL', key]).then(replyNumber),
        memoryUsage ? keyCommand(source, db, key, ['MEMORY', 'USAGE', key]) : Promise.resolve(undefined),
      ]);
      if (pttl === -2 || memory === null) return await this.remove(db, key);
      const expireAt = pttl >= 0 ? Date.now() + pttl : 0;
      // Like the scan reader: a key smaller than both limits cannot be big; the others are measured.
      const floor = Math.min(job.options.bigKey.bytes, job.options.bigKey.elements);
      if (typeof memory !== 'number' || memory >= floor) {
        const size = await measureKey(source, db, key);
        if (!size) return await this.remove(db, key);
        if (isBig(size, job.options.bigKey)) return await this.copyBig(db, key, size, expireAt);
      }
      const payload = await keyCommand(source, db, key, ['DUMP', key]);
      if (payload === null) return await this.remove(db, key);
      const type = payloadType(payload as Buffer);
      if (!this.filter.matchesType(type)) {
        this.counts.filtered++;
        return 'filtered';
      }
      // Gone by now on the source (the writer would only skip it): the target must not keep an old value.
      if (plannedExpiry(expireAt, this.policy) < 0) return await this.remove(db, key);
      const entry = { db, key, payload: payload as Buffer, type: type as KeyType, expireAt };
      const settled = await this.hand(entry, () => this.writer.write(entry as SourceEntry));
      if (!settled) return 'failed';
      this.counts.copied++;
      return 'copied';
    } catch (err) {
      // A lost connection or a target that refuses all writes: no later key can do better.
      if (err instanceof ReplyError && (err.code === CONNECTION_LOST || FATAL.test(err.message))) this.fatal ??= err;
      else this.keyError(db, key, (err as Error).message);
      return 'failed';
    }
  }

  private async copyBig(db: number, key: Buffer, size: KeySize, expireAt: number): Promise<CopyOutcome> {
    if (!this.filter.matchesType(size.type)) {
      this.counts.filtered++;
      return 'filtered';
    }
    if (plannedExpiry(expireAt, this.policy) < 0) return this.remove(db, key);
    const entry = { db, key, type: size.type as KeyType, bytes: size.bytes, elements: size.elements, expireAt };
    const settled = await this.hand(entry, () => this.writer.writeBig(entry as BigKeyEntry));
    if (!settled) return 'failed';
    this.counts.copied++;
    this.counts.chunked++;
    return 'copied';
  }

  /**
   * Gives an entry to the RestoreWriter and waits for its onDone. The writer never looks at the
   * scan reader's bookkeeping (`page`, `reader`), which these entries do not have.
   */
  private hand(entry: object, write: () => void): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting.set(entry, resolve);
      write();
    });
  }

  /** The key is not on the source: it must not be on the target either. */
  private async remove(db: number, key: Buffer): Promise<CopyOutcome> {
    const { target } = this.o;
    const removed = replyNumber(await keyCommand(target, this.targetDbOf(db), key, [this.unlink, key]));
    if (removed > 0) this.counts.deleted++;
    return 'deleted';
  }

  private keyError(db: number, key: Buffer, message: string): void {
    this.counts.errors++;
    this.o.onKeyError?.(db, key, message);
  }

  /** Opens the source db and its target db once (concurrent callers wait for the same opening). */
  private useDb(db: number): Promise<void> {
    let opening = this.openDbs.get(`${db}`);
    if (!opening) {
      opening = (async () => {
        if (!this.o.source.isCluster) await this.o.source.useDbs([db]);
        await this.o.target.useDbs([this.targetDbOf(db)]);
      })();
      opening.catch(() => this.openDbs.delete(`${db}`));
      this.openDbs.set(`${db}`, opening);
    }
    return opening;
  }
}

// ---------------------------------------------------------------------------------------------
// Repair
// ---------------------------------------------------------------------------------------------

/** What a repair needs: the job and its endpoints, opened by the caller (who closes them). */
export interface RepairContext {
  job: Job;
  /** Live sources by name (RDB file sources cannot be re-read here). */
  sources: Map<string, Endpoint>;
  target: Endpoint;
  /** TTLs may differ by this much (ms) in the re-check, as in verify. */
  ttlToleranceMs: number;
  /** Keys per pipelined batch (default 200). */
  batchKeys?: number;
  onKeyError?(source: string, db: number, key: Buffer, message: string): void;
}

export interface RepairResult {
  /** Differences given to repair. */
  attempted: number;
  /** Re-copied, and equal to the source in the re-check. */
  repaired: number;
  /** Gone from the source by the repair (and so removed from the target): nothing to compare. */
  vanished: number;
  /** Big keys among the re-copied ones, copied in windows (never one DUMP). */
  chunked: number;
  /**
   * Still different in the re-check (written again on the source meanwhile, or a copy failed), with
   * what the re-check found; a key whose source is an RDB file or unknown is listed as it came.
   */
  stillDifferent: Difference[];
}

/**
 * Re-copies every differing key from its source (DUMP/RESTORE REPLACE, big keys in windows; a
 * key gone from the source is removed from the target), then compares each of them again and
 * reports honestly what still differs: a source still written meanwhile shows up there.
 * Verify only looks at source keys, so "missing" means missing on the target; keys that exist
 * only on the target are never reported by verify, and so never repaired.
 */
export async function repairKeys(ctx: RepairContext, differences: readonly Difference[]): Promise<RepairResult> {
  const result: RepairResult = { attempted: differences.length, repaired: 0, vanished: 0, chunked: 0, stillDifferent: [] };
  const bySource = new Map<string, Difference[]>();
  for (const d of differences) {
    if (!ctx.sources.has(d.source)) {
      result.stillDifferent.push({ ...d, detail: `${d.detail} (source ${d.source} is not a live server: repair re-reads live sources only; run ferry run again for it)` });
      continue;
    }
    const list = bySource.get(d.source) ?? [];
    list.push(d);
    bySource.set(d.source, list);
  }
  const batch = ctx.batchKeys ?? 200;
  for (const [name, list] of bySource) {
    const source = ctx.sources.get(name)!;
    const copier = new KeyCopier({
      sourceName: name,
      source,
      target: ctx.target,
      job: ctx.job,
      onKeyError: (db, key, message) => ctx.onKeyError?.(name, db, key, message),
    });
    for (let i = 0; i < list.length; i += batch) {
      const part = list.slice(i, i + batch);
      const refs = part.map((d) => ({ db: d.db, key: Buffer.from(d.keyHex, 'hex') }));
      await copier.copy(refs);
      if (copier.fatal) throw copier.fatal;
      // Each key is compared again right after its copy: what differs now was written meanwhile (or failed).
      const checks = await Promise.all(refs.map((r) => recheckKey(ctx, source, r.db, copier.targetDbOf(r.db), r.key)));
      checks.forEach((check, j) => {
        if (check === 'equal') result.repaired++;
        else if (check === 'vanished') result.vanished++;
        else result.stillDifferent.push({ ...part[j], ...check });
      });
    }
    result.chunked += copier.counts.chunked;
  }
  return result;
}

type Recheck = 'equal' | 'vanished' | Pick<Difference, 'kind' | 'detail'>;

/**
 * Compares one key on the source and the target as verify does (type, value, TTL within the
 * tolerance): DUMP bytes first, logically when they differ; a big key window by window.
 */
async function recheckKey(ctx: RepairContext, source: Endpoint, db: number, targetDb: number, key: Buffer): Promise<Recheck> {
  const { target, job } = ctx;
  try {
    const [srcType, tgtType, srcTtl, tgtTtl] = await Promise.all([
      keyCommand(source, db, key, ['TYPE', key]).then(replyText),
      keyCommand(target, targetDb, key, ['TYPE', key]).then(replyText),
      keyCommand(source, db, key, ['PTTL', key]).then(replyNumber),
      keyCommand(target, targetDb, key, ['PTTL', key]).then(replyNumber),
    ]);
    if (srcType === 'none') return tgtType === 'none' ? 'vanished' : { kind: 'value', detail: 'gone from the source, still on the target' };
    if (tgtType === 'none') return { kind: 'missing', detail: 'not on the target' };
    if (srcType !== tgtType) return { kind: 'type', detail: `${srcType} on the source, ${tgtType} on the target` };
    const size = await measureKey(source, db, key);
    if (size && isBig(size, job.options.bigKey)) {
      const { equal, detail } = await compareBigKey(source, db, target, targetDb, key, srcType as KeyType);
      if (!equal) return { kind: 'value', detail };
    } else {
      const [a, b] = await Promise.all([keyCommand(source, db, key, ['DUMP', key]), keyCommand(target, targetDb, key, ['DUMP', key])]);
      if (!(Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b))) {
        const [x, y] = await Promise.all([readValue(source, db, key), readValue(target, targetDb, key)]);
        if (x === null) return y === null ? 'vanished' : { kind: 'value', detail: 'gone from the source, still on the target' };
        if (y === null) return { kind: 'missing', detail: 'not on the target' };
        if (!valuesEqual(x, y)) return { kind: 'value', detail: describeDifference(x, y) };
      }
    }
    const ttl = compareTtl(srcTtl, tgtTtl, job, ctx.ttlToleranceMs);
    return ttl ? { kind: 'ttl', detail: ttl } : 'equal';
  } catch (err) {
    return { kind: 'value', detail: `could not compare ${printableBytes(key)} again: ${(err as Error).message}` };
  }
}

export interface VerifyAndRepairResult {
  /** The verify before the repair, as verifyJob returned it. */
  verify: VerifyResult;
  /** Differences that verify found (all of them, not only the first ones it keeps). */
  found: number;
  repair: RepairResult;
}

/**
 * Verify, then repair what differs, then compare the repaired keys again (only those): the
 * verify-and-repair pass the keyspace-notification fallback ends with at cut-over. Every
 * difference is collected from verify's `verify-difference` events (its result keeps only the
 * first ones); they are held in memory until repaired.
 */
export async function verifyAndRepair(loaded: LoadedJob, opts: VerifyOptions, bus: EventBus): Promise<VerifyAndRepairResult> {
  const { job } = loaded;
  // One set of tunnels for the verify and the repair, unless the caller lends its own.
  const tunnels = opts.paths ? null : await TunnelSet.forJob(job, tunnelOptions(opts.tunnels, bus));
  const paths: EndpointPaths = opts.paths ?? { tunnels };
  try {
    const differences: Difference[] = [];
    const off = bus.on((e) => {
      if (e.type === 'verify-difference') differences.push({ source: e.source, db: e.db, targetDb: e.targetDb, keyHex: e.keyHex, kind: e.kind, detail: e.detail });
    });
    let verify: VerifyResult;
    try {
      verify = await verifyJob(loaded, { ...opts, paths }, bus);
    } finally {
      off();
    }
    const empty: RepairResult = { attempted: 0, repaired: 0, vanished: 0, chunked: 0, stillDifferent: [] };
    if (differences.length === 0 || opts.signal?.aborted) return { verify, found: differences.length, repair: empty };
    const { sources, target } = await openEndpoints(job, paths);
    try {
      const repair = await repairKeys(
        {
          job,
          sources,
          target,
          ttlToleranceMs: opts.ttlToleranceMs,
          onKeyError: (source, db, key, message) => bus.emit({ type: 'key-error', source, db, keyHex: key.toString('hex'), message, at: Date.now() }),
        },
        differences,
      );
      return { verify, found: differences.length, repair };
    } finally {
      for (const s of sources.values()) s.close();
      target.close();
    }
  } finally {
    tunnels?.close();
  }
}
