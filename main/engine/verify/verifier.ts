import path from 'node:path';
import type { DifferenceKind } from '../../../shared/events.js';
import type { Job } from '../../../shared/job.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { explainReplyError } from '../endpoints/endpoint.js';
import type { EventBus } from '../events/eventBus.js';
import { KeyFilter } from '../filters/keyFilter.js';
import { payloadType } from '../keys/keyTypes.js';
import type { LoadedJob } from '../job/loadJob.js';
import type { RedisConnection } from '../resp/connection.js';
import { ReplyError, replyArray, replyText, type Reply } from '../resp/reply.js';
import { openEndpoints, refuseUnsupported, type EndpointPaths } from '../run/openEndpoints.js';
import { TunnelSet, tunnelOptions, type TunnelChoices } from '../tunnels/tunnelSet.js';
import { runLimited } from '../run/runLimited.js';
import { listShards, memoryUsageAllowed, type Shard } from '../run/sourceCopy.js';
import type { SizeCheck } from '../readers/scanReader.js';
import { isBig, measureKey } from '../bigkeys/bigKeyProbe.js';
import { compareBigKey } from '../bigkeys/chunkedCompare.js';
import type { KeyType } from '../keys/keyTypes.js';
import { targetDbMapping } from '../run/dbMapping.js';
import { ConflictJournal, SKIP_JOURNAL_FILE } from '../writers/conflictJournal.js';
import { describeDifference, valuesEqual } from '../values/logicalValue.js';
import { readValue } from '../values/readValue.js';
import type { RdbSourceFile } from '../sources/rdbFile.js';
import { verifyRdbFile } from '../sources/rdbFileVerify.js';

export interface VerifyOptions {
  stateDir: string;
  /** TTLs may differ by this much (ms). */
  ttlToleranceMs: number;
  /** How many differences to keep in the result (all are sent as events). */
  keepDifferences?: number;
  signal?: AbortSignal;
  /** SSH tunnels: host-key acceptance and files (see RunOptions). */
  tunnels?: TunnelChoices;
  /** Tunnels and staging copies already open (a run verifying its staging copies); else tunnels are opened here. */
  paths?: EndpointPaths;
}

export interface Difference {
  source: string;
  db: number;
  targetDb: number;
  keyHex: string;
  kind: DifferenceKind;
  detail: string;
}

export interface VerifyResult {
  compared: number;
  equal: number;
  differences: Record<DifferenceKind, number>;
  keptByPolicy: number;
  vanished: number;
  firstDifferences: Difference[];
}

interface KeyReplies {
  key: Buffer;
  srcTtl: Reply;
  tgtTtl: Reply;
  /** Small keys: both DUMP payloads. */
  srcDump?: Reply;
  tgtDump?: Reply;
  /** Big keys (never DUMPed): the source's type and the target's TYPE reply. */
  big?: { type: string; targetType: Reply };
}

/**
 * Compares every selected source key with the target, independently of the writer: existence,
 * type, value (DUMP bytes first; logically when they differ, so encodings do not matter) and TTL.
 * Memory stays bounded: one SCAN page per source at a time, only counts and the first differences kept.
 */
