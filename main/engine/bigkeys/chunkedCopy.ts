import type { Endpoint } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import { sameSlotName } from '../keys/hashSlot.js';
import type { KeyType } from '../keys/keyTypes.js';
import type { Arg } from '../resp/commandEncoder.js';
import { ReplyError, replyArray, replyNumber, replyText, type Reply } from '../resp/reply.js';
import { printableBytes } from '../values/logicalValue.js';
import { asBuffer, keyCommand, readStreamMeta, streamPageStart } from '../values/readValue.js';
import { elementSteps, SAFETY_RENEW_MS, SAFETY_TTL_MS, StreamBuilder, TEMP_TAG, type Step } from '../values/writeValue.js';
import { measureKey } from './bigKeyProbe.js';
import { StreamedSet, StreamedSetLost } from './streamedSet.js';
import { RoundTrip, timed, WindowSizer, type Pace } from './windowSizer.js';

/** The old value of a replaced key is moved to this same-slot name, then freed in the background (UNLINK). */
export const TRASH_TAG = ':ferry-trash:';

export type BigKeyOutcome = 'written' | 'exists' | 'vanished';

export interface CopyBigKeyOptions {
  source: Endpoint;
  sourceDb: number;
  target: Endpoint;
  targetDb: number;
  key: Buffer;
  type: KeyType;
  /** Absolute expiry in unix ms on the TARGET's clock; 0 = none. */
  expireAt: number;
  /** fail / skip: written only if the key is absent (else `exists`); replace: overwritten. */
  onConflict: 'fail' | 'skip' | 'replace';
  /** Window sizes are multiplied by `pace.factor` (0..1), read before every window. */
  pace?: Pace;
  /** After every window: elements (bytes for a string) copied so far, and the total. */
  onProgress?(done: number, total: number): void;
  /** Aborting drops the temporary key and rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * How a string is built: `stream` (one SET whose value is streamed, the default) or `setrange`
   * (the fallback: SETRANGE to the final length, then SETRANGE windows). For tests and benchmarks.
   */
  stringMethod?: 'stream' | 'setrange';
}

/**
 * String windows in bytes: first, floor, ceiling. The ceiling is also about what the target reads
 * per event while a value streams in: ~0.2 ms of copying and page faults.
 */
const STRING_WINDOW = { initial: 256 << 10, min: 16 << 10, max: 256 << 10 };
/** First collection window: 256 elements, fewer when they are big (about 256 KB). */
const FIRST_ELEMENTS = 256;
const FIRST_WINDOW_BYTES = 256 << 10;
/** A window holds at most this many elements, and about this many bytes. */
const MAX_ELEMENTS = 65_536;
const MAX_WINDOW_BYTES = 8 << 20;
/** Times a string is started again when it changes length while it is copied. */
const STRING_ATTEMPTS = 3;

