import { emptyCounts, type KeyCounts } from '../../../shared/events.js';
import type { Job } from '../../../shared/job.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { explainReplyError } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import type { KeyFilter } from '../filters/keyFilter.js';
import { payloadType, type KeyType } from '../keys/keyTypes.js';
import type { Pace } from '../pacing/pace.js';
import type { RdbItem } from '../rdb/index.js';
import { Page } from '../readers/cursorTracker.js';
import type { ScanReader, SourceEntry } from '../readers/scanReader.js';
import { CONNECTION_LOST, ReplyError } from '../resp/reply.js';
import type { ShardCheckpoint } from '../run/checkpoint.js';
import { describeKey } from '../run/describeKey.js';
import { targetDbMapping } from '../run/dbMapping.js';
import { SHARD_BUDGET } from '../run/sourceCopy.js';
import { RestoreWriter } from '../writers/restoreWriter.js';
import { plannedExpiry, type WritePolicy } from '../writers/writePolicy.js';
import { writeStringFromChunks } from './fileBigString.js';
import { FileValues } from './fileValues.js';
import { chunkBytesFor, dumpPayloadOf, fileLabel, fileReadError, readRdbFile, type RdbSourceFile } from './rdbFile.js';

/** A key as the hooks see it (what the journal, warnings and errors need). */
export interface FileKey {
  db: number;
  key: Buffer;
}

/** A big key found in the file. */
export interface FileBigKey extends FileKey {
  type: KeyType;
  bytes: number;
  elements: number;
}

export interface RdbFileSourceHooks {
  /** A string over options.bigKey.bytes, about to be streamed into a temp key. */
  onBigKey(key: FileBigKey): void;
  onBigKeyProgress?(key: FileBigKey, done: number, total: number): void;
  onSkipped(key: FileKey, targetDb: number): void;
  onConflict(key: FileKey, targetDb: number): void;
  onKeyError(db: number, key: Buffer, message: string): void;
  onWarning(message: string): void;
  onFatal(err: Error): void;
}

/** What a checkpoint keeps about an RDB source: the settled prefix, and which file it was. */
export interface RdbFileState {
  shards: Record<string, ShardCheckpoint>;
  counts: KeyCounts;
  file: { size: number; mtimeMs: number };
}

/** The checkpoint's one "shard" of a file source: cursor = how many keys, in file order, are settled. */
export const FILE_SHARD = 'file';

/** The fewest keys in flight however hard the latency guard brakes (as the scan reader). */
const MIN_DEPTH = 1000;
/** The token bucket (and the guard's pace) is applied once per this many keys. */
const BUCKET_KEYS = 256;
/** While the guard brakes: the longest pause between blocks, and the slowest pace (of full speed). */
const MAX_PAUSE_MS = 1000;
const MIN_PACE = 1 / 8;
/** Big collections listed one by one in warnings; past this they are only counted. */
const BIG_WARNINGS = 20;

/** An entry as RestoreWriter gets it, plus its place in the file. */
type FileEntry = SourceEntry & { index: number };

/**
 * RestoreWriter's entries carry the scan path's page and reader, which only the scan path's own
 * `onDone` looks at; a file source settles its keys by their index instead (see KeyProgress).
 */
const NO_PAGE = new Page(FILE_SHARD, () => undefined);
const NO_READER = null as unknown as ScanReader;

/**
 * Copies the keys of one RDB file into the target, in file order, through a RestoreWriter: each
 * key's stored bytes become a DUMP payload (the file's RDB version and a CRC-64 as footer) and go
 * out as RESTORE … ABSTTL with the key's expire time, so nothing is decoded and encoded again.
 * Strings longer than options.bigKey.bytes are never held: they stream into a same-slot temp key
 * (fileBigString). The job's filters and db mapping apply as for a live source, with the same
 * budget of keys and bytes in flight. The checkpoint is the number of keys, in file order, that are
 * all settled: a resumed run reads the file again and skips them.
 */