export async function verifyJob(loaded: LoadedJob, opts: VerifyOptions, bus: EventBus): Promise<VerifyResult> {
  const { job } = loaded;
  refuseUnsupported(job);
  const startedAt = Date.now();
  // Tunnels are opened here unless the caller lends its own (then it closes them).
  const tunnels = opts.paths ? null : await TunnelSet.forJob(job, tunnelOptions(opts.tunnels, bus));
  const paths = opts.paths ?? { tunnels };
  if (!paths.staging) {
    for (const s of job.sources.filter((s) => s.stage === 'replica')) {
      bus.emit({ type: 'warning', source: s.name, message: `source ${s.name} is staged (stage: replica), but ferry verify compares with the live server, which has moved on since the run's frozen copy; ferry run already verified against that copy`, at: Date.now() });
    }
  }
  let opened;
  try {
    opened = await openEndpoints(job, paths);
  } catch (err) {
    tunnels?.close();
    throw err;
  }
  const { sources, files, target } = opened;
  const keep = opts.keepDifferences ?? 100;
  const result: VerifyResult = { compared: 0, equal: 0, differences: { missing: 0, type: 0, value: 0, ttl: 0 }, keptByPolicy: 0, vanished: 0, firstDifferences: [] };
  const kept = job.options.onConflict === 'skip' ? ConflictJournal.read(path.join(opts.stateDir, SKIP_JOURNAL_FILE)) : new Set<string>();
  const filter = new KeyFilter(job.options);
  const targetDbOf = targetDbMapping(job, target.address);
  try {
    /** An RDB file source: its keys are read from the file and compared with the target's. */
    const verifyFile = async (name: string, file: RdbSourceFile) => {
      let compared = 0;
      let differences = 0;
      await verifyRdbFile({
        file,
        target,
        job,
        filter,
        targetDbOf,
        signal: opts.signal,
        compareTtl: (srcTtl, tgtTtl) => compareTtl(srcTtl, tgtTtl, job, opts.ttlToleranceMs),
        onKey: (db, targetDb, key, problem) => {
          result.compared++;
          compared++;
          if (!problem) {
            result.equal++;
            return;
          }
          const keyHex = key.toString('hex');
          if (kept.has(`${targetDb}:${keyHex}`)) {
            result.keptByPolicy++;
            return;
          }
          const d: Difference = { source: name, db, targetDb, keyHex, ...problem };
          result.differences[d.kind]++;
          differences++;
          if (result.firstDifferences.length < keep) result.firstDifferences.push(d);
          bus.emit({ type: 'verify-difference', ...d, at: Date.now() });
        },
        onProgress: (total) => bus.emit({ type: 'verify-progress', source: name, compared, differences, total, at: Date.now() }),
      });
    };
    const plans = await Promise.all(
      job.sources.map(async ({ name }) => {
        const file = files.get(name);
        if (file) return { name, file, source: null, shards: [] };
        const source = sources.get(name)!;
        const shards = await listShards(source);
        if (!source.isCluster) await source.useDbs(shards.map((s) => s.db));
        await target.useDbs(new Set(shards.map((s) => targetDbOf(s.db))));
        return { name, source, shards };
      }),
    );
    await runLimited(plans, job.options.parallel.sources, async (plan) => {
      if (plan.source === null) return verifyFile(plan.name, plan.file);
      const { name, source, shards } = plan;
      const total = shards.reduce((n, s) => n + s.keys, 0);
      let compared = 0;
      let differences = 0;
      const recordDifference = (d: Difference) => {
        result.differences[d.kind]++;
        differences++;
        if (result.firstDifferences.length < keep) result.firstDifferences.push(d);
        bus.emit({ type: 'verify-difference', ...d, at: Date.now() });
      };
      const compareOne = async (db: number, r: KeyReplies) => {
        if (r.big) return compareBig(db, r, r.big);
        const tdb = targetDbOf(db);
        const keyHex = r.key.toString('hex');
        for (const reply of [r.srcDump, r.srcTtl, r.tgtDump, r.tgtTtl]) {
          if (reply instanceof ReplyError) throw explainReplyError(reply === r.srcDump || reply === r.srcTtl ? source.label : target.label, ['DUMP'], reply);
        }
        if (r.srcDump === null || r.srcTtl === -2) {
          result.vanished++;
          return;
        }
        const srcPayload = r.srcDump as Buffer;
        const type = payloadType(srcPayload);
        if (!filter.matchesType(type)) return;
        result.compared++;
        compared++;
        const base = { source: name, db, targetDb: tdb, keyHex };
        // A key that `onConflict: skip` left alone holds another source's (or the target's own) value.
        const differ = (d: Difference) => (kept.has(`${tdb}:${keyHex}`) ? void result.keptByPolicy++ : recordDifference(d));
        if (r.tgtDump === null) return differ({ ...base, kind: 'missing', detail: 'not on the target' });
        const tgtPayload = r.tgtDump as Buffer;
        if (!srcPayload.equals(tgtPayload)) {
          const tgtType = payloadType(tgtPayload);
          if (tgtType !== type) return differ({ ...base, kind: 'type', detail: `${type} on the source, ${tgtType} on the target` });
          const [a, b] = await Promise.all([readValue(source, db, r.key), readValue(target, tdb, r.key)]);
          if (a === null) {
            result.compared--;
            compared--;
            result.vanished++;
            return;
          }
          if (b === null) return differ({ ...base, kind: 'missing', detail: 'not on the target' });
          if (!valuesEqual(a, b)) return differ({ ...base, kind: 'value', detail: describeDifference(a, b) });
        }
        const ttlProblem = compareTtl(r.srcTtl as number, r.tgtTtl as number, job, opts.ttlToleranceMs);
        if (ttlProblem) return differ({ ...base, kind: 'ttl', detail: ttlProblem });
        result.equal++;
      };
      /** A big key, compared window by window in bounded memory. */
      const compareBig = async (db: number, r: KeyReplies, big: NonNullable<KeyReplies['big']>) => {
        const tdb = targetDbOf(db);
        const keyHex = r.key.toString('hex');
        if (r.srcTtl === -2) {
          result.vanished++;
          return;
        }
        if (!filter.matchesType(big.type)) return;
        result.compared++;
        compared++;
        const base = { source: name, db, targetDb: tdb, keyHex };
        const differ = (d: Difference) => (kept.has(`${tdb}:${keyHex}`) ? void result.keptByPolicy++ : recordDifference(d));
        const targetType = big.targetType instanceof ReplyError ? '' : replyText(big.targetType);
        if (targetType === 'none') return differ({ ...base, kind: 'missing', detail: 'not on the target' });
        if (targetType !== big.type) return differ({ ...base, kind: 'type', detail: `${big.type} on the source, ${targetType} on the target` });
        const { equal, detail } = await compareBigKey(source, db, target, tdb, r.key, big.type as KeyType);
        if (!equal) return differ({ ...base, kind: 'value', detail });
        const ttlProblem = compareTtl(r.srcTtl as number, r.tgtTtl as number, job, opts.ttlToleranceMs);
        if (ttlProblem) return differ({ ...base, kind: 'ttl', detail: ttlProblem });
        result.equal++;
      };
      const sizeCheck: SizeCheck = { memoryUsage: await memoryUsageAllowed(source), bigKey: job.options.bigKey };
      for (const shard of shards) {
        if (opts.signal?.aborted) break;
        await verifyShard(source, target, shard, filter, targetDbOf(shard.db), sizeCheck, async (replies) => {
          await Promise.all(replies.map((r) => compareOne(shard.db, r)));
          bus.emit({ type: 'verify-progress', source: name, compared, differences, total, at: Date.now() });
        }, opts.signal);
      }
    });
  } finally {
    for (const s of sources.values()) s.close();
    target.close();
    tunnels?.close();
  }
  bus.emit({
    type: 'verify-finished',
    compared: result.compared,
    equal: result.equal,
    differences: result.differences,
    keptByPolicy: result.keptByPolicy,
    vanished: result.vanished,
    elapsedMs: Date.now() - startedAt,
    at: Date.now(),
  });
  return result;
}