/**
 * Copies one big key without DUMP or RESTORE, never holding its value whole and never sending a
 * command that costs the target (or the source) more than about a millisecond.
 *
 * It streams: one window is read from the source (GETRANGE / LRANGE / SSCAN / HSCAN / ZRANGE by
 * rank WITHSCORES / XRANGE), written into a temporary key in the key's slot (the name writeValue
 * uses) with bounded commands (RPUSH, SADD, HSET, ZADD with the scores' exact text, XADD with the
 * entries' IDs), while the next window is read. Windows start small and double while a command's
 * round trip (above the endpoint's idle one) stays under 1 ms, and shrink when over. The temp key
 * carries a safety TTL (10 min, renewed) from the moment it exists, so an abandoned one disappears.
 * At the end it gets the real TTL, and the key appears at once: RENAMENX (absent-only), or RENAME,
 * or when replacing an existing key `MULTI; RENAME key trash; RENAME temp key; EXEC` and an UNLINK
 * of the trash, so the old value is freed in the background.
 *
 * Strings are built differently, because growing a big string blocks the server (measured on this
 * project's VMs, Redis 7.0.15, 2 cores; "probe" = max PING round trip of another client pinging
 * every ms, idle 0.6-2.1 ms; "server" = LATENCY LATEST / SLOWLOG at a 1 ms threshold):
 *
 *   64 MB / 256 MB string built by              server max           probe max
 *   APPEND of 256 KB or 1 MB windows            39-51 / 155-194 ms   38-51 / 154-194 ms, 12-22 stalls
 *                                                (every reallocation copies the whole string)
 *   SETRANGE to the final length, then windows  30-38 / 118-152 ms   31-38 / 118-154 ms, one stall
 *                                                (zero-filling the whole allocation at once)
 *   SETRANGE doubling the length, then windows  37-42 / 149-156 ms   same, 3-5 stalls
 *   one SET, value streamed as fast as possible nothing > 1 ms       3.8-8.1 ms (a few MB per read)
 *   one SET, value streamed a window (256 KB)   nothing > 1 ms       0.6-2.7 ms: the idle noise
 *     at a time, the next read from the source
 *     in between (what this module does)
 *
 * Each was measured on an otherwise idle target and with another client writing small keys all
 * along: the same picture. In test/integration/bigKeys.test.ts (64 MB; both servers, the test and
 * the probe on the same 2 cores; 4 runs): streamed SET: server nothing > 1 ms, probe max 3.0-13.6 ms
 * (idle probe max in the same runs 0.9-3.6 ms); APPEND of 1 MB windows: server 18-34 ms; the
 * SETRANGE fallback: server 31-39 ms; RESTORE: 38-203 ms; DUMP on the source: 34-53 ms.
 *
 * So a string is one `SET temp <value> PX 600000` on a connection of its own (StreamedSet), its value
 * written window by window as it is read from the source. If that connection cannot be had or is
 * lost (a proxy, a client limit), it falls back to SETRANGE at the final length + SETRANGE windows.
 * What no method avoids: freeing a big string is synchronous in Redis (UNLINK too): ~2.5 ms per
 * 64 MB, 11-20 ms per 256 MB here, paid when a replaced or leftover big string is dropped.
 *
 * A source key that disappears meanwhile drops the temp key (`vanished`); abort drops it and
 * rejects. The copy is not atomic on the source: a key written meanwhile comes out as a mix, which
 * is why sources are read from staging replicas or verified afterwards (compareBigKey).
 */
export async function copyBigKey(opts: CopyBigKeyOptions): Promise<BigKeyOutcome> {
  return new BigKeyCopy(opts).run();
}

/** A read window: `count` elements (bytes for strings); `done` when it was the last. */
interface Window<T> {
  items: T;
  count: number;
  done: boolean;
}

class BigKeyCopy {
  private readonly temp: Buffer;
  private readonly trash: Buffer;
  private readonly unlink: 'UNLINK' | 'DEL';
  private readonly sourceTrip = new RoundTrip();
  private readonly targetTrip = new RoundTrip();
  private readSizer = new WindowSizer({ initial: FIRST_ELEMENTS, min: 1, max: MAX_ELEMENTS });
  private writeSizer = new WindowSizer({ initial: FIRST_ELEMENTS, min: 1, max: MAX_ELEMENTS });
  /** The safety TTL is on the temp key (it exists), renewed at `renewedAt`. */
  private ttlSet = false;
  private renewedAt = 0;
  private done = 0;
  private total = 0;

  constructor(private readonly o: CopyBigKeyOptions) {
    this.temp = sameSlotName(o.key, TEMP_TAG);
    this.trash = sameSlotName(o.key, TRASH_TAG);
    this.unlink = atLeast(o.target.facts, 4, 0) ? 'UNLINK' : 'DEL';
  }