export class RdbFileSource {
  readonly counts: KeyCounts;
  private readonly progress: KeyProgress;
  private readonly targetDbOf: (sourceDb: number) => number;
  private readonly openDbs = new Set<number>();
  private readonly values: FileValues;
  private stopped = false;
  private complete: boolean;
  private inFlightKeys = 0;
  private inFlightBytes = 0;
  private wake: (() => void) | null = null;
  private bucketKeys = 0;
  private bucketBytes = 0;
  /** When the current block of BUCKET_KEYS keys began (performance clock). */
  private blockStart = performance.now();
  private bigCollections = 0;
  /** For the total: key records read, the offset reached, the keys RESIZEDB announced. */
  private records = 0;
  private offset = 0;
  private announced = 0;
  private ended = false;

  constructor(
    readonly name: string,
    readonly file: RdbSourceFile,
    private readonly target: Endpoint,
    private readonly job: Job,
    private readonly filter: KeyFilter,
    private readonly policy: WritePolicy,
    saved: { shards: Record<string, ShardCheckpoint>; counts?: KeyCounts },
    private readonly hooks: RdbFileSourceHooks,
    private readonly pace?: Pace,
  ) {
    this.counts = saved.counts ?? emptyCounts();
    const shard = saved.shards[FILE_SHARD];
    this.complete = shard?.complete ?? false;
    this.progress = new KeyProgress(shard ? Number(shard.cursor) : 0);
    this.targetDbOf = targetDbMapping(job, target.address);
    this.values = new FileValues(fileLabel(file));
  }

  /**
   * Keys in the file (before filters, as a live source's total): exact once the file is read; until
   * then the most of the keys read so far, the keys RESIZEDB announced for the dbs reached (files of
   * Redis 3.2 and later), and the keys read so far scaled up by the share of the file's bytes read.
   */
  get total(): number {
    if (this.ended) return this.records;
    // Done in an earlier pass: not read again.
    if (this.complete && this.records === 0) return this.counts.scanned;
    const settledIn = this.records >= 1000 || this.offset * 100 >= this.file.size;
    const byShare = settledIn && this.offset > 0 ? Math.round((this.records * this.file.size) / this.offset) : 0;
    return Math.max(this.records, this.announced, byShare);
  }

  checkpointState(): RdbFileState {
    return {
      shards: { [FILE_SHARD]: { cursor: String(this.progress.committed), complete: this.complete } },
      counts: { ...this.counts },
      file: { size: this.file.size, mtimeMs: this.file.mtimeMs },
    };
  }

  /** Stops reading new keys; keys already read are still written. */
  stop(): void {
    this.stopped = true;
    this.wakeUp();
  }

  /**
   * Resolves when the file has been read to its end (or reading was stopped) and every key read is
   * dealt with; rejects when the file cannot be read (a corrupt record, a wrong checksum), with a
   * message naming the file and saying what was written.
   */
  async run(): Promise<void> {
    if (this.complete) return;
    const writer = new RestoreWriter({
      source: this.values.asEndpoint(),
      sourceName: this.name,
      target: this.target,
      targetDbOf: this.targetDbOf,
      policy: this.policy,
      counts: this.counts,
      onSkipped: (entry, targetDb) => this.hooks.onSkipped(entry, targetDb),
      onConflict: (entry, targetDb) => this.hooks.onConflict(entry, targetDb),
      onKeyError: (entry, message) => this.hooks.onKeyError(entry.db, entry.key, message),
      onDone: (entry, settled) => this.done(entry as FileEntry, settled),
      onFatal: this.hooks.onFatal,
      pace: this.pace?.guard,
    });
    const items = readRdbFile(this.file, { rawValues: true, chunkBytes: chunkBytesFor(this.job) });
    const writtenBefore = this.counts.written;
    let version = this.file.rdbVersion;
    let index = 0;
    let failure: unknown = null;
    try {
      for (;;) {
        if (this.stopped) break;
        const next = await items.next();
        if (next.done) break;
        const item = next.value;
        switch (item.kind) {
          case 'header':
            version = item.version;
            this.values.setRdbVersion(version);
            break;
          case 'resize':
            this.announced += item.dbSize;
            break;
          case 'function':
            this.hooks.onWarning(`${fileLabel(this.file)} holds the function library ${item.library ?? '(unnamed)'}: Ferry copies keys, not functions; load it on the target with FUNCTION LOAD`);
            break;
          case 'module-aux':
            this.hooks.onWarning(`${fileLabel(this.file)} holds data of the module ${item.moduleName}, which Ferry skips`);
            break;
          case 'key':
            this.noteRecord(item.offset);
            await this.copyKey(writer, item, version, index++);
            break;
          case 'key-start':
            this.noteRecord(item.offset);
            await this.copyBigString(item, items, index++);
            break;
          case 'end':
            this.ended = true;
            if (item.checksumOk === null) this.hooks.onWarning(`${fileLabel(this.file)} has no checksum (${version < 5 ? `RDB version ${version} files have none` : 'it was written with rdbchecksum no'}): damage inside a value would go unnoticed`);
            break;
        }
      }
    } catch (err) {
      failure = err;
    } finally {
      // Stopped early: closes the file.
      await items.return(undefined).catch(() => undefined);
    }
    await this.drained();
    if (failure) throw fileReadError(this.file, failure, { keys: this.counts.written - writtenBefore, wrote: this.counts.written > writtenBefore });
    this.complete = this.ended && !this.stopped && this.progress.allSettled(index);
  }

