import type { Endpoint } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import type { KeyType } from '../keys/keyTypes.js';
import type { Arg } from '../resp/commandEncoder.js';
import { replyArray, replyNumber, replyText, type Reply } from '../resp/reply.js';
import { achievableMaxDeletedIdOf, MissingPendingWalk, printableBytes, streamMetaDifference } from '../values/logicalValue.js';
import { asBuffer, keyCommand, parseScore, readStreamMeta, streamPageStart } from '../values/readValue.js';
import { RoundTrip, timed, WindowSizer } from './windowSizer.js';

export interface BigKeyComparison {
  equal: boolean;
  /** The first difference (index, member, field…), or `the values are equal`. */
  detail: string;
}

const EQUAL: BigKeyComparison = { equal: true, detail: 'the values are equal' };
const ELEMENT_WINDOW = { initial: 256, min: 1, max: 16_384 };
const BYTE_WINDOW = { initial: 256 << 10, min: 16 << 10, max: 4 << 20 };

/**
 * Compares one big key on two endpoints window by window, in bounded memory and with commands of
 * about a millisecond each (the windows adapt as in copyBigKey): strings, lists and sorted sets by
 * ranges on both sides; sets by SSCAN windows of the source checked with SMISMEMBER (SISMEMBER
 * before 6.2) on the target, plus SCARD; hashes by HSCAN windows and HMGET, plus HLEN; streams by
 * XRANGE windows on both sides and their metadata as valuesEqual compares it. The detail names the
 * first difference found. Like readValue, it is not atomic: keys written meanwhile may differ.
 */
export async function compareBigKey(source: Endpoint, sourceDb: number, target: Endpoint, targetDb: number, key: Buffer, type: KeyType): Promise<BigKeyComparison> {
  return new BigKeyComparer(source, sourceDb, target, targetDb, key).compare(type);
}

function differ(detail: string): BigKeyComparison {
  return { equal: false, detail };
}

class BigKeyComparer {
  private readonly trips = [new RoundTrip(), new RoundTrip()];
  private sizer = new WindowSizer(ELEMENT_WINDOW);

  constructor(
    private readonly source: Endpoint,
    private readonly sourceDb: number,
    private readonly target: Endpoint,
    private readonly targetDb: number,
    private readonly key: Buffer,
  ) {}

  async compare(expected: KeyType): Promise<BigKeyComparison> {
    const [a, b] = (await this.both(['TYPE', this.key], true)).map(replyText);
    if (a === 'none' && b === 'none') return { equal: true, detail: `the key is on neither side` };
    if (a === 'none') return differ('not on the source');
    if (b === 'none') return differ('not on the target');
    if (a !== b) return differ(`type differs: ${a} vs ${b}`);
    const type = a === expected ? expected : (a as KeyType);
    switch (type) {
      case 'string':
        return this.strings();
      case 'list':
        return this.lists();
      case 'zset':
        return this.zsets();
      case 'set':
        return this.sets();
      case 'hash':
        return this.hashes();
      case 'stream':
        return this.streams();
      default:
        return differ(`type ${String(type)} cannot be compared with commands`);
    }
  }

  private async strings(): Promise<BigKeyComparison> {
    const [la, lb] = (await this.both(['STRLEN', this.key], true)).map(replyNumber);
    if (la !== lb) return differ(`string differs: ${la} vs ${lb} bytes`);
    this.sizer = new WindowSizer(BYTE_WINDOW);
    for (let at = 0; at < la; ) {
      const n = Math.min(this.sizer.next(), la - at);
      const [pa, pb] = (await this.window(['GETRANGE', this.key, at, at + n - 1], n)).map(asBuffer);
      if (!pa.equals(pb)) {
        const m = Math.min(pa.length, pb.length);
        let i = 0;
        while (i < m && pa[i] === pb[i]) i++;
        return differ(`string differs at byte ${at + i} of ${la}`);
      }
      if (pa.length < n) break; // shortened meanwhile
      at += n;
    }
    return EQUAL;
  }

