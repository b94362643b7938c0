import type { KeyCounts } from '../../../shared/events.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { explainReplyError } from '../endpoints/endpoint.js';
import type { KeyFilter } from '../filters/keyFilter.js';
import { payloadType, type KeyType } from '../keys/keyTypes.js';
import type { RedisConnection } from '../resp/connection.js';
import { CONNECTION_LOST, ReplyError, replyArray, replyText, type Reply } from '../resp/reply.js';
import { isBig, measureKey } from '../bigkeys/bigKeyProbe.js';
import type { Pace } from '../pacing/pace.js';
import { CursorTracker, type Page } from './cursorTracker.js';

/** One key as read from a source: its DUMP payload and its absolute expiry on the local clock. */
export interface SourceEntry {
  db: number;
  key: Buffer;
  payload: Buffer;
  type: KeyType;
  /** Unix ms on this machine's clock; 0 = no TTL. */
  expireAt: number;
  page: Page;
  /** The reader to tell (`finish`) once the entry is dealt with. */
  reader: ScanReader;
}

/**
 * A key at or above `options.bigKey`, found before it was read: it is never DUMPed, but copied in
 * windows (bigkeys/chunkedCopy).
 */
export interface BigKeyEntry {
  db: number;
  key: Buffer;
  type: KeyType;
  bytes: number;
  elements: number;
  /** Unix ms on this machine's clock; 0 = no TTL. */
  expireAt: number;
  page: Page;
  reader: ScanReader;
}

/** How a reader tells a big key from a small one before reading it. */
export interface SizeCheck {
  /** MEMORY USAGE is there (Redis ≥ 4.0, not refused); otherwise every key's type and length are asked. */
  memoryUsage: boolean;
  bigKey: { bytes: number; elements: number };
}

export interface ScanReaderOptions {
  endpoint: Endpoint;
  db: number;
  /** For a cluster source: the master whose keys this reader scans. */
  node?: { host: string; port: number };
  filter: KeyFilter;
  startCursor: string;
  /** The reader never holds more than this many read-but-unwritten keys / bytes. */
  budget: { keys: number; bytes: number };
  counts: KeyCounts;
  sizeCheck: SizeCheck;
  /** Pacing: the latency guard's factor scales the keys in flight and spaces pages; the token bucket caps keys/s and bytes/s. */
  pace?: Pace;
  /** Hands an entry on; the consumer calls `entry.reader.finish(entry, settled)` once it is dealt with. */
  onEntry(entry: SourceEntry): void;
  /** Hands a big key on, the same way. */
  onBigKey(entry: BigKeyEntry): void;
  /** A key that could not be read (not fatal). */
  onKeyError(key: Buffer, message: string): void;
}

/** What the reader keeps about a key between its PTTL and DUMP replies. */
interface KeyRead {
  key: Buffer;
  page: Page;
  pttl: Reply;
}

function onPttl(reply: Reply, read: KeyRead): void {
  read.pttl = reply;
}

const MIN_COUNT = 10;
/** The fewest keys in flight however hard the latency guard brakes (half a page: pages keep flowing). */
const MIN_DEPTH = 1000;
/** The longest pause between pages that pacing inserts. */
const MAX_PAUSE_MS = 1000;
/**
 * Pacing never slows the reader below an eighth of its full speed, however low the guard's factor:
 * latency that Ferry does not cause (other clients, a noisy VM) would otherwise bring it to a crawl.
 */
const MIN_PAGE_PACE = 1 / 8;
const MAX_COUNT = 20_000;
/** Pages of about this many keys keep the pipelines full without making any one SCAN expensive. */
const PAGE_KEYS = 2000;
/** A SCAN slower than this (server busy or a sparse keyspace) gets a smaller COUNT. */
const SLOW_SCAN_MS = 10;

/**
 * Reads one db of one source node: SCAN pages, then PTTL + MEMORY USAGE + DUMP per key, pipelined;
 * a key at or above `options.bigKey` is measured and handed on as a big key instead of DUMPed
 * (a DUMP of a 256 MB string blocks the source ~1.5 s). The next SCAN
 * goes out before the current page's DUMPs so the connection never idles, and no SCAN is sent while
 * the read-but-unwritten work exceeds the budget (back-pressure from the writer).
 */
export class ScanReader {
  readonly tracker: CursorTracker;
  private count = 100;
  private inFlightKeys = 0;
  private inFlightBytes = 0;
  private nextCursor: string | null;
  private scanPending = false;
  private stopped = false;
  private conn!: RedisConnection;
  private settle!: { resolve: () => void; reject: (err: Error) => void };
  /** No SCAN before this time (ms, performance clock): pacing. */
  private resumeAt = 0;
  private resumeTimer: NodeJS.Timeout | null = null;
  /** Keys/s this reader makes when the guard does not brake, and the window it is measured over. */
  private fullRate = 0;
  private window = { from: performance.now(), keys: 0 };

