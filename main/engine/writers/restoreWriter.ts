import type { KeyCounts } from '../../../shared/events.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { explainReplyError } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import { transcodeDumpPayload } from '../rdb/encode/index.js';
import type { BigKeyEntry, SourceEntry } from '../readers/scanReader.js';
import { compareBigKey } from '../bigkeys/chunkedCompare.js';
import { copyBigKey } from '../bigkeys/chunkedCopy.js';
import type { Arg } from '../resp/commandEncoder.js';
import { CONNECTION_LOST, ReplyError, type Reply } from '../resp/reply.js';
import { readValue } from '../values/readValue.js';
import { valuesEqual } from '../values/logicalValue.js';
import { writeValue } from '../values/writeValue.js';
import { plannedExpiry, type WritePolicy } from './writePolicy.js';

export interface RestoreWriterOptions {
  source: Endpoint;
  sourceName: string;
  target: Endpoint;
  targetDbOf(sourceDb: number): number;
  policy: WritePolicy;
  counts: KeyCounts;
  /**
   * Called exactly once per entry given to `write`: `settled` true when the key needs nothing
   * more (written, unchanged, skipped by policy, expired, vanished), false when it failed, so the
   * checkpoint does not move past it.
   */
  onDone(entry: SourceEntry | BigKeyEntry, settled: boolean): void;
  /** A key the target holds with another value, left there by `onConflict: skip`. */
  onSkipped(entry: SourceEntry | BigKeyEntry, targetDb: number): void;
  /** `onConflict: fail` met an existing key with another value: the run must stop. */
  onConflict(entry: SourceEntry | BigKeyEntry, targetDb: number): void;
  onKeyError(entry: SourceEntry | BigKeyEntry, message: string): void;
  /** Pacing (latency guard): big-key windows shrink with its factor. */
  pace?: { factor: number };
  /** The target can take no more writes (connection lost, out of memory, read-only…). */
  onFatal(err: Error): void;
  /** A big key's copy moved on: elements (bytes for a string) done of the total. */
  onBigKeyProgress?(entry: BigKeyEntry, done: number, total: number): void;
}

/** Reply texts with which a server refuses a payload it cannot read (a newer RDB version). */
const PAYLOAD_REFUSED = /payload version or checksum are wrong|Bad data format/i;
/** A DUMP payload ends with its RDB version (u16 LE) and CRC-64. */
const FOOTER = 10;
/** Replies after which no later write can succeed either. */
const FATAL = /^(OOM|READONLY|MISCONF|NOPERM|LOADING|MASTERDOWN)\b|unknown command/i;

/**
 * Writes entries with pipelined RESTORE (absolute TTLs with ABSTTL on Redis ≥ 5.0), applying the
 * conflict policy. Per key: the payload as it is when the target reads its RDB version; else one
 * made for the target's version (new footer, or parsed and re-encoded) when that loses nothing;
 * else the key is re-read from the source and written with plain commands. A payload the target
 * refuses even so goes the commands way too, and once a type has been refused it goes there directly.
 */
