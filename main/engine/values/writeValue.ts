import type { Endpoint } from '../endpoints/endpoint.js';
import { atLeast, type ServerFacts } from '../endpoints/serverFacts.js';
import { sameSlotName } from '../keys/hashSlot.js';
import type { Arg } from '../resp/commandEncoder.js';
import { ReplyError, replyArray, replyNumber, type Reply } from '../resp/reply.js';
import { MissingPendingWalk, printableBytes, type LogicalValue, type StreamGroup, type StreamMeta, type StreamValue } from './logicalValue.js';
import { keyCommand } from './readValue.js';

export interface WriteValueOptions {
  /** Absolute expiry in unix ms on the target's clock; 0 = no TTL. */
  expireAt: number;
  /** true: never replace an existing key (the outcome is then `exists`). */
  ifAbsent: boolean;
}

export type WriteOutcome = 'written' | 'exists';

/** The value is built under `key` + this tag + a suffix that keeps it in the key's cluster slot. */
export const TEMP_TAG = ':ferry-tmp:';
/** Elements, members, fields or IDs per command. */
const MAX_ITEMS = 500;
/** Bytes of values per command (one bigger element still goes alone); also the string chunk size. */
const MAX_COMMAND_BYTES = 1 << 20;
/** Commands and bytes in flight at once while building. */
const MAX_BATCH_COMMANDS = 64;
const MAX_BATCH_BYTES = 8 << 20;
/** An abandoned temp key (Ferry stopped half-way) deletes itself after this long. */
export const SAFETY_TTL_MS = 600_000;
/** The safety TTL is renewed this often while a big value is still being built. */
export const SAFETY_RENEW_MS = 60_000;
/** Fields of the placeholder entries that stand in for deleted entries still pending in a group. */
const PLACEHOLDER = ['ferry', 'placeholder'];
/** A group made only to create an empty stream (XGROUP CREATE … MKSTREAM), then destroyed. */
const MAKER_GROUP = 'ferry-mkstream';

/** One command that builds the temp key, with an optional check of its reply. */
export interface Step {
  args: Arg[];
  check?: (reply: Reply) => void;
}

/**
 * Writes a value with ordinary commands: it is built in a temporary key in the same slot, in
 * bounded commands, given its TTL, and then appears at once under `key` with RENAME (or RENAMENX
 * when `ifAbsent`). The key never exists half-written. Two writers must not write the same key at
 * the same time (they would share the temp key).
 */
export async function writeValue(endpoint: Endpoint, db: number, key: Buffer, value: LogicalValue, opts: WriteValueOptions): Promise<WriteOutcome> {
  const unlink = atLeast(endpoint.facts, 4, 0) ? 'UNLINK' : 'DEL';
  // Cheap early answer; RENAMENX below still decides if the key appears meanwhile.
  if (opts.ifAbsent && replyNumber(await keyCommand(endpoint, db, key, ['EXISTS', key])) > 0) return 'exists';
  if (opts.expireAt > 0 && opts.expireAt <= Date.now() + endpoint.clockOffsetMs) return writeExpired(endpoint, db, key, opts, unlink);

  const temp = sameSlotName(key, TEMP_TAG);
  await keyCommand(endpoint, db, temp, [unlink, temp]);
  try {
    await runSteps(endpoint, db, temp, buildSteps(value, temp, endpoint.facts));
    await keyCommand(endpoint, db, temp, opts.expireAt > 0 ? ['PEXPIREAT', temp, opts.expireAt] : ['PERSIST', temp]);
  } catch (err) {
    await keyCommand(endpoint, db, temp, [unlink, temp]).catch(() => undefined);
    throw err;
  }
  try {
    if (!opts.ifAbsent) {
      await keyCommand(endpoint, db, key, ['RENAME', temp, key]);
      return 'written';
    }
    if (replyNumber(await keyCommand(endpoint, db, key, ['RENAMENX', temp, key])) === 1) return 'written';
    await keyCommand(endpoint, db, temp, [unlink, temp]);
    return 'exists';
  } catch (err) {
    // The finished temp key can only vanish by an expiry that fell due between PEXPIREAT and RENAME.
    if (opts.expireAt > 0 && err instanceof ReplyError && /no such key/i.test(err.message)) return writeExpired(endpoint, db, key, opts, unlink);
    await keyCommand(endpoint, db, temp, [unlink, temp]).catch(() => undefined);
    throw err;
  }
}