  constructor(private readonly opts: ScanReaderOptions) {
    this.tracker = new CursorTracker(opts.startCursor);
    this.nextCursor = opts.startCursor;
  }

  /**
   * Resolves when the scan has reached its end (or was stopped) and every key read is dealt with;
   * rejects on a fatal error. Whether every key was settled is `tracker.complete`.
   */
  async run(): Promise<void> {
    const { endpoint, db, node } = this.opts;
    this.conn = node ? await endpoint.nodeConnection(node.host, node.port) : endpoint.dbConnection(db);
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.pump();
    });
  }

  /** Stops sending SCANs; what is in flight still finishes. */
  stop(): void {
    this.stopped = true;
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    this.checkDone();
  }

  /** The consumer is done with an entry (`settled`: see Page.release); frees its share of the budget. */
  finish(entry: SourceEntry | BigKeyEntry, settled: boolean): void {
    this.inFlightKeys--;
    if ('payload' in entry) this.inFlightBytes -= entry.payload.length;
    entry.page.release(settled);
    this.checkDone();
    this.pump();
  }

  private pump(): void {
    if (this.stopped || this.scanPending || this.nextCursor === null || this.resumeTimer) return;
    const factor = this.opts.pace?.guard.factor ?? 1;
    // A slow target gets fewer keys in flight; never fewer than a small pipeline's worth.
    const depth = Math.max(MIN_DEPTH, Math.floor(this.opts.budget.keys * factor));
    if (this.inFlightKeys >= depth || this.inFlightBytes >= this.opts.budget.bytes) return;
    const wait = this.resumeAt - performance.now();
    if (wait > 0) {
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = null;
        this.pump();
      }, wait);
      return;
    }
    const cursor = this.nextCursor;
    const args = this.opts.filter.scanArgs(cursor, this.count);
    this.scanPending = true;
    const sentAt = performance.now();
    const wasIdle = this.conn.inFlight === 0;
    this.conn.send(args, (reply) => this.onPage(reply, performance.now() - sentAt, wasIdle));
  }

  private onPage(reply: Reply, ms: number, wasIdle: boolean): void {
    this.scanPending = false;
    if (reply instanceof ReplyError) return this.fail(reply, ['SCAN']);
    const [cursorReply, keysReply] = replyArray(reply);
    const cursor = replyText(cursorReply);
    const keys = replyArray(keysReply) as Buffer[];
    this.adaptCount(keys.length, ms, wasIdle);
    this.nextCursor = cursor === '0' ? null : cursor;
    const page = this.tracker.openPage(cursor);
    // Ask for the next page first: its reply queues behind this page's DUMPs, keeping the pipe full.
    const selected = keys.filter((key) => this.opts.filter.matchesKey(key));
    this.opts.counts.scanned += selected.length;
    this.inFlightKeys += selected.length;
    this.pace(selected.length);
    this.pump();
    for (const key of selected) this.readKey(key, page);
    page.seal();
    this.checkDone();
  }

  private readKey(key: Buffer, page: Page): void {
    const { endpoint, db } = this.opts;
    page.hold();
    const read: KeyRead = { key, page, pttl: -1 };
    endpoint.send(db, key, ['PTTL', key], onPttl, read);
    if (this.opts.sizeCheck.memoryUsage) endpoint.send(db, key, ['MEMORY', 'USAGE', key], this.onMemory, read);
    else void this.checkBig(read);
  }

  /** MEMORY USAGE's reply: small keys are DUMPed at once, possibly big ones measured first. */
  private readonly onMemory = (reply: Reply, read: KeyRead): void => {
    if (reply instanceof ReplyError) return this.onDump(reply, read);
    if (reply === null) return this.onDump(null, read);
    const { bigKey } = this.opts.sizeCheck;
    // An element takes at least a byte: a key smaller than both limits cannot pass either.
    if ((reply as number) < Math.min(bigKey.bytes, bigKey.elements)) this.dump(read);
    else void this.checkBig(read);
  };

  private dump(read: KeyRead): void {
    this.opts.endpoint.send(this.opts.db, read.key, ['DUMP', read.key], this.onDump, read);
  }

  /** Type and length of a key that may be big (O(1) commands); big ones never get a DUMP. */
  private async checkBig(read: KeyRead): Promise<void> {
    const { endpoint, db, sizeCheck, counts } = this.opts;
    let measured;
    try {
      measured = await measureKey(endpoint, db, read.key);
    } catch (err) {
      return this.onDump(err instanceof ReplyError ? err : new ReplyError(`ERR ${(err as Error).message}`), read);
    }
    if (measured === null) return this.onDump(null, read);
    if (!isBig(measured, sizeCheck.bigKey)) return this.dump(read);
    const type = measured.type as KeyType;
    if (!this.opts.filter.matchesType(type)) {
      counts.filtered++;
      return this.abandon(read.page, true);
    }
    const pttl = read.pttl;
    this.opts.onBigKey({
      db,
      key: read.key,
      type,
      bytes: measured.bytes,
      elements: measured.elements,
      expireAt: typeof pttl === 'number' && pttl >= 0 ? Date.now() + pttl : 0,
      page: read.page,
      reader: this,
    });
  }

  /** DUMP's reply (or a size check's failure); PTTL's has arrived before it (replies come in order on the key's connection). */
  private readonly onDump = (reply: Reply, read: KeyRead): void => {
    const readAt = Date.now();
    const { key, page, pttl } = read;
    const counts = this.opts.counts;
    const failed = reply instanceof ReplyError ? reply : pttl instanceof ReplyError ? pttl : null;
    if (failed) {
      const command = reply instanceof ReplyError ? 'DUMP' : 'PTTL';
      this.abandon(page, false);
      if (failed.code === CONNECTION_LOST || /unknown command|NOPERM/i.test(failed.message)) return this.fail(failed, [command]);
      counts.errors++;
      return this.opts.onKeyError(key, `${command} failed: ${failed.message}`);
    }
    if (reply === null || pttl === -2) {
      counts.vanished++;
      return this.abandon(page, true);
    }
    const payload = reply as Buffer;
    const type = payloadType(payload);
    if (type === 'module' || type === 'unknown') {
      counts.errors++;
      this.opts.onKeyError(key, `holds a ${type === 'module' ? 'module' : `type ${payload[0]}`} value, which Ferry cannot copy`);
      return this.abandon(page, false);
    }
    if (!this.opts.filter.matchesType(type)) {
      counts.filtered++;
      return this.abandon(page, true);
    }
    this.inFlightBytes += payload.length;
    const bytesWait = this.opts.pace?.bucket.take(0, payload.length) ?? 0;
    if (bytesWait > 0) this.resumeAt = Math.max(this.resumeAt, performance.now() + bytesWait);
    this.opts.onEntry({ db: this.opts.db, key, payload, type, expireAt: typeof pttl === 'number' && pttl >= 0 ? readAt + pttl : 0, page, reader: this });
  };

  /**
   * Spaces the pages: the token bucket's wait for this page's keys, and, while the latency guard
   * holds its factor below 1, a pace of (factor × the keys/s this reader made at full speed), so
   * the servers get (1 - factor) of the time to themselves.
   */
  private pace(keys: number): void {
    const pace = this.opts.pace;
    if (!pace) return;
    const now = performance.now();
    const factor = pace.guard.factor;
    this.sample(keys, now, factor);
    let wait = pace.bucket.take(keys, 0);
    if (factor < 1 && this.fullRate > 0) {
      const rate = this.fullRate * Math.max(factor, MIN_PAGE_PACE);
      wait = Math.max(wait, Math.min(MAX_PAUSE_MS, (keys / rate) * 1000));
    }
    this.resumeAt = Math.max(this.resumeAt, now + wait);
  }

  /** Keeps `fullRate`: keys/s over windows of at least 200 ms in which the guard did not brake. */
  private sample(keys: number, now: number, factor: number): void {
    if (factor < 1) {
      this.window = { from: now, keys: 0 };
      return;
    }
    this.window.keys += keys;
    const ms = now - this.window.from;
    if (ms < 200) return;
    const rate = (this.window.keys / ms) * 1000;
    this.fullRate = this.fullRate > 0 ? this.fullRate * 0.7 + rate * 0.3 : rate;
    this.window = { from: now, keys: 0 };
  }

  /** A key that will not reach the writer (vanished, filtered, unreadable): frees its budget. */
  private abandon(page: Page, settled: boolean): void {
    this.inFlightKeys--;
    page.release(settled);
    this.pump();
  }

  private adaptCount(returned: number, ms: number, wasIdle: boolean): void {
    if (wasIdle && ms > SLOW_SCAN_MS) this.count = Math.max(MIN_COUNT, this.count >> 1);
    else if (returned < PAGE_KEYS / 2) this.count = Math.min(MAX_COUNT, this.count * 2);
    else if (returned > PAGE_KEYS * 2) this.count = Math.max(MIN_COUNT, this.count >> 1);
  }

  private checkDone(): void {
    const scanOver = this.stopped || this.nextCursor === null;
    if (scanOver && this.inFlightKeys === 0 && !this.scanPending) this.settle?.resolve();
  }

  private fail(err: ReplyError, args: string[]): void {
    this.stopped = true;
    this.settle?.reject(explainReplyError(this.opts.endpoint.label, args, err));
  }
}
