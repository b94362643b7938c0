import type { TtlHistogram } from '../../../shared/plan.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { explainReplyError } from '../endpoints/endpoint.js';
import type { KeyFilter } from '../filters/keyFilter.js';
import { keySlot } from '../keys/hashSlot.js';
import type { RedisConnection } from '../resp/connection.js';
import { ReplyError, replyArray, replyText, type Reply } from '../resp/reply.js';
import type { Shard } from '../run/sourceCopy.js';
import type { KeyHashes } from './keyHashes.js';
import { PrefixTree } from './prefixTree.js';
import { sameValue } from './sameValue.js';

/** What the analysis of one source db adds up (several shards of a cluster source share one). */
export class DbTotals {
  /** Keys SCAN returned, before the job's filters. */
  scanned = 0;
  /** Selected keys looked at. */
  analysed = 0;
  bytes = 0;
  readonly types = new Map<string, { keys: number; bytes: number }>();
  readonly ttl: TtlHistogram = { none: 0, lt1h: 0, lt1d: 0, lt7d: 0, longer: 0, expired: 0 };
  readonly prefixes = new PrefixTree();
}

export interface ShardAnalysisOptions {
  source: Endpoint;
  shard: Shard;
  filter: KeyFilter;
  target: Endpoint | null;
  targetDb: number;
  bigKey: { bytes: number; elements: number };
  /** MEMORY USAGE is allowed; otherwise sizes are DUMP lengths (old servers, refused command). */
  memoryUsage: boolean;
  /** Stop after this many selected keys (a labelled sample), or null for every key. */
  sample: number | null;
  totals: DbTotals;
  hashes: KeyHashes;
  /** Planned bytes per target hash slot (cluster targets), or null. */
  slotBytes: Float64Array | null;
  /** Keys kept for the read-speed sample. */
  readSample: Array<{ db: number; key: Buffer }>;
  onBigKey(key: Buffer, type: string, bytes: number, elements: number): void;
  onTargetCollision(key: Buffer, identical: boolean): void;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const READ_SAMPLE = 2000;
const BUDGET = 20_000;
const COUNT_COMMAND: Record<string, string> = { list: 'LLEN', set: 'SCARD', zset: 'ZCARD', hash: 'HLEN', stream: 'XLEN' };

interface KeyLook {
  key: Buffer;
  type: string;
  pttl: number;
  bytes: number;
  /** Replies still to come for this key. */
  pending: number;
  /** Source and target payloads of a key that is on both (undefined until each arrives). */
  dumps?: [Buffer | null | undefined, Buffer | null | undefined];
}

/**
 * Looks at every selected key of one shard without writing anything: TYPE, PTTL and MEMORY USAGE
 * pipelined (DUMP lengths where MEMORY USAGE is refused), an element count only for keys big enough
 * to possibly pass the element threshold, and EXISTS on the target to find keys already there.
 */
export class ShardAnalyzer {
  private conn!: RedisConnection;
  private nextCursor: string | null = '0';
  private scanPending = false;
  private inFlight = 0;
  private selected = 0;
  private settle!: { resolve: () => void; reject: (err: Error) => void };
  private failed = false;

  constructor(private readonly opts: ShardAnalysisOptions) {}

