import type { DifferenceKind } from '../../../shared/events.js';
import type { Job } from '../../../shared/job.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { explainReplyError } from '../endpoints/endpoint.js';
import type { KeyFilter } from '../filters/keyFilter.js';
import { payloadType } from '../keys/keyTypes.js';
import { parseDumpPayload, RdbError, type RdbItem } from '../rdb/index.js';
import { ReplyError, type Reply } from '../resp/reply.js';
import { describeDifference, valuesEqual, type LogicalValue } from '../values/logicalValue.js';
import { readValue } from '../values/readValue.js';
import { plannedExpiry } from '../writers/writePolicy.js';
import { compareStringWithChunks } from './fileBigString.js';
import { logical } from './fileValues.js';
import { chunkBytesFor, fileLabel, fileReadError, readRdbFile, type RdbSourceFile } from './rdbFile.js';

/** What a compare found about one key: null when equal. */
export type FileKeyProblem = { kind: DifferenceKind; detail: string } | null;

export interface FileVerifyOptions {
  file: RdbSourceFile;
  target: Endpoint;
  job: Job;
  filter: KeyFilter;
  targetDbOf(sourceDb: number): number;
  /** What the target's TTL should be given the file's (see verifier compareTtl); null when fine. */
  compareTtl(srcTtl: number, tgtTtl: number): string | null;
  /** One selected key compared. */
  onKey(db: number, targetDb: number, key: Buffer, problem: FileKeyProblem): void;
  /** After each batch: keys in the file so far (an estimate until the end). */
  onProgress(total: number): void;
  signal?: AbortSignal;
}

/** Keys compared per batch (their target replies pipelined), while the next batch is read. */
const BATCH = 256;

interface Pending {
  db: number;
  key: Buffer;
  value: LogicalValue;
  /** Absolute expiry in Unix ms (local clock), 0 = none. */
  expireAt: number;
  /** Big values are read from the target with commands in windows, never DUMPed. */
  big: boolean;
  tgtTtl?: Reply;
  /** When the target's PTTL arrived (the file's TTL is taken at the same moment). */
  ttlAt?: number;
  tgtDump?: Reply;
}

/**
 * Compares every selected key of an RDB file with the target: the file's value (parsed) with the
 * target's (its DUMP parsed, or for keys over options.bigKey read with commands in windows; strings
 * too big to hold are compared chunk by chunk by GETRANGE), logically (valuesEqual: encodings and
 * RDB versions do not matter), and the TTL within the tolerance. Keys whose TTL in the file has
 * passed (as the run would see it: ttl.extendMs added) are not compared: the run did not write them.
 * Memory stays bounded: one batch of keys in flight and the one being read.
 */