  private async lists(): Promise<BigKeyComparison> {
    const [la, lb] = (await this.both(['LLEN', this.key], true)).map(replyNumber);
    const m = Math.min(la, lb);
    for (let at = 0; at < m; ) {
      const n = Math.min(this.sizer.next(), m - at);
      const [wa, wb] = (await this.window(['LRANGE', this.key, at, at + n - 1], n)).map((r) => replyArray(r).map(asBuffer));
      const k = Math.min(wa.length, wb.length);
      for (let i = 0; i < k; i++) {
        if (!wa[i].equals(wb[i])) return differ(`list differs at index ${at + i} of ${la}: ${printableBytes(wa[i])} vs ${printableBytes(wb[i])}`);
      }
      if (k < n) break;
      at += n;
    }
    return la === lb ? EQUAL : differ(`list has ${la} vs ${lb} items`);
  }

  private async zsets(): Promise<BigKeyComparison> {
    const [ca, cb] = (await this.both(['ZCARD', this.key], true)).map(replyNumber);
    const m = Math.min(ca, cb);
    for (let at = 0; at < m; ) {
      const n = Math.min(this.sizer.next(), m - at);
      const [wa, wb] = (await this.window(['ZRANGE', this.key, at, at + n - 1, 'WITHSCORES'], n)).map(replyArray);
      const k = Math.min(wa.length, wb.length);
      for (let i = 0; i + 1 < k; i += 2) {
        const am = asBuffer(wa[i]);
        const bm = asBuffer(wb[i]);
        const as = parseScore(wa[i + 1]);
        const bs = parseScore(wb[i + 1]);
        if (!am.equals(bm)) return this.zsetMismatch(at + i / 2, ca, am, as, bm, bs);
        if (as !== bs) return differ(`zset member ${printableBytes(am)} has score ${formatScore(as)} vs ${formatScore(bs)}`);
      }
      if (k < 2 * n) break;
      at += n;
    }
    return ca === cb ? EQUAL : differ(`zset has ${ca} vs ${cb} members`);
  }

  /**
   * Different members at one rank: a member whose score differs moved, so it is named with both
   * scores (the source's member looked up on the target, or the target's on the source).
   */
  private async zsetMismatch(rank: number, count: number, am: Buffer, as: number, bm: Buffer, bs: number): Promise<BigKeyComparison> {
    const [onTarget, onSource] = await Promise.all([this.tgt(['ZSCORE', this.key, am]), this.src(['ZSCORE', this.key, bm])]);
    if (onTarget !== null && parseScore(onTarget) !== as) return differ(`zset member ${printableBytes(am)} has score ${formatScore(as)} vs ${formatScore(parseScore(onTarget))}`);
    if (onSource !== null && parseScore(onSource) !== bs) return differ(`zset member ${printableBytes(bm)} has score ${formatScore(parseScore(onSource))} vs ${formatScore(bs)}`);
    if (onTarget === null) return differ(`zset member ${printableBytes(am)} is only on the source (rank ${rank} of ${count})`);
    if (onSource === null) return differ(`zset member ${printableBytes(bm)} is only on the target (rank ${rank} of ${count})`);
    return differ(`zset differs at rank ${rank} of ${count}: member ${printableBytes(am)} vs ${printableBytes(bm)}`);
  }

  private async sets(): Promise<BigKeyComparison> {
    const [ca, cb] = (await this.both(['SCARD', this.key], true)).map(replyNumber);
    const counts = `(${ca} vs ${cb} members)`;
    const missing = await this.scanAgainst('SSCAN', 'source', (members) => this.membership(this.target, this.targetDb, members));
    if (missing) return differ(`set member ${printableBytes(missing.item)} is only on the source ${counts}`);
    // Every source member is on the target: equal unless the target has more.
    if (ca === cb) return EQUAL;
    const extra = await this.scanAgainst('SSCAN', 'target', (members) => this.membership(this.source, this.sourceDb, members));
    return differ(extra ? `set member ${printableBytes(extra.item)} is only on the target ${counts}` : `set has ${ca} vs ${cb} members`);
  }