  private noteRecord(offset: number): void {
    this.records++;
    this.offset = offset;
  }

  /** One key that came whole: its payload goes to the writer. */
  private async copyKey(writer: RestoreWriter, item: Extract<RdbItem, { kind: 'key' }>, version: number, index: number): Promise<void> {
    if (index < this.progress.committed) return;
    const { counts } = this;
    if (!this.filter.matchesKey(item.key)) return this.progress.settle(index, true);
    counts.scanned++;
    const type = payloadType(item.raw!);
    if (type === 'module' || type === 'unknown') {
      // The parser refuses these before they get here; kept for safety.
      counts.errors++;
      this.hooks.onKeyError(item.db, item.key, `holds a value of RDB type ${item.type}, which Ferry cannot copy`);
      return this.progress.settle(index, false);
    }
    if (!this.filter.matchesType(type)) {
      counts.filtered++;
      return this.progress.settle(index, true);
    }
    const v = item.value;
    if (v.type === 'hash' && v.fieldExpiresMs?.some(([, at]) => at > Date.now()) && !atLeast(this.target.facts, 7, 4) && !this.job.options.acceptLoss.includes('hash-field-ttls')) {
      counts.errors++;
      this.hooks.onKeyError(
        item.db,
        item.key,
        `is a hash whose fields have their own TTLs (RDB type ${item.type}), which the target (Redis ${this.target.facts.version}) cannot keep; ` +
          'use a target of 7.4 or newer, or accept the loss with options.acceptLoss: [hash-field-ttls]',
      );
      return this.progress.settle(index, false);
    }
    const payload = dumpPayloadOf(item.raw!, version);
    this.noteBigCollection(item, type, payload.length);
    await this.room(payload.length);
    await this.useTargetDb(item.db);
    const entry: FileEntry = {
      db: item.db,
      key: item.key,
      payload,
      type,
      // 0 means "no TTL" to the writer; a stored time of 0 or less is long past.
      expireAt: item.expireAtMs === null ? 0 : Math.max(1, item.expireAtMs),
      page: NO_PAGE,
      reader: NO_READER,
      index,
    };
    this.values.add(item.db, item.key, payload);
    this.inFlightKeys++;
    this.inFlightBytes += payload.length;
    writer.write(entry);
  }

  /** The writer is done with an entry. */
  private done(entry: FileEntry, settled: boolean): void {
    this.values.remove(entry.key);
    this.inFlightKeys--;
    this.inFlightBytes -= entry.payload.length;
    this.progress.settle(entry.index, settled);
    this.wakeUp();
  }