/**
 * A value whose expiry has passed is not created, as RESTORE does with a past ABSTTL; and like
 * RESTORE … REPLACE, a replacing write removes the target's old value.
 */
async function writeExpired(endpoint: Endpoint, db: number, key: Buffer, opts: WriteValueOptions, unlink: string): Promise<WriteOutcome> {
  if (!opts.ifAbsent) await keyCommand(endpoint, db, key, [unlink, key]);
  return 'written';
}

/**
 * Sends the steps pipelined, a bounded batch at a time. The safety TTL goes right after the first
 * (creating) command, and is renewed (and the temp key's existence checked) while a long build
 * goes on, so a slow link cannot let it expire half-way.
 */
async function runSteps(endpoint: Endpoint, db: number, temp: Buffer, steps: Iterable<Step>): Promise<void> {
  const safetyTtl = (): Step => ({
    args: ['PEXPIRE', temp, SAFETY_TTL_MS],
    check: (reply) => {
      if (reply !== 1) throw new Error(`${endpoint.label}: the temporary key ${printableBytes(temp)} disappeared while Ferry was writing it`);
    },
  });
  let batch: Array<Promise<void>> = [];
  let batchBytes = 0;
  let first = true;
  let renewedAt = Date.now();
  const send = (step: Step) => {
    batch.push(keyCommand(endpoint, db, temp, step.args).then((reply) => step.check?.(reply)));
    batchBytes += argBytes(step.args);
  };
  for (const step of steps) {
    send(step);
    if (first) {
      send(safetyTtl());
      first = false;
    }
    if (batch.length >= MAX_BATCH_COMMANDS || batchBytes >= MAX_BATCH_BYTES) {
      await Promise.all(batch);
      batch = [];
      batchBytes = 0;
      if (Date.now() - renewedAt > SAFETY_RENEW_MS) {
        send(safetyTtl());
        renewedAt = Date.now();
      }
    }
  }
  await Promise.all(batch);
}

export function argBytes(args: readonly Arg[]): number {
  let n = 0;
  for (const a of args) n += typeof a === 'number' ? 8 : a.length;
  return n;
}

function buildSteps(value: LogicalValue, temp: Buffer, facts: ServerFacts): Iterable<Step> {
  switch (value.type) {
    case 'string':
      return stringSteps(value.value, temp);
    case 'list':
      nonEmpty(value.items, 'list');
      return elementSteps(['RPUSH', temp], value.items, (item) => [item]);
    case 'set':
      nonEmpty(value.members, 'set');
      return elementSteps(['SADD', temp], value.members, (member) => [member]);
    case 'hash':
      nonEmpty(value.fields, 'hash');
      // HSET takes many fields since Redis 4.0; HMSET before.
      return elementSteps([atLeast(facts, 4, 0) ? 'HSET' : 'HMSET', temp], value.fields, (pair) => pair);
    case 'zset':
      nonEmpty(value.members, 'zset');
      return elementSteps(['ZADD', temp], value.members, ([member, score]) => [formatScore(score), member]);
    case 'stream':
      return streamSteps(value.stream, temp, facts);
  }
}

function nonEmpty(items: readonly unknown[], type: string): void {
  if (items.length === 0) throw new Error(`an empty ${type} cannot be written: Redis has no empty ${type}s (the key does not exist)`);
}