  async run(): Promise<BigKeyOutcome> {
    const { o } = this;
    o.signal?.throwIfAborted();
    const absentOnly = o.onConflict !== 'replace';
    // Cheap early answer; RENAMENX at the end still decides if the key appears meanwhile.
    if (replyNumber(await this.cheapTarget(['EXISTS', o.key])) > 0 && absentOnly) return 'exists';
    if (o.expireAt > 0 && o.expireAt <= Date.now() + o.target.clockOffsetMs) return this.expired(absentOnly);

    if (replyNumber(await this.cheapSource(['EXISTS', o.key])) === 0) return 'vanished';
    const size = await measureKey(o.source, o.sourceDb, o.key);
    if (!size) return 'vanished';
    if (size.type !== o.type) throw this.changedType(size.type);
    this.total = size.elements;
    this.sizeWindows(size.bytes, size.elements);

    await this.cheapTarget([this.unlink, this.temp]);
    try {
      const built = await this.build(size.elements);
      // Gone from the source meanwhile (its reads then come back empty): nothing to write.
      const now = built ? replyText(await this.cheapSource(['TYPE', o.key])) : 'none';
      if (now === 'none') {
        await this.dropTemp();
        return 'vanished';
      }
      if (now !== o.type) throw this.changedType(now);
      const finalTtl = await this.target(o.expireAt > 0 ? ['PEXPIREAT', this.temp, o.expireAt] : ['PERSIST', this.temp]);
      if (o.expireAt > 0 && finalTtl !== 1) throw this.tempLost();
    } catch (err) {
      await this.dropTemp().catch(() => undefined);
      throw err;
    }
    return this.appear(absentOnly);
  }

  // ---- building ----

  /** Builds the temp key; false when the source key vanished before it was complete. */
  private async build(elements: number): Promise<boolean> {
    switch (this.o.type) {
      case 'string':
        return this.buildString();
      case 'list':
        return this.buildList();
      case 'set':
        return this.buildScanned('SSCAN', ['SADD', this.temp], 1);
      case 'hash':
        return this.buildScanned('HSCAN', [atLeast(this.o.target.facts, 4, 0) ? 'HSET' : 'HMSET', this.temp], 2);
      case 'zset':
        return this.buildZset();
      case 'stream':
        return this.buildStream(elements);
    }
  }

  private sizeWindows(bytes: number, elements: number): void {
    if (this.o.type === 'string') {
      this.readSizer = new WindowSizer(STRING_WINDOW);
      this.writeSizer = new WindowSizer({ ...STRING_WINDOW, max: 4 << 20 });
      return;
    }
    const perElement = Math.max(1, bytes / Math.max(1, elements));
    const limits = {
      initial: Math.max(1, Math.min(FIRST_ELEMENTS, Math.floor(FIRST_WINDOW_BYTES / perElement))),
      min: 1,
      max: Math.max(1, Math.min(MAX_ELEMENTS, Math.floor(MAX_WINDOW_BYTES / perElement))),
    };
    this.readSizer = new WindowSizer(limits);
    this.writeSizer = new WindowSizer(limits);
  }