export async function verifyRdbFile(o: FileVerifyOptions): Promise<void> {
  const { job, target, filter } = o;
  const policy = { onConflict: job.options.onConflict, keepTtl: job.options.ttl.keep, extendMs: job.options.ttl.extendMs };
  const openDbs = new Set<number>();
  const useDb = async (db: number) => {
    if (openDbs.has(db)) return;
    await target.useDbs([db]);
    openDbs.add(db);
  };
  let records = 0;
  let offset = 0;
  let ended = false;
  const total = () => (ended || offset === 0 ? records : Math.max(records, Math.round((records * o.file.size) / offset)));

  const items = readRdbFile(o.file, { chunkBytes: chunkBytesFor(job) });
  let batch: Pending[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    const sent = send(batch);
    batch = [];
    await inFlight;
    inFlight = sent.then((keys) => compareBatch(keys)).then(() => o.onProgress(total()));
    // An error in a batch must not wait for the next flush to surface.
    inFlight.catch(() => undefined);
  };
  const send = async (keys: Pending[]): Promise<Pending[]> => {
    for (const k of keys) await useDb(o.targetDbOf(k.db));
    await Promise.all(
      keys.map(
        (k) =>
          new Promise<void>((resolve) => {
            const tdb = o.targetDbOf(k.db);
            let left = k.big ? 1 : 2;
            const arrived = () => --left === 0 && resolve();
            target.send(tdb, k.key, ['PTTL', k.key], (r: Reply) => ((k.tgtTtl = r), (k.ttlAt = Date.now()), arrived()));
            if (!k.big) target.send(tdb, k.key, ['DUMP', k.key], (r: Reply) => ((k.tgtDump = r), arrived()));
          }),
      ),
    );
    return keys;
  };
  const compareBatch = async (keys: Pending[]) => {
    for (const k of keys) {
      for (const r of [k.tgtTtl, k.tgtDump]) if (r instanceof ReplyError) throw explainReplyError(target.label, ['DUMP'], r);
      const tdb = o.targetDbOf(k.db);
      let theirs: LogicalValue | null;
      if (k.big) theirs = await readValue(target, tdb, k.key);
      else if (k.tgtDump === null) theirs = null;
      else {
        try {
          theirs = parseDumpPayload(k.tgtDump as Buffer).value;
        } catch (err) {
          if (!(err instanceof RdbError)) throw err;
          const type = payloadType(k.tgtDump as Buffer);
          o.onKey(k.db, tdb, k.key, type === k.value.type ? { kind: 'value', detail: `the target's value cannot be read (${err.message})` } : { kind: 'type', detail: `${k.value.type} in the file, ${type} on the target` });
          continue;
        }
      }
      o.onKey(k.db, tdb, k.key, problemOf(k.value, theirs) ?? ttlProblem(k.expireAt, k.tgtTtl, k.ttlAt));
    }
  };
  const ttlProblem = (expireAt: number, tgtTtl: Reply | undefined, at = Date.now()): FileKeyProblem => {
    const detail = o.compareTtl(expireAt > 0 ? Math.max(0, expireAt - at) : -1, tgtTtl as number);
    return detail ? { kind: 'ttl', detail } : null;
  };

  try {
    for (;;) {
      if (o.signal?.aborted) break;
      const next = await items.next();
      if (next.done) break;
      const item = next.value;
      if (item.kind === 'end') ended = true;
      if (item.kind !== 'key' && item.kind !== 'key-start') continue;
      records++;
      offset = item.offset;
      const expireAt = item.expireAtMs === null ? 0 : Math.max(1, item.expireAtMs);
      const type = item.kind === 'key' ? item.value.type : 'string';
      const selected = filter.matchesKey(item.key) && filter.matchesType(type) && plannedExpiry(expireAt, policy) >= 0;
      if (item.kind === 'key-start') {
        await bigString(o, item, items, selected, useDb, ttlProblem);
        continue;
      }
      if (!selected) continue;
      const value = logical(item.value);
      batch.push({ db: item.db, key: item.key, value, expireAt, big: isBig(value, job) });
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    await inFlight;
    o.onProgress(total());
  } catch (err) {
    await inFlight.catch(() => undefined);
    throw fileReadError(o.file, err);
  } finally {
    await items.return(undefined).catch(() => undefined);
  }
}

/** A string too big to hold: compared with the target's as its chunks come. */
async function bigString(
  o: FileVerifyOptions,
  item: Extract<RdbItem, { kind: 'key-start' }>,
  items: AsyncGenerator<RdbItem>,
  selected: boolean,
  useDb: (db: number) => Promise<void>,
  ttlProblem: (expireAt: number, tgtTtl: Reply) => FileKeyProblem,
): Promise<void> {
  let last = false;
  const chunks: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<Buffer>> => {
        if (last) return { done: true, value: undefined };
        const next = await items.next();
        if (next.done || next.value.kind !== 'key-chunk') throw new Error(`${fileLabel(o.file)}: the chunks of a big string ended early (a parser bug)`);
        last = next.value.last;
        return { done: false, value: next.value.data };
      },
    }),
  };
  try {
    if (!selected) return;
    const tdb = o.targetDbOf(item.db);
    await useDb(tdb);
    const expireAt = item.expireAtMs === null ? 0 : Math.max(1, item.expireAtMs);
    const { equal, detail } = await compareStringWithChunks(o.target, tdb, item.key, item.length, chunks);
    if (!equal) {
      o.onKey(item.db, tdb, item.key, { kind: detail === 'not on the target' ? 'missing' : detail.startsWith('type') ? 'type' : 'value', detail });
      return;
    }
    const tgtTtl = await o.target.call(tdb, item.key, 'PTTL', item.key);
    o.onKey(item.db, tdb, item.key, ttlProblem(expireAt, tgtTtl));
  } finally {
    for await (const chunk of chunks) void chunk;
  }
}

function problemOf(ours: LogicalValue, theirs: LogicalValue | null): FileKeyProblem {
  if (theirs === null) return { kind: 'missing', detail: 'not on the target' };
  if (theirs.type !== ours.type) return { kind: 'type', detail: `${ours.type} in the file, ${theirs.type} on the target` };
  if (!valuesEqual(ours, theirs)) return { kind: 'value', detail: describeDifference(ours, theirs) };
  return null;
}

/** At or over options.bigKey (elements, or bytes roughly): read from the target in windows. */
function isBig(v: LogicalValue, job: Job): boolean {
  const { bytes, elements } = job.options.bigKey;
  const n = v.type === 'list' ? v.items.length : v.type === 'set' ? v.members.length : v.type === 'hash' ? v.fields.length : v.type === 'zset' ? v.members.length : v.type === 'stream' ? v.stream.entries.length : 1;
  if (n >= elements) return true;
  return v.type === 'string' ? v.value.length >= bytes : false;
}