  private async hashes(): Promise<BigKeyComparison> {
    const [ca, cb] = (await this.both(['HLEN', this.key], true)).map(replyNumber);
    const counts = `(${ca} vs ${cb} fields)`;
    const found = await this.scanAgainst('HSCAN', 'source', async (flat) => {
      const fields = flat.filter((_, i) => i % 2 === 0);
      const values = replyArray(await this.tgt(['HMGET', this.key, ...fields]));
      return fields.map((_, i) => (values[i] === null ? 'missing' : asBuffer(values[i]).equals(flat[2 * i + 1]) ? 'same' : asBuffer(values[i])));
    }, 2);
    if (found) {
      const { item, verdict } = found;
      if (verdict === 'missing') return differ(`hash field ${printableBytes(item)} is only on the source ${counts}`);
      return differ(`hash field ${printableBytes(item)} differs: ${printableBytes(found.value!)} vs ${printableBytes(verdict)}`);
    }
    if (ca === cb) return EQUAL;
    const extra = await this.scanAgainst('HSCAN', 'target', async (flat) => {
      const fields = flat.filter((_, i) => i % 2 === 0);
      const values = replyArray(await this.src(['HMGET', this.key, ...fields]));
      return fields.map((_, i) => (values[i] === null ? 'missing' : 'same'));
    }, 2);
    return differ(extra ? `hash field ${printableBytes(extra.item)} is only on the target ${counts}` : `hash has ${ca} vs ${cb} fields`);
  }

  private async streams(): Promise<BigKeyComparison> {
    const [ma, mb] = await Promise.all([readStreamMeta(this.source, this.sourceDb, this.key), readStreamMeta(this.target, this.targetDb, this.key)]);
    if (!ma) return differ('not on the source');
    if (!mb) return differ('not on the target');
    const walks = [new MissingPendingWalk(ma.groups), new MissingPendingWalk(mb.groups)];
    const afters = [streamPageStart(this.source), streamPageStart(this.target)];
    const starts: Array<string | null> = ['-', '-'];
    for (let index = 0; starts[0] !== null || starts[1] !== null; ) {
      const n = this.sizer.next();
      const range = (side: 0 | 1): Arg[] | null => (starts[side] === null ? null : ['XRANGE', this.key, starts[side]!, '+', 'COUNT', n]);
      const [wa, wb] = (await this.windowEach(range(0), range(1), n)).map((reply) => (reply === null ? [] : replyArray(reply).map(entryOf)));
      [wa, wb].forEach((entries, side) => {
        for (const [id] of entries) walks[side].before(id);
        starts[side] = entries.length < n ? null : afters[side](entries[entries.length - 1][0]);
      });
      const k = Math.min(wa.length, wb.length);
      for (let i = 0; i < k; i++) {
        const [aid, afv] = wa[i];
        const [bid, bfv] = wb[i];
        if (aid !== bid) return differ(`stream entry ${index + i} of ${ma.length} has id ${aid} vs ${bid}`);
        const m = Math.min(afv.length, bfv.length);
        for (let j = 0; j < m; j++) {
          if (!afv[j].equals(bfv[j])) return differ(`stream entry ${aid} differs at index ${j} of ${afv.length}: ${printableBytes(afv[j])} vs ${printableBytes(bfv[j])}`);
        }
        if (afv.length !== bfv.length) return differ(`stream entry ${aid} has ${afv.length} vs ${bfv.length} fields and values`);
      }
      if (wa.length !== wb.length) return differ(`stream has ${ma.length} vs ${mb.length} entries`);
      index += k;
    }
    walks[0].rest();
    walks[1].rest();
    const detail = streamMetaDifference(ma, mb, [achievableMaxDeletedIdOf(ma.maxDeletedId, walks[0].middle), achievableMaxDeletedIdOf(mb.maxDeletedId, walks[1].middle)]);
    return detail ? differ(detail) : EQUAL;
  }