  private async buildString(): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const length = replyNumber(await this.cheapSource(['STRLEN', this.o.key]));
      if (length === 0) {
        if (replyNumber(await this.cheapSource(['EXISTS', this.o.key])) === 0) return false;
        await this.target(['SET', this.temp, '', 'PX', SAFETY_TTL_MS]);
        this.ttlSet = true;
        return true;
      }
      this.total = length;
      let outcome: 'built' | 'vanished' | 'changed';
      if (this.o.stringMethod === 'setrange') outcome = await this.stringBySetrange(length);
      else {
        try {
          outcome = await this.stringByStreamedSet(length);
        } catch (err) {
          // No connection of its own, or lost: the target may still take SETRANGEs on the shared one.
          if (!(err instanceof StreamedSetLost)) throw err;
          outcome = await this.stringBySetrange(length);
        }
      }
      if (outcome !== 'changed') return outcome === 'built';
      await this.dropTemp();
      if (attempt >= STRING_ATTEMPTS) throw new Error(`${this.o.source.label}: the string ${printableBytes(this.o.key)} kept changing length while Ferry copied it (${STRING_ATTEMPTS} attempts); copy it when it is quieter`);
      this.done = 0;
    }
  }

  /** Reads `[at, at + want)` of the source string; `changed`/`vanished` when it is shorter than that. */
  private async readStringWindow(at: number, want: number): Promise<Buffer | 'changed' | 'vanished'> {
    const [reply, ms] = await timed(() => this.source(['GETRANGE', this.o.key, at, at + want - 1]));
    const part = asBuffer(reply);
    this.readSizer.observe(part.length, ms, this.sourceTrip.ms);
    if (part.length === want) return part;
    return replyNumber(await this.cheapSource(['EXISTS', this.o.key])) === 0 ? 'vanished' : 'changed';
  }

  private async stringByStreamedSet(length: number): Promise<'built' | 'vanished' | 'changed'> {
    const set = await StreamedSet.open(this.o.target, this.o.targetDb, this.temp);
    try {
      set.begin(this.temp, length);
      for (let at = 0; at < length; ) {
        this.o.signal?.throwIfAborted();
        const part = await this.readStringWindow(at, Math.min(this.readSizer.next(this.o.pace), length - at));
        if (typeof part === 'string') return part;
        await set.write(part);
        at += part.length;
        this.progress(part.length);
      }
      await set.finish(SAFETY_TTL_MS);
      this.ttlSet = true;
      this.renewedAt = Date.now();
      return 'built';
    } finally {
      set.destroy();
    }
  }

  private async stringBySetrange(length: number): Promise<'built' | 'vanished' | 'changed'> {
    this.done = 0;
    // One allocation of the final size (zero-filled): no reallocation, so no copy, afterwards.
    await this.runSteps([{ args: ['SETRANGE', this.temp, length - 1, Buffer.from([0])] }], 0);
    for (let at = 0; at < length; ) {
      this.o.signal?.throwIfAborted();
      const want = Math.min(this.readSizer.next(this.o.pace), this.writeSizer.next(this.o.pace), length - at);
      const part = await this.readStringWindow(at, want);
      if (typeof part === 'string') return part;
      await this.runSteps([{ args: ['SETRANGE', this.temp, at, part] }], part.length);
      at += part.length;
      this.progress(part.length);
    }
    return 'built';
  }

  private buildList(): Promise<boolean> {
    const { key } = this.o;
    let index = 0;
    let length = 0;
    return this.pump<Buffer[]>(
      async (n) => {
        const items = replyArray(await this.source(['LRANGE', key, index, index + n - 1])).map(asBuffer);
        index += items.length;
        return { items, count: items.length, done: items.length < n };
      },
      (items) =>
        [...elementSteps(['RPUSH', this.temp], items, (item) => [item])].map((step) => {
          // RPUSH answers the length: a temp key lost and re-created half-way would show here.
          const expected = (length += step.args.length - 2);
          return { args: step.args, check: (reply: Reply) => this.expectLength(reply, expected) };
        }),
    );
  }

  private buildZset(): Promise<boolean> {
    const { key } = this.o;
    let rank = 0;
    return this.pump<Buffer[][]>(
      async (n) => {
        const flat = replyArray(await this.source(['ZRANGE', key, rank, rank + n - 1, 'WITHSCORES']));
        // [score, member]: the score as the source printed it (%.17g, inf, -inf) parses back to the same double.
        const pairs: Buffer[][] = [];
        for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([asBuffer(flat[i + 1]), asBuffer(flat[i])]);
        rank += pairs.length;
        return { items: pairs, count: pairs.length, done: pairs.length < n };
      },
      (pairs) => [...elementSteps(['ZADD', this.temp], pairs, (pair) => pair)],
    );
  }

  /** Sets and hashes: SSCAN / HSCAN windows (an element may come twice: SADD and HSET do not mind). */
  private buildScanned(command: 'SSCAN' | 'HSCAN', prefix: Arg[], per: 1 | 2): Promise<boolean> {
    const { key } = this.o;
    let cursor = '0';
    return this.pump<Buffer[][]>(
      async (n) => {
        const [next, flat] = replyArray(await this.source([command, key, cursor, 'COUNT', n]));
        cursor = replyText(next);
        const items = replyArray(flat).map(asBuffer);
        const groups: Buffer[][] = [];
        for (let i = 0; i + per - 1 < items.length; i += per) groups.push(items.slice(i, i + per));
        return { items: groups, count: groups.length, done: cursor === '0' };
      },
      (groups) => [...elementSteps(prefix, groups, (g) => g)],
    );
  }

  private async buildStream(elements: number): Promise<boolean> {
    const { source, sourceDb, key } = this.o;
    // Groups, consumers and pending entries are read whole (small next to the entries) before them.
    const meta = await readStreamMeta(source, sourceDb, key);
    if (!meta) return false;
    this.total = elements;
    const builder = new StreamBuilder(this.temp, meta.groups, this.o.target.facts);
    const after = streamPageStart(source);
    let start: string | null = '-';
    // Entries up to the last-generated-id read with the metadata: XSETID must not go below an entry.
    const ok = await this.pump<Array<[string, Buffer[]]>>(
      async (n) => {
        if (start === null) return { items: [], count: 0, done: true };
        const page = replyArray(await this.source(['XRANGE', key, start, meta.lastId, 'COUNT', n]));
        const entries = page.map((entry): [string, Buffer[]] => {
          const [id, fieldsAndValues] = replyArray(entry);
          return [replyText(id), replyArray(fieldsAndValues).map(asBuffer)];
        });
        start = entries.length < n ? null : after(entries[entries.length - 1][0]);
        return { items: entries, count: entries.length, done: start === null };
      },
      (entries) => [...builder.entries(entries)],
    );
    // Gone meanwhile (its reads came back empty): the metadata steps would only fail.
    if (!ok || replyNumber(await this.cheapSource(['EXISTS', key])) === 0) return false;
    // Then the placeholders' removal, groups, consumers, pending entries and XSETID, in batches
    // weighed like entry windows (an XCLAIM or XDEL of n IDs weighs n).
    let batch: Step[] = [];
    let weight = 0;
    for (const step of builder.finish(meta)) {
      batch.push(step);
      weight += stepWeight(step);
      if (weight >= this.writeSizer.next(this.o.pace)) {
        await this.runSteps(batch, weight);
        batch = [];
        weight = 0;
        this.o.signal?.throwIfAborted();
      }
    }
    if (batch.length > 0) await this.runSteps(batch, weight);
    return true;
  }

  /**
   * Reads windows and writes them, the next window read while the current one is written (at
   * most two windows in memory). Ends when a window says it is the last.
   */
  private async pump<T>(read: (n: number) => Promise<Window<T>>, write: (items: T) => Step[]): Promise<boolean> {
    const timedRead = async (): Promise<Window<T>> => {
      const n = Math.min(this.readSizer.next(this.o.pace), this.writeSizer.next(this.o.pace));
      const [window, ms] = await timed(() => read(n));
      this.readSizer.observe(window.count, ms, this.sourceTrip.ms);
      return window;
    };
    let pending: Promise<Window<T>> | null = timedRead();
    try {
      while (pending) {
        const window: Window<T> = await pending;
        pending = window.done ? null : timedRead();
        if (window.count > 0) await this.runSteps(write(window.items), window.count);
        this.progress(window.count);
        this.o.signal?.throwIfAborted();
      }
    } finally {
      // A read still in flight when a write failed or the copy was aborted: its outcome no longer matters.
      pending?.catch(() => undefined);
    }
    return true;
  }

  /**
   * Sends one window's commands pipelined and checks their replies; the safety TTL follows the
   * first commands that create the temp key, and is renewed (the key's existence checked) as the
   * build goes on. The round trip adapts the write window.
   */
  private async runSteps(steps: readonly Step[], used: number): Promise<void> {
    const sends = steps.map((step) => this.target(step.args).then((reply) => step.check?.(reply)));
    if (!this.ttlSet && steps.length > 0) {
      sends.push(
        this.target(['PEXPIRE', this.temp, SAFETY_TTL_MS]).then((reply) => {
          // 0: these commands created nothing yet (a stream's entries may all come later).
          if (reply === 1) {
            this.ttlSet = true;
            this.renewedAt = Date.now();
          }
        }),
      );
    } else if (this.ttlSet && Date.now() - this.renewedAt > SAFETY_RENEW_MS) {
      this.renewedAt = Date.now();
      sends.push(
        this.target(['PEXPIRE', this.temp, SAFETY_TTL_MS]).then((reply) => {
          if (reply !== 1) throw this.tempLost();
        }),
      );
    }
    const [, ms] = await timed(() => Promise.all(sends));
    this.writeSizer.observe(used, ms, this.targetTrip.ms);
  }

  // ---- appearing ----

  private async appear(absentOnly: boolean): Promise<BigKeyOutcome> {
    const { key, expireAt } = this.o;
    try {
      if (absentOnly) {
        if (replyNumber(await this.target(['RENAMENX', this.temp, key])) === 1) return 'written';
        await this.dropTemp();
        return 'exists';
      }
      if (replyNumber(await this.cheapTarget(['EXISTS', key])) === 0) {
        await this.target(['RENAME', this.temp, key]);
        return 'written';
      }
      // Replacing: the old value moves aside in the same transaction as the new one arrives (the key
      // never disappears), then is freed in the background. A trash key left by an earlier run goes first.
      await this.cheapTarget([this.unlink, this.trash]);
      const { target, targetDb } = this.o;
      // Sent in one go on the key's connection: nothing else can slip in between MULTI and EXEC.
      const [, , , exec] = await Promise.all([
        target.call(targetDb, key, 'MULTI'),
        target.call(targetDb, key, 'RENAME', key, this.trash),
        target.call(targetDb, key, 'RENAME', this.temp, key),
        target.call(targetDb, key, 'EXEC'),
      ]);
      const [movedAside, renamed] = replyArray(exec);
      if (renamed instanceof ReplyError) throw renamed;
      // The old key may have gone by itself just before (expired): then there is no trash.
      if (!(movedAside instanceof ReplyError)) await this.cheapTarget([this.unlink, this.trash]);
      return 'written';
    } catch (err) {
      // The finished temp key can only vanish by an expiry that fell due between PEXPIREAT and RENAME.
      if (expireAt > 0 && err instanceof ReplyError && /no such key/i.test(err.message)) return this.expired(absentOnly);
      await this.dropTemp().catch(() => undefined);
      throw err;
    }
  }

  /** A value whose expiry has passed is not created (as RESTORE with a past ABSTTL); replacing removes the old one. */
  private async expired(absentOnly: boolean): Promise<BigKeyOutcome> {
    if (!absentOnly) await this.target([this.unlink, this.o.key]);
    return 'written';
  }

  // ---- commands ----

  private source(args: readonly Arg[]): Promise<Reply> {
    return keyCommand(this.o.source, this.o.sourceDb, this.o.key, args);
  }

  private target(args: readonly Arg[]): Promise<Reply> {
    return keyCommand(this.o.target, this.o.targetDb, this.o.key, args);
  }

  /** An O(1) command: its round trip teaches the endpoint's idle round trip. */
  private async cheapSource(args: readonly Arg[]): Promise<Reply> {
    const [reply, ms] = await timed(() => this.source(args));
    this.sourceTrip.note(ms);
    return reply;
  }

  private async cheapTarget(args: readonly Arg[]): Promise<Reply> {
    const [reply, ms] = await timed(() => this.target(args));
    this.targetTrip.note(ms);
    return reply;
  }

  private async dropTemp(): Promise<void> {
    await this.target([this.unlink, this.temp]);
  }

  private progress(n: number): void {
    this.done += n;
    if (this.done > this.total) this.total = this.done;
    this.o.onProgress?.(this.done, this.total);
  }

  private expectLength(reply: Reply, expected: number): void {
    if (reply !== expected) throw this.tempLost();
  }

  private tempLost(): Error {
    return new Error(`${this.o.target.label}: the temporary key ${printableBytes(this.temp)} disappeared while Ferry was writing it (deleted, or expired while the copy stalled); copy the key again`);
  }

  private changedType(now: string): Error {
    return new Error(`${this.o.source.label}: key ${printableBytes(this.o.key)} is a ${now} now, no longer a ${this.o.type}; it changed while Ferry copied it, so copy it again`);
  }
}

/** IDs an XCLAIM (`XCLAIM key group consumer 0 ids… FORCE RETRYCOUNT n JUSTID`) or XDEL touches; 1 for other steps. */
function stepWeight(step: Step): number {
  const name = step.args[0];
  if (name === 'XCLAIM') return Math.max(1, step.args.length - 9);
  if (name === 'XDEL') return Math.max(1, step.args.length - 2);
  return 1;
}