/** What the target's TTL should be, given the source's and the job's TTL options; null when fine. */
export function compareTtl(srcTtl: number, tgtTtl: number, job: Job, toleranceMs: number): string | null {
  const { keep, extendMs } = job.options.ttl;
  const expected = !keep || srcTtl < 0 ? -1 : srcTtl + extendMs;
  if (expected < 0 && tgtTtl < 0) return null;
  if (expected < 0) return `the target has a TTL of ${tgtTtl} ms, the source none`;
  if (tgtTtl < 0) return `the source has a TTL of ${srcTtl} ms, the target none`;
  const diff = Math.abs(tgtTtl - expected);
  return diff > toleranceMs ? `TTL ${tgtTtl} ms on the target, ${expected} ms expected (differs by ${diff} ms)` : null;
}

/** Scans one shard page by page (the next page prefetched), handing each page's replies on. */
async function verifyShard(
  source: Endpoint,
  target: Endpoint,
  shard: Shard,
  filter: KeyFilter,
  targetDb: number,
  sizeCheck: SizeCheck,
  onPage: (replies: KeyReplies[]) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const conn: RedisConnection = shard.node ? await source.nodeConnection(shard.node.host, shard.node.port) : source.dbConnection(shard.db);
  const scan = async (cursor: string) => {
    const [next, keys] = replyArray(await conn.call(...filter.scanArgs(cursor, 500)));
    return { cursor: replyText(next), keys: (replyArray(keys) as Buffer[]).filter((k) => filter.matchesKey(k)) };
  };
  let page = scan('0');
  for (;;) {
    const { cursor, keys } = await page;
    if (cursor !== '0') page = scan(cursor);
    const big = await bigKeysOf(source, shard.db, keys, sizeCheck);
    const replies = await Promise.all(
      keys.map(
        (key) =>
          new Promise<KeyReplies>((resolve) => {
            const r = { key } as KeyReplies;
            const type = big.get(key);
            if (type) {
              // Never DUMP a big key: its TTLs and the target's type, then a windowed compare.
              let left = 3;
              const arrived = () => --left === 0 && resolve(r);
              r.big = { type, targetType: null };
              source.send(shard.db, key, ['PTTL', key], (x: Reply) => ((r.srcTtl = x), arrived()));
              target.send(targetDb, key, ['PTTL', key], (x: Reply) => ((r.tgtTtl = x), arrived()));
              target.send(targetDb, key, ['TYPE', key], (x: Reply) => ((r.big!.targetType = x), arrived()));
              return;
            }
            let left = 4;
            const arrived = () => --left === 0 && resolve(r);
            source.send(shard.db, key, ['PTTL', key], (x: Reply) => ((r.srcTtl = x), arrived()));
            source.send(shard.db, key, ['DUMP', key], (x: Reply) => ((r.srcDump = x), arrived()));
            target.send(targetDb, key, ['PTTL', key], (x: Reply) => ((r.tgtTtl = x), arrived()));
            target.send(targetDb, key, ['DUMP', key], (x: Reply) => ((r.tgtDump = x), arrived()));
          }),
      ),
    );
    await onPage(replies);
    if (cursor === '0' || signal?.aborted) return;
  }
}

/** The keys of a page that are big (by MEMORY USAGE, then type and length), with their types. */
async function bigKeysOf(source: Endpoint, db: number, keys: Buffer[], sizeCheck: SizeCheck): Promise<Map<Buffer, string>> {
  const { bigKey, memoryUsage } = sizeCheck;
  const floor = Math.min(bigKey.bytes, bigKey.elements);
  const sizes = memoryUsage ? await Promise.all(keys.map((k) => source.call(db, k, 'MEMORY', 'USAGE', k).catch(() => null))) : keys.map(() => floor);
  const big = new Map<Buffer, string>();
  await Promise.all(
    keys.map(async (key, i) => {
      const size = sizes[i];
      if (typeof size !== 'number' || size < floor) return;
      const measured = await measureKey(source, db, key);
      if (measured && isBig(measured, bigKey)) big.set(key, measured.type);
    }),
  );
  return big;
}