  /**
   * Scans `side` in windows (SSCAN / HSCAN) and asks `check` about each window's items (`per` = 2:
   * field/value pairs); returns the first item whose verdict is not `same`.
   */
  private async scanAgainst(
    command: 'SSCAN' | 'HSCAN',
    side: 'source' | 'target',
    check: (flat: Buffer[]) => Promise<Array<'same' | 'missing' | Buffer>>,
    per: 1 | 2 = 1,
  ): Promise<{ item: Buffer; value?: Buffer; verdict: 'missing' | Buffer } | null> {
    let cursor = '0';
    do {
      const n = this.sizer.next();
      const [reply, ms] = await timed(() => (side === 'source' ? this.src : this.tgt).call(this, [command, this.key, cursor, 'COUNT', n]));
      const [next, items] = replyArray(reply);
      cursor = replyText(next);
      const flat = replyArray(items).map(asBuffer);
      if (flat.length === 0) continue;
      const [verdicts, checkMs] = await timed(() => check(flat));
      this.sizer.observe(flat.length / per, Math.max(ms - this.trip(side).ms, checkMs - this.trip(side === 'source' ? 'target' : 'source').ms), 0);
      const at = verdicts.findIndex((v) => v !== 'same');
      if (at >= 0) return { item: flat[at * per], value: per === 2 ? flat[at * per + 1] : undefined, verdict: verdicts[at] as 'missing' | Buffer };
    } while (cursor !== '0');
    return null;
  }

  /** Which of `members` the set holds on `endpoint`: SMISMEMBER (6.2+), else SISMEMBER pipelined. */
  private async membership(endpoint: Endpoint, db: number, members: Buffer[]): Promise<Array<'same' | 'missing'>> {
    const verdict = (r: Reply) => (replyNumber(r) === 1 ? 'same' : 'missing');
    if (atLeast(endpoint.facts, 6, 2)) return replyArray(await keyCommand(endpoint, db, this.key, ['SMISMEMBER', this.key, ...members])).map(verdict);
    return (await Promise.all(members.map((m) => keyCommand(endpoint, db, this.key, ['SISMEMBER', this.key, m])))).map(verdict);
  }

  // ---- commands ----

  private src(args: readonly Arg[]): Promise<Reply> {
    return keyCommand(this.source, this.sourceDb, this.key, args);
  }

  private tgt(args: readonly Arg[]): Promise<Reply> {
    return keyCommand(this.target, this.targetDb, this.key, args);
  }

  private trip(side: 'source' | 'target'): RoundTrip {
    return this.trips[side === 'source' ? 0 : 1];
  }

  /** The same command on both sides at once; `cheap` ones (O(1)) teach the idle round trips. */
  private async both(args: readonly Arg[], cheap = false): Promise<[Reply, Reply]> {
    const [[a, msA], [b, msB]] = await Promise.all([timed(() => this.src(args)), timed(() => this.tgt(args))]);
    if (cheap) {
      this.trips[0].note(msA);
      this.trips[1].note(msB);
    }
    return [a, b];
  }

  /** One window of `n` on both sides; its cost (the slower side, above its idle round trip) adapts the window. */
  private async window(args: readonly Arg[], n: number): Promise<[Reply, Reply]> {
    const [a, b] = await this.windowEach(args, args, n);
    return [a as Reply, b as Reply];
  }

  private async windowEach(argsA: readonly Arg[] | null, argsB: readonly Arg[] | null, n: number): Promise<[Reply | null, Reply | null]> {
    const [[a, msA], [b, msB]] = await Promise.all([
      timed(async () => (argsA ? this.src(argsA) : null)),
      timed(async () => (argsB ? this.tgt(argsB) : null)),
    ]);
    this.sizer.observe(n, Math.max(argsA ? msA - this.trips[0].ms : 0, argsB ? msB - this.trips[1].ms : 0), 0);
    return [a, b];
  }
}

function entryOf(reply: Reply): [string, Buffer[]] {
  const [id, fieldsAndValues] = replyArray(reply);
  return [replyText(id), replyArray(fieldsAndValues).map(asBuffer)];
}

function formatScore(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? 'inf' : '-inf';
}