function* stringSteps(value: Buffer, temp: Buffer): Generator<Step> {
  // A big string goes in pieces (SET, then APPEND), so no single command is huge.
  yield { args: ['SET', temp, value.subarray(0, MAX_COMMAND_BYTES)] };
  for (let at = MAX_COMMAND_BYTES; at < value.length; at += MAX_COMMAND_BYTES) {
    yield { args: ['APPEND', temp, value.subarray(at, at + MAX_COMMAND_BYTES)] };
  }
}

/** `prefix` + the arguments of up to MAX_ITEMS items (and about MAX_COMMAND_BYTES) per command. */
export function* elementSteps<T>(prefix: Arg[], items: readonly T[], argsOf: (item: T) => Arg[]): Generator<Step> {
  let args: Arg[] = [...prefix];
  let count = 0;
  let bytes = 0;
  for (const item of items) {
    const itemArgs = argsOf(item);
    const itemBytes = argBytes(itemArgs);
    if (count > 0 && (count >= MAX_ITEMS || bytes + itemBytes > MAX_COMMAND_BYTES)) {
      yield { args };
      args = [...prefix];
      count = 0;
      bytes = 0;
    }
    args.push(...itemArgs);
    count++;
    bytes += itemBytes;
  }
  if (count > 0) yield { args };
}

/** A score as text that parses back to the same double: shortest round-trip form, inf, -inf, -0. */
export function formatScore(score: number): string {
  if (score === Infinity) return 'inf';
  if (score === -Infinity) return '-inf';
  if (Object.is(score, -0)) return '-0';
  return String(score);
}

/**
 * Rebuilds a stream with its entry IDs, consumer groups, consumers and pending entries.
 *
 * Order, as found on Redis 7.0 (it gives back identical XINFO STREAM / XINFO GROUPS values, lag
 * included, apart from delivery and seen times, which become "now"):
 * 1. XADD every entry with its ID, plus a placeholder entry for each pending ID whose entry is gone
 *    (XCLAIM cannot create a pending entry for an ID that is not in the stream), in ID order.
 *    An empty stream is made by XGROUP CREATE … MKSTREAM instead.
 * 2. XGROUP CREATE each group at its last-delivered-id (with ENTRIESREAD on ≥ 7.0 when known; without
 *    it a 7.0 group reports entries-read nil, as the source did).
 * 3. XGROUP CREATECONSUMER (≥ 6.2; before that an XREADGROUP of the consumer's own, empty history
 *    creates it), then XCLAIM … FORCE RETRYCOUNT n JUSTID gives each pending ID its owner and its
 *    delivery count (JUSTID does not count a delivery). Nothing here changes entries-read.
 * 4. Placeholders before the first real entry go with XTRIM MAXLEN (exact): trimming leaves
 *    max-deleted-entry-id alone, which matters when the source lost them to trimming (0-0 there).
 *    Placeholders between entries go with XDEL.
 * 5. XSETID last-id, with ENTRIESADDED and MAXDELETEDID on ≥ 7.0, restores what the placeholders and
 *    the deletions changed. XSETID cannot set MAXDELETEDID back to 0-0: a source that says 0-0 but
 *    has gaps between entries (only possible for data loaded from a pre-7.0 RDB) gets the highest
 *    XDEL'ed placeholder ID instead; valuesEqual allows exactly that (achievableMaxDeletedId).
 */
function* streamSteps(s: StreamValue, temp: Buffer, facts: ServerFacts): Generator<Step> {
  const builder = new StreamBuilder(temp, s.groups, facts);
  yield* builder.entries(s.entries);
  yield* builder.finish(s);
}

/**
 * The steps of streamSteps (see there for the order and why) for a stream whose entries come a
 * window at a time: `entries` for each window in ID order, then `finish` once with the metadata.
 * Only the pending IDs (from the groups) are held, never all entries.
 */
export class StreamBuilder {
  private readonly walk: MissingPendingWalk;
  private readonly v7: boolean;
  private written = 0;

  constructor(
    private readonly temp: Buffer,
    groups: readonly StreamGroup[],
    private readonly facts: ServerFacts,
  ) {
    this.walk = new MissingPendingWalk(groups);
    this.v7 = atLeast(facts, 7, 0);
  }