export class RestoreWriter {
  private readonly absTtl: boolean;
  private readonly targetRdb: number;
  private readonly refusedTypeBytes = new Set<number>();
  /** Entries in flight with a payload made for the target's version (counted once RESTOREd). */
  private readonly reencoding = new Set<SourceEntry>();
  /** Big keys are copied one after another. */
  private bigQueue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RestoreWriterOptions) {
    this.absTtl = atLeast(opts.target.facts, 5, 0);
    this.targetRdb = opts.target.facts.rdbVersion;
  }

  /**
   * Copies a big key in windows (never one DUMP/RESTORE). Big keys go one at a time, beside the
   * small-key pipeline: each is long, and two at once would only double the load on both servers.
   */
  writeBig(entry: BigKeyEntry): void {
    this.bigQueue = this.bigQueue.then(() => this.copyBig(entry)).then((settled) => this.opts.onDone(entry, settled));
  }

  private async copyBig(entry: BigKeyEntry): Promise<boolean> {
    const { policy, counts, source, target } = this.opts;
    const expireAt = plannedExpiry(entry.expireAt, policy);
    if (expireAt < 0) {
      counts.expired++;
      return true;
    }
    const targetDb = this.opts.targetDbOf(entry.db);
    try {
      const outcome = await copyBigKey({
        source,
        sourceDb: entry.db,
        target,
        targetDb,
        key: entry.key,
        type: entry.type,
        expireAt: expireAt > 0 ? expireAt + target.clockOffsetMs : 0,
        onConflict: policy.onConflict,
        pace: this.opts.pace,
        onProgress: (done, total) => this.opts.onBigKeyProgress?.(entry, done, total),
      });
      if (outcome === 'vanished') {
        counts.vanished++;
        return true;
      }
      if (outcome === 'exists') {
        const { equal } = await compareBigKey(source, entry.db, target, targetDb, entry.key, entry.type);
        return this.decideExisting(entry, targetDb, equal);
      }
      counts.written++;
      counts.chunked++;
      counts.bytes += entry.bytes;
      return true;
    } catch (err) {
      return this.failKey(entry, ['RESTORE'], err);
    }
  }

  /** Writes one entry; `onDone` follows once it is dealt with. */
  write(entry: SourceEntry): void {
    const { policy, counts } = this.opts;
    const expireAt = plannedExpiry(entry.expireAt, policy);
    if (expireAt < 0) {
      counts.expired++;
      return this.opts.onDone(entry, true);
    }
    const targetDb = this.opts.targetDbOf(entry.db);
    if (this.refusedTypeBytes.has(entry.payload[0])) return this.settleLater(entry, this.viaCommands(entry, targetDb, expireAt));
    const payload = this.payloadFor(entry);
    if (!payload) return this.settleLater(entry, this.viaCommands(entry, targetDb, expireAt));
    let ttlArg = 0;
    if (expireAt > 0) {
      ttlArg = this.absTtl ? expireAt + this.opts.target.clockOffsetMs : expireAt - Date.now();
      if (ttlArg <= 0) {
        counts.expired++;
        return this.opts.onDone(entry, true);
      }
    }
    if (payload !== entry.payload) this.reencoding.add(entry);
    const args: Arg[] = ['RESTORE', entry.key, ttlArg, payload];
    if (policy.onConflict === 'replace') args.push('REPLACE');
    if (this.absTtl && expireAt > 0) args.push('ABSTTL');
    this.opts.target.send(targetDb, entry.key, args, this.onRestored, entry);
  }

  /**
   * The payload to RESTORE: the source's own when its RDB version is not newer than the target's
   * (two bytes read, nothing parsed), else one the target reads that holds the same value, or null
   * when no payload can (hash field TTLs, newer stream counters…): then commands it is.
   */
  private payloadFor(entry: SourceEntry): Buffer | null {
    const p = entry.payload;
    if (p.length < FOOTER || p.readUInt16LE(p.length - FOOTER) <= this.targetRdb) return p;
    try {
      const out = transcodeDumpPayload(p, this.targetRdb);
      return out.ok ? out.payload : null;
    } catch {
      // A value the encoder cannot write (it would be a bug): commands can still copy it.
      return null;
    }
  }

  /** RESTORE's reply: the common case is settled here; refusals go down the slower paths. */
  private readonly onRestored = (reply: Reply, entry: SourceEntry): void => {
    const reencoded = this.reencoding.delete(entry);
    if (!(reply instanceof ReplyError)) {
      this.opts.counts.written++;
      if (reencoded) this.opts.counts.reencoded++;
      this.opts.counts.bytes += entry.payload.length;
      return this.opts.onDone(entry, true);
    }
    this.settleLater(entry, this.onRefused(entry, reply));
  };

  private settleLater(entry: SourceEntry, outcome: Promise<boolean>): void {
    void outcome.then((settled) => this.opts.onDone(entry, settled));
  }

  private async onRefused(entry: SourceEntry, reply: ReplyError): Promise<boolean> {
    const targetDb = this.opts.targetDbOf(entry.db);
    if (reply.code === 'BUSYKEY') return this.resolveExisting(entry, targetDb);
    if (PAYLOAD_REFUSED.test(reply.message)) {
      this.refusedTypeBytes.add(entry.payload[0]);
      const expireAt = plannedExpiry(entry.expireAt, this.opts.policy);
      if (expireAt < 0) {
        this.opts.counts.expired++;
        return true;
      }
      return this.viaCommands(entry, targetDb, expireAt);
    }
    return this.failKey(entry, ['RESTORE'], reply);
  }

  /** The target refused the payload (an older server): copy the value with ordinary commands. */
  private async viaCommands(entry: SourceEntry, targetDb: number, expireAt: number): Promise<boolean> {
    const { source, target, counts, policy } = this.opts;
    try {
      const value = await readValue(source, entry.db, entry.key);
      if (value === null) {
        counts.vanished++;
        return true;
      }
      const outcome = await writeValue(target, targetDb, entry.key, value, {
        expireAt: expireAt > 0 ? expireAt + target.clockOffsetMs : 0,
        ifAbsent: policy.onConflict !== 'replace',
      });
      if (outcome === 'exists') return await this.resolveExisting(entry, targetDb);
      counts.written++;
      counts.viaCommands++;
      counts.bytes += entry.payload.length;
      return true;
    } catch (err) {
      return this.failKey(entry, ['RESTORE'], err);
    }
  }

  /**
   * The key exists on the target. Same value: ours from before a resume (or identical data), not
   * a conflict. Another value: the conflict policy decides.
   */
  private async resolveExisting(entry: SourceEntry, targetDb: number): Promise<boolean> {
    const { source, target } = this.opts;
    try {
      const targetPayload = (await target.call(targetDb, entry.key, 'DUMP', entry.key)) as Buffer | null;
      // The target's DUMP can match what was sent (the source's payload, or the one made for it).
      let same = targetPayload !== null && (targetPayload.equals(entry.payload) || targetPayload.equals(this.payloadFor(entry) ?? entry.payload));
      if (!same && targetPayload !== null) {
        const [ours, theirs] = await Promise.all([readValue(source, entry.db, entry.key), readValue(target, targetDb, entry.key)]);
        same = ours !== null && theirs !== null && valuesEqual(ours, theirs);
      }
      return this.decideExisting(entry, targetDb, same);
    } catch (err) {
      return this.failKey(entry, ['DUMP'], err);
    }
  }

  /** The policy's answer for a key the target already holds. */
  private decideExisting(entry: SourceEntry | BigKeyEntry, targetDb: number, same: boolean): boolean {
    const { counts } = this.opts;
    if (same) {
      counts.unchanged++;
      return true;
    }
    if (this.opts.policy.onConflict === 'skip') {
      counts.skipped++;
      this.opts.onSkipped(entry, targetDb);
      return true;
    }
    this.opts.onConflict(entry, targetDb);
    return false;
  }

  /** Reports a key that could not be written; always false (not settled). */
  private failKey(entry: SourceEntry | BigKeyEntry, args: Arg[], err: unknown): false {
    const reply = err instanceof ReplyError ? err : null;
    if (reply && (reply.code === CONNECTION_LOST || FATAL.test(reply.message))) {
      this.opts.onFatal(explainReplyError(this.opts.target.label, args, reply));
      return false;
    }
    this.opts.counts.errors++;
    this.opts.onKeyError(entry, err instanceof Error ? err.message : String(err as Reply));
    return false;
  }
}