  async run(): Promise<void> {
    const { source, shard } = this.opts;
    this.conn = shard.node ? await source.nodeConnection(shard.node.host, shard.node.port) : source.dbConnection(shard.db);
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      this.pump();
    });
  }

  private pump(): void {
    if (this.failed || this.scanPending || this.nextCursor === null || this.inFlight >= BUDGET) return;
    if (this.opts.sample !== null && this.selected >= this.opts.sample) {
      this.nextCursor = null;
      return this.checkDone();
    }
    const args = this.opts.filter.scanArgs(this.nextCursor, 1000);
    this.scanPending = true;
    this.conn.send(args, this.onPage);
  }

  private readonly onPage = (reply: Reply): void => {
    this.scanPending = false;
    if (reply instanceof ReplyError) return this.fail(reply, 'SCAN');
    const [cursor, keysReply] = replyArray(reply);
    const next = replyText(cursor);
    this.nextCursor = next === '0' ? null : next;
    const keys = replyArray(keysReply) as Buffer[];
    this.opts.totals.scanned += keys.length;
    const { source, shard, filter, sample } = this.opts;
    for (const key of keys) {
      if (!filter.matchesKey(key)) continue;
      if (sample !== null && this.selected >= sample) break;
      this.selected++;
      this.inFlight++;
      const look: KeyLook = { key, type: '', pttl: -1, bytes: 0, pending: 3 };
      source.send(shard.db, key, ['TYPE', key], this.onType, look);
      source.send(shard.db, key, ['PTTL', key], this.onPttl, look);
      source.send(shard.db, key, this.opts.memoryUsage ? ['MEMORY', 'USAGE', key] : ['DUMP', key], this.onSize, look);
    }
    this.pump();
    this.checkDone();
  };

  private readonly onType = (reply: Reply, look: KeyLook): void => {
    look.type = reply instanceof ReplyError ? '' : replyText(reply);
    this.step(look);
  };

  private readonly onPttl = (reply: Reply, look: KeyLook): void => {
    look.pttl = typeof reply === 'number' ? reply : -2;
    this.step(look);
  };

  private readonly onSize = (reply: Reply, look: KeyLook): void => {
    if (reply instanceof ReplyError) return this.fail(reply, this.opts.memoryUsage ? 'MEMORY' : 'DUMP');
    look.bytes = typeof reply === 'number' ? reply : Buffer.isBuffer(reply) ? reply.length : 0;
    this.step(look);
  };

  /** One reply of a key arrived; when all three are in, the key is counted. */
  private step(look: KeyLook): void {
    if (--look.pending > 0) return;
    const { totals, filter } = this.opts;
    if (look.type === 'none' || look.type === '' || look.pttl === -2) {
      totals.ttl.expired++;
      return this.done();
    }
    if (!filter.matchesType(look.type)) return this.done();
    this.count(look);
    const countCommand = COUNT_COMMAND[look.type];
    const { bigKey } = this.opts;
    // An element takes at least a byte, so only a key of at least `elements` bytes can have that many.
    if (countCommand && (look.bytes >= bigKey.elements || look.bytes >= bigKey.bytes || !this.opts.memoryUsage)) {
      look.pending++;
      this.opts.source.send(this.opts.shard.db, look.key, [countCommand, look.key], this.onElements, look);
    } else if (look.bytes >= bigKey.bytes) {
      this.opts.onBigKey(look.key, look.type, look.bytes, 1);
    }
    if (this.opts.target) {
      look.pending++;
      this.opts.target.send(this.opts.targetDb, look.key, ['EXISTS', look.key], this.onExists, look);
    }
    if (look.pending === 0) this.done();
  }

  private count(look: KeyLook): void {
    const { totals, hashes, slotBytes, readSample, targetDb } = this.opts;
    totals.analysed++;
    totals.bytes += look.bytes;
    let t = totals.types.get(look.type);
    if (!t) totals.types.set(look.type, (t = { keys: 0, bytes: 0 }));
    t.keys++;
    t.bytes += look.bytes;
    const ttl = totals.ttl;
    if (look.pttl < 0) ttl.none++;
    else if (look.pttl < HOUR) ttl.lt1h++;
    else if (look.pttl < DAY) ttl.lt1d++;
    else if (look.pttl < 7 * DAY) ttl.lt7d++;
    else ttl.longer++;
    totals.prefixes.add(look.key.toString('utf8'), look.bytes);
    hashes.add(targetDb, look.key);
    if (slotBytes) slotBytes[keySlot(look.key)] += look.bytes;
    if (readSample.length < READ_SAMPLE) readSample.push({ db: this.opts.shard.db, key: look.key });
  }

  private readonly onElements = (reply: Reply, look: KeyLook): void => {
    const elements = typeof reply === 'number' ? reply : 0;
    const { bigKey } = this.opts;
    if (elements >= bigKey.elements || look.bytes >= bigKey.bytes) this.opts.onBigKey(look.key, look.type, look.bytes, elements);
    if (--look.pending === 0) this.done();
  };

  private readonly onExists = (reply: Reply, look: KeyLook): void => {
    if (reply === 1) {
      // Already on the target: same value or not? Compare the two DUMP payloads (read-only).
      look.pending += 2;
      look.dumps = [undefined, undefined];
      this.opts.source.send(this.opts.shard.db, look.key, ['DUMP', look.key], this.onSourceDump, look);
      this.opts.target!.send(this.opts.targetDb, look.key, ['DUMP', look.key], this.onTargetDump, look);
    }
    if (--look.pending === 0) this.done();
  };

  private readonly onSourceDump = (reply: Reply, look: KeyLook): void => this.onDump(0, reply, look);
  private readonly onTargetDump = (reply: Reply, look: KeyLook): void => this.onDump(1, reply, look);

  /** One of the two payloads arrived (they come from two servers, in either order). */
  private onDump(side: 0 | 1, reply: Reply, look: KeyLook): void {
    const dumps = look.dumps!;
    dumps[side] = Buffer.isBuffer(reply) ? reply : null;
    if (dumps[0] !== undefined && dumps[1] !== undefined) {
      const [ours, theirs] = dumps;
      if (!ours || !theirs || ours.equals(theirs)) this.opts.onTargetCollision(look.key, !!ours && !!theirs);
      else {
        // Equal values can be encoded differently: compare them as values, as the run will.
        look.pending++;
        void sameValue(this.opts.source, this.opts.shard.db, this.opts.target!, this.opts.targetDb, look.key).then((same) => {
          this.opts.onTargetCollision(look.key, same);
          if (--look.pending === 0) this.done();
        });
      }
    }
    if (--look.pending === 0) this.done();
  }

  private done(): void {
    this.inFlight--;
    this.pump();
    this.checkDone();
  }

  private checkDone(): void {
    if (!this.failed && this.nextCursor === null && !this.scanPending && this.inFlight === 0) this.settle?.resolve();
  }

  private fail(reply: ReplyError, command: string): void {
    if (this.failed) return;
    this.failed = true;
    this.settle?.reject(explainReplyError(this.opts.source.label, [command], reply));
  }
}