  /** Entries written so far (placeholders not counted). */
  get entriesWritten(): number {
    return this.written;
  }

  /** XADD of the next entries (IDs growing), each after the placeholders for missing pending IDs below it. */
  *entries(entries: Iterable<readonly [string, readonly Buffer[]]>): Generator<Step> {
    for (const [id, fieldsAndValues] of entries) {
      for (const missing of this.walk.before(id)) yield this.xadd(missing, PLACEHOLDER);
      yield this.xadd(id, fieldsAndValues);
      this.written++;
    }
  }

  /** Everything after the last entry: the last placeholders, groups, consumers, pending entries, trims, XSETID. */
  *finish(s: StreamMeta): Generator<Step> {
    const { temp, v7, facts } = this;
    for (const missing of this.walk.rest()) yield this.xadd(missing, PLACEHOLDER);
    const { front, middle } = this.walk;

    const empty = this.written === 0 && front.length === 0 && middle.length === 0;
    if (empty && s.groups.length === 0) {
      yield { args: ['XGROUP', 'CREATE', temp, MAKER_GROUP, '$', 'MKSTREAM'] };
      yield { args: ['XGROUP', 'DESTROY', temp, MAKER_GROUP] };
    }
    for (let i = 0; i < s.groups.length; i++) {
      const g = s.groups[i];
      const args: Arg[] = ['XGROUP', 'CREATE', temp, g.name, g.lastDeliveredId];
      if (empty && i === 0) args.push('MKSTREAM');
      if (v7 && typeof g.entriesRead === 'number') args.push('ENTRIESREAD', g.entriesRead);
      yield { args };
    }

    for (const g of s.groups) {
      for (const consumer of g.consumers) {
        yield atLeast(facts, 6, 2)
          ? { args: ['XGROUP', 'CREATECONSUMER', temp, g.name, consumer] }
          : { args: ['XREADGROUP', 'GROUP', g.name, consumer, 'COUNT', 1, 'STREAMS', temp, '0'] };
      }
      // One XCLAIM per (owner, delivery count), up to MAX_ITEMS IDs each.
      const claims = new Map<string, { consumer: Buffer; count: number; ids: string[] }>();
      for (const [id, consumer, count] of g.pending) {
        const k = `${count}:${consumer.toString('latin1')}`;
        let claim = claims.get(k);
        if (!claim) claims.set(k, (claim = { consumer, count, ids: [] }));
        claim.ids.push(id);
      }
      for (const { consumer, count, ids } of claims.values()) {
        for (let at = 0; at < ids.length; at += MAX_ITEMS) {
          const chunk = ids.slice(at, at + MAX_ITEMS);
          yield {
            args: ['XCLAIM', temp, g.name, consumer, 0, ...chunk, 'FORCE', 'RETRYCOUNT', count, 'JUSTID'],
            check: (reply) => {
              const claimed = replyArray(reply).length;
              if (claimed !== chunk.length) throw new Error(`XCLAIM re-created ${claimed} of ${chunk.length} pending entries`);
            },
          };
        }
      }
    }

    if (front.length > 0) yield { args: ['XTRIM', temp, 'MAXLEN', this.written + middle.length] };
    for (let at = 0; at < middle.length; at += MAX_ITEMS) yield { args: ['XDEL', temp, ...middle.slice(at, at + MAX_ITEMS)] };

    const setId: Arg[] = ['XSETID', temp, s.lastId];
    if (v7 && s.entriesAdded !== undefined) setId.push('ENTRIESADDED', s.entriesAdded);
    // 0-0 is XSETID's "leave as is"; see streamSteps.
    if (v7 && s.maxDeletedId !== undefined && s.maxDeletedId !== '0-0') setId.push('MAXDELETEDID', s.maxDeletedId);
    yield { args: setId };
  }

  private xadd(id: string, fieldsAndValues: readonly Buffer[] | readonly string[]): Step {
    return { args: ['XADD', this.temp, id, ...fieldsAndValues] };
  }
}