  /** A string too big to hold: its chunks stream into a temp key before the next item is read. */
  private async copyBigString(item: Extract<RdbItem, { kind: 'key-start' }>, items: AsyncGenerator<RdbItem>, index: number): Promise<void> {
    // The chunks come from the file's items; a read error among them is the file's, not the key's.
    let readError: unknown = null;
    let last = false;
    const chunks: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Buffer>> => {
          if (last) return { done: true, value: undefined };
          let next;
          try {
            next = await items.next();
          } catch (err) {
            readError = err;
            throw err;
          }
          if (next.done || next.value.kind !== 'key-chunk') {
            readError = new Error(`${fileLabel(this.file)}: the chunks of a big string ended early (a parser bug)`);
            throw readError;
          }
          last = next.value.last;
          return { done: false, value: next.value.data };
        },
      }),
    };
    const drain = async () => {
      for await (const chunk of chunks) void chunk;
    };
    const finish = async (settled: boolean) => {
      await drain();
      this.progress.settle(index, settled);
    };
    if (index < this.progress.committed) return drain();
    const { counts } = this;
    if (!this.filter.matchesKey(item.key)) return finish(true);
    counts.scanned++;
    if (!this.filter.matchesType('string')) {
      counts.filtered++;
      return finish(true);
    }
    const expireAt = plannedExpiry(item.expireAtMs === null ? 0 : Math.max(1, item.expireAtMs), this.policy);
    if (expireAt < 0) {
      counts.expired++;
      return finish(true);
    }
    const big: FileBigKey = { db: item.db, key: item.key, type: 'string', bytes: item.length, elements: 1 };
    this.hooks.onBigKey(big);
    const targetDb = this.targetDbOf(item.db);
    let settled = false;
    try {
      await this.useTargetDb(item.db);
      const outcome = await writeStringFromChunks({
        target: this.target,
        targetDb,
        key: item.key,
        length: item.length,
        chunks,
        expireAt: expireAt > 0 ? expireAt + this.target.clockOffsetMs : 0,
        onConflict: this.policy.onConflict,
        onProgress: (done, total) => this.hooks.onBigKeyProgress?.(big, done, total),
      });
      settled = this.decide(outcome, big, targetDb, item.length);
    } catch (err) {
      if (readError) throw readError;
      settled = this.failKey(big, err);
    }
    await finish(settled);
  }

  private decide(outcome: Awaited<ReturnType<typeof writeStringFromChunks>>, key: FileKey, targetDb: number, bytes: number): boolean {
    const { counts } = this;
    switch (outcome) {
      case 'written':
        counts.written++;
        counts.chunked++;
        counts.bytes += bytes;
        return true;
      case 'expired':
        counts.expired++;
        return true;
      case 'same':
        counts.unchanged++;
        return true;
      case 'different':
        if (this.policy.onConflict === 'skip') {
          counts.skipped++;
          this.hooks.onSkipped(key, targetDb);
          return true;
        }
        this.hooks.onConflict(key, targetDb);
        return false;
    }
  }

  /** As RestoreWriter: a lost connection or a target that takes no writes is fatal, else a key error. */
  private failKey(key: FileKey, err: unknown): false {
    if (err instanceof ReplyError && (err.code === CONNECTION_LOST || /^(OOM|READONLY|MISCONF|NOPERM|LOADING|MASTERDOWN)\b|unknown command/i.test(err.message))) {
      this.hooks.onFatal(explainReplyError(this.target.label, ['SET'], err));
      return false;
    }
    this.counts.errors++;
    this.hooks.onKeyError(key.db, key.key, err instanceof Error ? err.message : String(err));
    return false;
  }

  /** Collections over options.bigKey go as one RESTORE from a file (said once per key, up to a limit). */
  private noteBigCollection(item: Extract<RdbItem, { kind: 'key' }>, type: KeyType, bytes: number): void {
    const { bigKey } = this.job.options;
    const v = item.value;
    const elements = v.type === 'list' ? v.items.length : v.type === 'set' ? v.members.length : v.type === 'hash' ? v.fields.length : v.type === 'zset' ? v.members.length : v.type === 'stream' ? v.stream.entries.length : 1;
    if (type === 'string' || (bytes < bigKey.bytes && elements < bigKey.elements)) return;
    if (++this.bigCollections > BIG_WARNINGS) return;
    this.hooks.onWarning(
      `${describeKey(item.key)} (db ${item.db}, ${type}, ${(bytes / 1024 / 1024).toFixed(1)} MB, ${elements.toLocaleString('en-US')} elements) from ${fileLabel(this.file)} is a big key: ` +
        'from a file it is written with one RESTORE, which keeps the target busy while it loads' +
        (this.bigCollections === BIG_WARNINGS ? ' (further big keys are not listed)' : ''),
    );
  }

  /**
   * Waits while the keys / bytes in flight are over the budget (scaled by the latency guard's
   * factor, as the scan reader does), for the token bucket, and, while the guard brakes, between
   * blocks of keys: a block that took t ms is followed by a pause of t × (1/factor − 1), so the
   * servers get (1 − factor) of the time to themselves (the factor counted as at least 1/8, and at
   * most a second's pause, as the scan reader's page pacing).
   */
  private async room(bytes: number): Promise<void> {
    for (;;) {
      const factor = this.pace?.guard.factor ?? 1;
      const depth = Math.max(MIN_DEPTH, Math.floor(SHARD_BUDGET.keys * factor));
      if ((this.inFlightKeys < depth && this.inFlightBytes < SHARD_BUDGET.bytes) || this.stopped) break;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const pace = this.pace;
    if (!pace) return;
    this.bucketKeys++;
    this.bucketBytes += bytes;
    if (this.bucketKeys < BUCKET_KEYS && this.bucketBytes < 1 << 20) return;
    let wait = pace.bucket.take(this.bucketKeys, this.bucketBytes);
    this.bucketKeys = this.bucketBytes = 0;
    const now = performance.now();
    const factor = pace.guard.factor;
    if (factor < 1) wait = Math.max(wait, Math.min(MAX_PAUSE_MS, (now - this.blockStart) * (1 / Math.max(factor, MIN_PACE) - 1)));
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    this.blockStart = performance.now();
  }

  private wakeUp(): void {
    const wake = this.wake;
    if (!wake) return;
    // Some slack before reading on, so the loop does not wake for every single key.
    const depth = Math.max(MIN_DEPTH, Math.floor(SHARD_BUDGET.keys * (this.pace?.guard.factor ?? 1)));
    if (this.stopped || this.inFlightKeys === 0 || (this.inFlightKeys <= depth * 0.75 && this.inFlightBytes <= SHARD_BUDGET.bytes * 0.75)) {
      this.wake = null;
      wake();
    }
  }

  /** Resolves once every key handed to the writer is dealt with. */
  private async drained(): Promise<void> {
    while (this.inFlightKeys > 0) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  private async useTargetDb(sourceDb: number): Promise<void> {
    const db = this.targetDbOf(sourceDb);
    if (this.openDbs.has(db)) return;
    await this.target.useDbs([db]);
    this.openDbs.add(db);
  }
}

/**
 * Which keys, in file order, are settled (on the target, or needing nothing more): `committed` is
 * how many from the start all are, what a resumed run skips. Keys settle out of order (pipelines,
 * big strings beside them); a key that fails holds `committed` before it for good, so a resumed run
 * goes over it again (and over the keys after it, which then count as unchanged).
 */
export class KeyProgress {
  committed: number;
  private readonly settledAhead = new Set<number>();
  private blockedAt = Infinity;

  constructor(start: number) {
    this.committed = start;
  }

  settle(index: number, settled: boolean): void {
    if (index < this.committed) return;
    if (!settled) {
      this.blockedAt = Math.min(this.blockedAt, index);
      return;
    }
    if (index >= this.blockedAt) return;
    if (index !== this.committed) {
      this.settledAhead.add(index);
      return;
    }
    this.committed++;
    while (this.settledAhead.delete(this.committed)) this.committed++;
  }

  /** Every one of the first `keys` keys is settled. */
  allSettled(keys: number): boolean {
    return this.committed >= keys && this.blockedAt === Infinity;
  }
}
