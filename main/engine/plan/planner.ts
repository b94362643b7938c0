import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BigKey, CollisionGroup, DbAnalysis, EndpointFacts, PlanDocument, SourceAnalysis, Verdict } from '../../../shared/plan.js';
import type { Job } from '../../../shared/job.js';
import { Endpoint } from '../endpoints/endpoint.js';
import { KeyFilter } from '../filters/keyFilter.js';
import type { LoadedJob } from '../job/loadJob.js';
import { keyText } from '../run/describeKey.js';
import { targetDbMapping } from '../run/dbMapping.js';
import { parseRedisUrl } from '../endpoints/redisUrl.js';
import { runLimited } from '../run/runLimited.js';
import { unsupportedProblems } from '../run/openEndpoints.js';
import { listShards } from '../run/sourceCopy.js';
import { addSample, confirmSharedKeys } from './sourceCollisions.js';
import { hasHash, keyHash, KeyHashes, sharedHashes } from './keyHashes.js';
import { measureReadRate } from './readRate.js';
import { probeEndpoint } from './probeEndpoint.js';
import { TunnelSet, type TunnelChoices } from '../tunnels/tunnelSet.js';
import { redisServerBinary } from '../sandbox/redisProcess.js';
import { checkStagingFits, redisServerVersion } from '../staging/stagingFit.js';
import { StagingSet } from '../staging/stagingSet.js';
import type { EngineEvent } from '../../../shared/events.js';
import { restoreStallMs } from './restoreStall.js';
import { PrefixTree } from './prefixTree.js';
import { DbTotals, ShardAnalyzer } from './shardAnalyzer.js';
import { planVerdicts } from './planVerdicts.js';
import { RdbError } from '../rdb/rdbErrors.js';
import { parseDumpPayload } from '../rdb/dumpPayload.js';
import type { ParsedValue } from '../rdb/rdbTypes.js';
import { redisVersionOfRdb, valueDigest, walkRdbFile, type RdbKeyRecord, type RdbWalkResult } from '../rdb/inspect.js';
import { keySlot, SLOTS } from '../keys/hashSlot.js';
import { valuesEqual } from '../values/logicalValue.js';
import { explainReplyError } from '../endpoints/endpoint.js';
import { ReplyError, type Reply } from '../resp/reply.js';
import { formatBytes, formatCount, formatDuration } from '../../../shared/format.js';

export interface PlanOptions {
  /** Keys to analyse per source db, or null for every selected key. */
  sample: number | null;
  /** SSH tunnels: host-key acceptance and files (see RunOptions). */
  tunnels?: TunnelChoices;
  /** The job's state directory: staging replicas for the plan go under it (and the run's, for the disk check). */
  stateDir?: string;
  /** Staging progress, tunnel states and warnings while the plan runs. */
  onEvent?: (event: EngineEvent) => void;
}

const SAMPLES_PER_GROUP = 10;

/**
 * The dry run: reads every endpoint and every selected key (or a sample), writes nothing, and
 * says what will happen, how long it takes, what will hurt and what cannot work.
 */
export async function planJob(loaded: LoadedJob, opts: PlanOptions): Promise<PlanDocument> {
  const started = Date.now();
  const { job } = loaded;
  const verdicts: Verdict[] = unsupportedProblems(job).map((message) => ({ level: 'blocker', topic: 'job', message }));
  // A tunnel that cannot open stops the plan: everything behind it is unknown. Its message says why.
  const tunnels = await TunnelSet.forJob(job, {
    ...opts.tunnels,
    onEvent: opts.onEvent,
    onWarning: (message) => opts.onEvent?.({ type: 'warning', message, at: Date.now() }),
  });
  const route = (via: string | undefined) => (via && tunnels ? tunnels.route(via) : undefined);
  const probes = await Promise.all([
    probeEndpoint({ role: 'target', name: 'target', url: job.target.url, cluster: job.target.cluster, route: route(job.target.via) }),
    ...job.sources.filter((s) => s.url).map((s) => probeEndpoint({ role: 'source', name: s.name, url: s.url!, route: route(s.via) })),
  ]);
  const [targetProbe, ...sourceProbes] = probes;
  const target = targetProbe.endpoint;
  // Staged sources are analysed as the run reads them: from a staging copy, synced once for the plan.
  const blocked = stagingBlockers(job, sourceProbes.map((p) => p.facts), opts.stateDir);
  verdicts.push(...[...blocked.values()].flat());
  const staged = await stageForPlan(job, sourceProbes, blocked, tunnels, opts, verdicts);
  const filter = new KeyFilter(job.options);
  const sources: SourceAnalysis[] = [];
  const bigKeys: BigKey[] = [];
  const targetGroups = new Map<string, CollisionGroup>();
  const writers: LiveWriter[] = [];
  const slotBytes = target?.isCluster ? new Float64Array(SLOTS) : null;
  const types = new Map<string, Set<string>>();
  // From the URL itself, so the plan maps dbs as the run will even when the target is unreachable.
  const targetDbOf = targetDbMapping(job, targetAddress(job.target.url));

  // RDB file sources: read instead of probed, each analysed in one pass over its file.
  const fileSources = job.sources.filter((s) => s.rdb !== undefined && !s.url);
  const fileFacts = new Map<string, EndpointFacts>();
  const fileWriters: FileWriter[] = [];
  const readAt = Date.now();

  try {
    const analyseLive = async ({ facts, endpoint }: (typeof sourceProbes)[number]): Promise<void> => {
      const name = facts.name;
      const source = staged.endpoints.get(name) ?? endpoint!;
      const memoryUsage = facts.commands.MEMORY !== 'refused' && atLeastFour(facts.version);
      const shards = await listShards(source);
      if (!source.isCluster) await source.useDbs(shards.map((s) => s.db));
      const dbs: DbAnalysis[] = [];
      const readSample: Array<{ db: number; key: Buffer }> = [];
      const sourceTypes = new Set<string>();
      const prefixes = new PrefixTree();
      for (const db of [...new Set(shards.map((s) => s.db))]) {
        const targetDb = targetDbOf(db);
        // Keys already on the target are looked for only where the target db holds any.
        const targetKeys = targetProbe.facts.keyspace.find((k) => k.db === targetDb)?.keys ?? 0;
        let targetForDb: Endpoint | null = targetKeys > 0 ? target : null;
        if (target) {
          try {
            await target.useDbs([targetDb]);
          } catch (err) {
            verdicts.push({ level: 'blocker', topic: 'job', message: `${name} db ${db}: ${(err as Error).message}` });
            targetForDb = null;
          }
        }
        const totals = new DbTotals();
        const hashes = new KeyHashes();
        writers.push({ source: name, endpoint: source, db, targetDb, hashes });
        const dbShards = shards.filter((s) => s.db === db);
        await Promise.all(
          dbShards.map((shard) =>
            new ShardAnalyzer({
              source,
              shard,
              filter,
              target: targetForDb,
              targetDb,
              bigKey: job.options.bigKey,
              memoryUsage,
              sample: opts.sample === null ? null : Math.ceil(opts.sample / dbShards.length),
              totals,
              hashes,
              slotBytes,
              readSample,
              onBigKey: (key, type, bytes, elements) =>
                bigKeys.push({
                  source: name,
                  db,
                  key: keyText(key),
                  keyHex: key.toString('hex'),
                  type,
                  bytes,
                  elements,
                  strategy: 'in windows into a same-slot temp key, then one RENAME (never one DUMP/RESTORE)',
                  restoreStallMs: restoreStallMs(type, bytes, elements),
                }),
              onTargetCollision: (key, identical) => addTargetCollision(targetGroups, job, name, targetDb, key, identical),
            }).run(),
          ),
        );
        for (const t of totals.types.keys()) sourceTypes.add(t);
        prefixes.merge(totals.prefixes);
        dbs.push(dbAnalysis(db, targetDb, dbShards.reduce((n, s) => n + s.keys, 0), totals, memoryUsage, opts.sample !== null));
      }
      types.set(name, sourceTypes);
      const readRate = await measureReadRate(source, readSample);
      sources.push(sourceAnalysis(name, dbs, readRate, prefixes));
    };
    const analyseFile = async (s: Job['sources'][number]): Promise<void> => {
      const result = await analyseRdbSource({ name: s.name, file: s.rdb!, job, filter, target, targetFacts: targetProbe.facts, targetDbOf, readAt, sampled: opts.sample !== null });
      fileFacts.set(s.name, result.facts);
      verdicts.push(...result.verdicts);
      if (!result.analysis) return;
      sources.push(result.analysis);
      types.set(s.name, result.types);
      bigKeys.push(...result.bigKeys);
      fileWriters.push(...result.writers);
      for (const c of result.targetCollisions) addTargetCollision(targetGroups, job, s.name, c.targetDb, c.key, c.identical);
      if (slotBytes) for (let i = 0; i < SLOTS; i++) slotBytes[i] += result.slotBytes[i];
    };
    const tasks: Array<() => Promise<void>> = [
      ...sourceProbes.filter((p) => p.endpoint).map((p) => () => analyseLive(p)),
      ...fileSources.map((s) => () => analyseFile(s)),
    ];
    await runLimited(tasks, job.options.parallel.sources, (task) => task());

    // In the job's order, so collision groups name their sources the same way every time.
    const order = (name: string) => job.sources.findIndex((s) => s.name === name);
    writers.sort((a, b) => order(a.source) - order(b.source) || a.db - b.db);
    let betweenGroups: CollisionGroup[];
    if (fileWriters.length === 0) {
      const shared = sharedHashes(writers.map((w) => w.hashes.sortedUnique()));
      betweenGroups = shared.length ? await confirmSharedKeys(writers, shared, filter, job, SAMPLES_PER_GROUP) : [];
    } else {
      fileWriters.sort((a, b) => order(a.source) - order(b.source) || a.db - b.db);
      betweenGroups = await collisionsWithFiles(job, writers, fileWriters, filter, readAt, order);
    }
    const groups = [...betweenGroups, ...targetGroups.values()];
    const betweenSources = betweenGroups.reduce((n, g) => n + g.keys, 0);
    const withTarget = [...targetGroups.values()].reduce((n, g) => n + g.keys, 0);

    const totalKeys = sources.reduce((n, s) => n + s.keys, 0);
    const totalBytes = sources.reduce((n, s) => n + s.bytes, 0);
    const estimatedMs = estimateTotalMs(sources);
    const capacity = capacityOf(targetProbe.facts, totalBytes, slotBytes, target);
    const staging = stagingOf(job, sourceProbes.map((p) => p.facts), opts.stateDir);
    const plan: PlanDocument = {
      version: 1,
      job: job.name,
      createdAt: new Date(started).toISOString(),
      sample: opts.sample,
      elapsedMs: 0,
      // The target, then the sources in the job's order (files among them).
      endpoints: [
        targetProbe.facts,
        ...job.sources.map((s) => sourceProbes.find((p) => p.facts.name === s.name)?.facts ?? fileFacts.get(s.name)).filter((f): f is EndpointFacts => !!f),
      ],
      sources: job.sources.map((s) => sources.find((a) => a.name === s.name)).filter((s): s is SourceAnalysis => !!s),
      totals: { keys: totalKeys, bytes: totalBytes, estimatedMs },
      bigKeys: bigKeys.sort((a, b) => b.bytes - a.bytes),
      collisions: { betweenSources, withTarget, groups },
      capacity,
      staging,
      verdicts: [],
    };
    plan.verdicts = sortVerdicts([...verdicts, ...planVerdicts(job, plan, types)]);
    plan.elapsedMs = Date.now() - started;
    return plan;
  } finally {
    for (const p of probes) p.endpoint?.close();
    for (const e of staged.endpoints.values()) e.close();
    await staged.set?.stop(false);
    tunnels?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// RDB file sources

type LiveWriter = { source: string; endpoint: Endpoint; db: number; targetDb: number; hashes: KeyHashes };

/** One db of an RDB file source: the keys it writes into one target db. */
interface FileWriter {
  source: string;
  file: string;
  db: number;
  targetDb: number;
  hashes: KeyHashes;
}

interface RdbSourceContext {
  name: string;
  file: string;
  job: Job;
  filter: KeyFilter;
  target: Endpoint | null;
  targetFacts: EndpointFacts;
  targetDbOf: (db: number) => number;
  /** The clock for expired keys and TTLs: one for every pass over every file. */
  readAt: number;
  /** The plan was asked for a sample (a file is read whole all the same). */
  sampled: boolean;
}

interface RdbSourceResult {
  facts: EndpointFacts;
  verdicts: Verdict[];
  /** Null when the file could not be read to its end: then nothing of it is counted. */
  analysis: SourceAnalysis | null;
  types: Set<string>;
  bigKeys: BigKey[];
  writers: FileWriter[];
  targetCollisions: Array<{ targetDb: number; key: Buffer; identical: boolean }>;
  /** Planned bytes per target hash slot (cluster targets; empty otherwise). */
  slotBytes: Float64Array;
}

interface FileDb {
  db: number;
  targetDb: number;
  /** Key records of the db in the file, expired ones included. */
  keysInDb: number;
  expires: number;
  /** Selected keys holding hash fields with their own TTLs. */
  subexpiry: number;
  totals: DbTotals;
  hashes: KeyHashes;
  check: TargetCheck | null;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Analyses a source that is an RDB file in one streaming pass (one key held at a time): every key
 * goes through the same counting as a live source's keys (db mapping, filters, types, TTLs,
 * prefixes, big keys with their RESTORE stall, key hashes for collisions between sources, EXISTS
 * and a value comparison on the target). Sizes are the memory estimate of rdb/inspect.ts (the RAM
 * the key would take in Redis) where a live source answers MEMORY USAGE. Keys whose TTL has passed
 * are counted as expired and left out, as Redis drops them when it loads the file.
 */
async function analyseRdbSource(ctx: RdbSourceContext): Promise<RdbSourceResult> {
  const { name, file, job, filter, target, readAt } = ctx;
  const facts: EndpointFacts = {
    role: 'source',
    name,
    address: file,
    reachable: true,
    rttMs: null,
    version: null,
    rdbVersion: null,
    mode: null,
    nodes: [],
    usedMemory: null,
    maxmemory: null,
    maxmemoryPolicy: null,
    keyspace: [],
    commands: {},
    notifyKeyspaceEvents: null,
    decisions: [],
  };
  const result: RdbSourceResult = { facts, verdicts: [], analysis: null, types: new Set(), bigKeys: [], writers: [], targetCollisions: [], slotBytes: new Float64Array(target?.isCluster ? SLOTS : 0) };
  const unreadable = await whyUnreadable(file);
  if (unreadable) {
    facts.reachable = false;
    facts.error = `source ${name}: cannot read the RDB file ${file}: ${unreadable}`;
    return result;
  }

  const { bigKey } = job.options;
  const dbs = new Map<number, FileDb>();
  let redisVer: string | null = null;
  let savedAt: number | null = null;
  let memory = 0;
  let expired = 0;

  const openDb = async (db: number): Promise<FileDb> => {
    const targetDb = ctx.targetDbOf(db);
    // Keys already on the target are looked for only where the target db holds any.
    const targetKeys = ctx.targetFacts.keyspace.find((k) => k.db === targetDb)?.keys ?? 0;
    let check: TargetCheck | null = null;
    if (target) {
      try {
        await target.useDbs([targetDb]);
        if (targetKeys > 0) check = new TargetCheck(target, targetDb, (key, identical) => result.targetCollisions.push({ targetDb, key, identical }));
      } catch (err) {
        result.verdicts.push({ level: 'blocker', topic: 'job', message: `${name} db ${db}: ${(err as Error).message}` });
      }
    }
    const state: FileDb = { db, targetDb, keysInDb: 0, expires: 0, subexpiry: 0, totals: new DbTotals(), hashes: new KeyHashes(), check };
    dbs.set(db, state);
    return state;
  };

  const count = (d: FileDb, r: RdbKeyRecord): void | Promise<void> => {
    d.keysInDb++;
    const t = d.totals;
    t.scanned++;
    const gone = r.expireAtMs !== null && r.expireAtMs <= readAt;
    if (r.expireAtMs !== null) d.expires++;
    if (gone) expired++;
    else memory += r.memory;
    if (!filter.matchesKey(r.key)) return;
    if (gone) {
      t.ttl.expired++;
      return;
    }
    if (!filter.matchesType(r.type)) return;
    const bytes = r.memory;
    t.analysed++;
    t.bytes += bytes;
    let stats = t.types.get(r.type);
    if (!stats) t.types.set(r.type, (stats = { keys: 0, bytes: 0 }));
    stats.keys++;
    stats.bytes += bytes;
    if (r.expireAtMs === null) t.ttl.none++;
    else {
      const left = r.expireAtMs - readAt;
      if (left < HOUR) t.ttl.lt1h++;
      else if (left < DAY) t.ttl.lt1d++;
      else if (left < 7 * DAY) t.ttl.lt7d++;
      else t.ttl.longer++;
    }
    t.prefixes.add(r.key.toString('utf8'), bytes);
    d.hashes.add(d.targetDb, r.key);
    if (result.slotBytes.length) result.slotBytes[keySlot(r.key)] += bytes;
    if (r.fieldTtls > 0) d.subexpiry++;
    if (bytes >= bigKey.bytes || (r.type !== 'string' && r.elements >= bigKey.elements)) {
      result.bigKeys.push({
        source: name,
        db: d.db,
        key: keyText(r.key),
        keyHex: r.key.toString('hex'),
        type: r.type,
        bytes,
        elements: r.elements,
        strategy: 'in windows into a same-slot temp key, then one RENAME (never one DUMP/RESTORE)',
        restoreStallMs: restoreStallMs(r.type, bytes, r.elements),
      });
    }
    if (d.check) return d.check.add(r);
  };

  let walk: RdbWalkResult;
  try {
    walk = await walkRdbFile(
      file,
      {
        onItem(item) {
          if (item.kind === 'header') facts.rdbVersion = item.version;
          else if (item.kind === 'aux' && item.key === 'redis-ver') redisVer = item.value.toString('latin1');
          else if (item.kind === 'aux' && item.key === 'ctime' && /^\d+$/.test(item.value.toString('latin1'))) savedAt = Number(item.value.toString('latin1')) * 1000;
        },
        onKey(r) {
          const d = dbs.get(r.db);
          return d ? count(d, r) : openDb(r.db).then((state) => count(state, r));
        },
      },
      { digestBigStrings: true },
    );
    for (const d of dbs.values()) await d.check?.flush();
  } catch (err) {
    if (!(err instanceof RdbError)) throw err;
    if (facts.rdbVersion !== null) facts.version = redisVer ?? redisVersionOfRdb(facts.rdbVersion).lowest;
    result.verdicts.push({ level: 'blocker', topic: 'reachability', message: `source ${name}: the RDB file ${file} cannot be read: ${err.message}` });
    result.bigKeys = [];
    result.targetCollisions = [];
    result.slotBytes.fill(0);
    return result;
  }

  const implied = redisVersionOfRdb(walk.rdbVersion);
  const ordered = [...dbs.values()].sort((a, b) => a.db - b.db);
  facts.version = redisVer ?? implied.lowest;
  facts.rdbVersion = walk.rdbVersion;
  facts.usedMemory = memory;
  facts.keyspace = ordered.map((d) => ({ db: d.db, keys: d.keysInDb, expires: d.expires, subexpiry: d.subexpiry }));
  const keys = ordered.reduce((n, d) => n + d.keysInDb, 0);
  const written = redisVer === null ? `by Redis ${implied.text} (as RDB ${walk.rdbVersion} implies)` : `by Redis ${redisVer}`;
  facts.decisions.push(
    `read from the RDB file (${formatBytes(walk.fileBytes)}, RDB ${walk.rdbVersion}, written ${written}${savedAt === null ? '' : ` at ${new Date(savedAt).toISOString()}`}) in one streaming pass: no server, no connection, no commands to allow`,
    `sizes are estimates of the RAM each key takes in Redis (a file cannot answer MEMORY USAGE): ${formatBytes(memory)} for ${formatCount(keys - expired)} keys, ${formatBytes(walk.fileBytes)} in the file`,
    walk.checksumOk
      ? 'its CRC-64 checksum matches: the file is whole'
      : walk.rdbVersion < 5
        ? `RDB ${walk.rdbVersion} has no checksum: damage shows only where it breaks the format`
        : 'its checksum is 0 (saved with rdbchecksum no): damage shows only where it breaks the format',
  );
  if (expired > 0) facts.decisions.push(`${formatCount(expired)} key(s) had expired when the file was read: left out, as Redis drops them when it loads the file`);
  if (ctx.sampled) facts.decisions.push('--sample does not apply to a file: it is read whole, in one pass');

  const prefixes = new PrefixTree();
  for (const d of ordered) {
    prefixes.merge(d.totals.prefixes);
    for (const t of d.totals.types.keys()) result.types.add(t);
    result.writers.push({ source: name, file, db: d.db, targetDb: d.targetDb, hashes: d.hashes });
  }
  const dbList = ordered.map((d) => dbAnalysis(d.db, d.targetDb, d.keysInDb, d.totals, false, false));
  const selected = dbList.reduce((n, d) => n + d.keys, 0);
  // Reading the file is what a run does first for each key: its rate, without the target's round trips.
  const waited = ordered.reduce((n, d) => n + (d.check?.waitedMs ?? 0), 0);
  const readSeconds = Math.max(1, walk.parseMs - waited) / 1000;
  result.analysis = sourceAnalysis(name, dbList, selected > 0 ? Math.round(selected / readSeconds) : null, prefixes);
  return result;
}

/** Why the file cannot be read (missing, a directory, no permission…), or null when it can. */
async function whyUnreadable(file: string): Promise<string | null> {
  try {
    const stat = await fs.promises.stat(file);
    if (stat.isDirectory()) return 'it is a directory, not a file';
    if (!stat.isFile()) return 'it is not a regular file';
    await fs.promises.access(file, fs.constants.R_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
    return (err as Error).message;
  }
}

/** Keys whose value is compared with the target's per round trip, and the most value bytes held for that. */
const TARGET_BATCH_KEYS = 1000;
const TARGET_BATCH_BYTES = 64 * 1024 * 1024;

/**
 * Looks for a file's keys on the target (read-only): EXISTS for a batch of keys, and for a key that
 * is there, its DUMP parsed and compared with the file's value as values (a string too big to hold
 * by digest). One batch is checked while the next one is read from the file, so the file waits for
 * the target only when the target is the slower; at most two batches of values are held.
 */
class TargetCheck {
  private batch: Array<{ key: Buffer; value: ParsedValue | null; digest?: Buffer }> = [];
  private bytes = 0;
  private checking: Promise<void> | null = null;
  /** Time the file reading spent waiting for the target. */
  waitedMs = 0;

  constructor(
    private readonly target: Endpoint,
    private readonly targetDb: number,
    private readonly onCollision: (key: Buffer, identical: boolean) => void,
  ) {}

  add(r: RdbKeyRecord): void | Promise<void> {
    this.batch.push({ key: r.key, value: r.value, digest: r.digest });
    this.bytes += r.memory;
    if (this.batch.length >= TARGET_BATCH_KEYS || this.bytes >= TARGET_BATCH_BYTES) return this.start();
  }

  /** Checks what is left and waits for every check to end. */
  async flush(): Promise<void> {
    if (this.batch.length) await this.start();
    const last = this.checking;
    this.checking = null;
    if (last) await this.wait(last);
  }

  /** Starts checking the batch; waits only for the batch before it, if that is still being checked. */
  private start(): void | Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.bytes = 0;
    const previous = this.checking;
    const current = this.check(batch);
    // Observed by the next start() or by flush(); a failure must not go unhandled meanwhile.
    current.catch(() => undefined);
    this.checking = current;
    if (previous) return this.wait(previous);
  }

  private async wait(check: Promise<void>): Promise<void> {
    const started = performance.now();
    try {
      await check;
    } finally {
      this.waitedMs += performance.now() - started;
    }
  }

  private check(batch: Array<{ key: Buffer; value: ParsedValue | null; digest?: Buffer }>): Promise<void> {
    const { target, targetDb } = this;
    return new Promise((resolve, reject) => {
      let left = batch.length;
      let failed = false;
      const done = () => --left === 0 && resolve();
      const fail = (command: string, reply: ReplyError) => {
        if (!failed) reject(explainReplyError(target.label, [command], reply));
        failed = true;
      };
      if (left === 0) return resolve();
      for (const e of batch) {
        target.send(targetDb, e.key, ['EXISTS', e.key], (exists: Reply) => {
          if (exists instanceof ReplyError) return fail('EXISTS', exists);
          if (exists !== 1) return void done();
          target.send(targetDb, e.key, ['DUMP', e.key], (payload: Reply) => {
            if (payload instanceof ReplyError) return fail('DUMP', payload);
            this.onCollision(e.key, Buffer.isBuffer(payload) && sameAsPayload(e, payload));
            done();
          });
        });
      }
    });
  }
}

/** Whether a DUMP payload holds the same value as a file's key (false when it cannot be parsed). */
function sameAsPayload(ours: { value: ParsedValue | null; digest?: Buffer }, payload: Buffer): boolean {
  let theirs: ParsedValue;
  try {
    theirs = parseDumpPayload(payload).value;
  } catch (err) {
    if (err instanceof RdbError) return false;
    throw err;
  }
  if (ours.value) return valuesEqual(ours.value, theirs);
  return theirs.type === 'string' && !!ours.digest && valueDigest(theirs).equals(ours.digest);
}

/** True when a sorted hash list shares a hash with another. */
function sharesAny(list: BigUint64Array, shared: BigUint64Array): boolean {
  for (const h of list.length < shared.length ? list : shared) if (hasHash(list.length < shared.length ? shared : list, h)) return true;
  return false;
}

/**
 * Keys more than one source would write, when some sources are files. Keys only live sources hold
 * are confirmed as in a job without files (confirmSharedKeys). Keys a file holds are found by
 * reading that file again (one more pass, only when it has candidates), keeping just the candidates
 * with a digest of their value; live sources whose hashes match are asked for those keys by name
 * (DUMP, parsed), so every holder's value is compared as a value, whatever its encoding.
 */
async function collisionsWithFiles(
  job: Job,
  writers: LiveWriter[],
  fileWriters: FileWriter[],
  filter: KeyFilter,
  readAt: number,
  order: (source: string) => number,
): Promise<CollisionGroup[]> {
  const liveLists = writers.map((w) => w.hashes.sortedUnique());
  const fileLists = fileWriters.map((w) => w.hashes.sortedUnique());
  const shared = sharedHashes([...liveLists, ...fileLists]);
  if (shared.length === 0) return [];
  const liveOnly = shared.filter((h) => !fileLists.some((l) => hasHash(l, h)));
  const groups = liveOnly.length ? await confirmSharedKeys(writers, liveOnly, filter, job, SAMPLES_PER_GROUP) : [];

  type Holder = { source: string; db: number; digest: Buffer | null };
  const found = new Map<string, { key: Buffer; targetDb: number; hash: bigint; holders: Holder[] }>();
  const files = [...new Set(fileWriters.filter((_, i) => sharesAny(fileLists[i], shared)).map((w) => w.source))];
  await runLimited(files, job.options.parallel.sources, async (source) => {
    const mine = fileWriters.filter((w) => w.source === source);
    await walkRdbFile(
      mine[0].file,
      {
        onKey(r) {
          const w = mine.find((x) => x.db === r.db);
          if (!w || !filter.matchesKey(r.key) || (r.expireAtMs !== null && r.expireAtMs <= readAt) || !filter.matchesType(r.type)) return;
          const hash = keyHash(w.targetDb, r.key);
          if (!hasHash(shared, hash)) return;
          const id = `${w.targetDb}:${r.key.toString('hex')}`;
          let entry = found.get(id);
          if (!entry) found.set(id, (entry = { key: r.key, targetDb: w.targetDb, hash, holders: [] }));
          entry.holders.push({ source, db: r.db, digest: r.value ? valueDigest(r.value) : (r.digest ?? null) });
        },
      },
      { digestBigStrings: true },
    );
  });

  const entries = [...found.values()];
  for (let i = 0; i < entries.length; i += TARGET_BATCH_KEYS) {
    await Promise.all(
      entries.slice(i, i + TARGET_BATCH_KEYS).flatMap((entry) =>
        writers.map(async (w, j) => {
          if (w.targetDb !== entry.targetDb || !hasHash(liveLists[j], entry.hash)) return;
          const payload = await w.endpoint.call(w.db, entry.key, 'DUMP', entry.key);
          if (!Buffer.isBuffer(payload)) return;
          let value: ParsedValue | null = null;
          try {
            value = parseDumpPayload(payload).value;
          } catch (err) {
            if (!(err instanceof RdbError)) throw err;
          }
          if (value && !filter.matchesType(value.type)) return;
          entry.holders.push({ source: w.source, db: w.db, digest: value ? valueDigest(value) : null });
        }),
      ),
    );
  }

  const withFiles = new Map<string, CollisionGroup>();
  for (const { key, targetDb, holders } of entries) {
    if (holders.length < 2) continue;
    holders.sort((a, b) => order(a.source) - order(b.source) || a.db - b.db);
    const first = holders[0].digest;
    const identical = first !== null && holders.every((h) => h.digest !== null && h.digest.equals(first));
    // A source is named by itself, or with its db when two of its dbs hold the key (a db merge).
    const names = holders.map((h) => (holders.filter((x) => x.source === h.source).length > 1 ? `${h.source} db ${h.db}` : h.source));
    const id = `${targetDb}\u0000${names.join('\u0000')}`;
    let group = withFiles.get(id);
    if (!group) {
      group = { kind: 'between-sources', sources: names, targetDb, keys: 0, identical: 0, samples: [], consequence: betweenConsequence(job) };
      withFiles.set(id, group);
    }
    group.keys++;
    if (identical) group.identical++;
    addSample(group, key, identical, SAMPLES_PER_GROUP);
  }
  return [...groups, ...withFiles.values()].sort((a, b) => b.keys - a.keys);
}

/** What the conflict policy does with keys several sources write (the words of sourceCollisions.ts). */
function betweenConsequence(job: Job): string {
  switch (job.options.onConflict) {
    case 'fail':
      return 'onConflict: fail: the run stops when a second source writes one of these keys with a different value (equal values are fine)';
    case 'skip':
      return 'onConflict: skip: the first source to write a key wins and the others are skipped and listed (sources run in parallel, so which is first is not fixed)';
    default:
      return 'onConflict: replace: the last source to write a key wins (sources run in parallel, so which is last is not fixed)';
  }
}

function dbAnalysis(db: number, targetDb: number, keysInDb: number, totals: DbTotals, memoryUsage: boolean, sampled: boolean): DbAnalysis {
  // A sample is scaled up by how much of the db SCAN had walked through when it stopped.
  const scale = sampled && totals.scanned > 0 ? Math.max(1, keysInDb / totals.scanned) : 1;
  return {
    db,
    targetDb,
    keysInDb,
    keys: Math.round(totals.analysed * scale),
    bytes: Math.round(totals.bytes * scale),
    analysed: totals.analysed,
    types: Object.fromEntries([...totals.types].map(([t, v]) => [t, { keys: Math.round(v.keys * scale), bytes: Math.round(v.bytes * scale) }])),
    ttl: totals.ttl,
    memorySource: memoryUsage ? 'memory-usage' : 'dump-length',
  };
}

function sourceAnalysis(name: string, dbs: DbAnalysis[], readKeysPerSec: number | null, prefixes: PrefixTree): SourceAnalysis {
  const keys = dbs.reduce((n, d) => n + d.keys, 0);
  return {
    name,
    dbs,
    keys,
    bytes: dbs.reduce((n, d) => n + d.bytes, 0),
    readKeysPerSec,
    estimatedMs: readKeysPerSec ? Math.round((keys / readKeysPerSec) * 1000) : null,
    prefixTree: prefixes.toNodes(),
    heaviestByBytes: prefixes.heaviest('bytes'),
    heaviestByCount: prefixes.heaviest('keys'),
  };
}

function addTargetCollision(groups: Map<string, CollisionGroup>, job: Job, source: string, targetDb: number, key: Buffer, identical: boolean): void {
  const id = `${source}\u0000${targetDb}`;
  let group = groups.get(id);
  if (!group) {
    group = { kind: 'with-target', sources: [source], targetDb, keys: 0, identical: 0, samples: [], consequence: targetConsequence(job) };
    groups.set(id, group);
  }
  group.keys++;
  if (identical) group.identical++;
  addSample(group, key, identical, SAMPLES_PER_GROUP);
}

function targetConsequence(job: Job): string {
  switch (job.options.onConflict) {
    case 'fail':
      return 'onConflict: fail: the run stops at the first of these keys whose value differs (keys with the same value are left as they are)';
    case 'skip':
      return "onConflict: skip: the target's values are kept; the keys are listed in skipped-keys.ndjson";
    default:
      return "onConflict: replace: the target's values are overwritten with the source's";
  }
}

function atLeastFour(version: string | null): boolean {
  return !!version && Number.parseInt(version, 10) >= 4;
}

/** Sources run in parallel but share the target: the slowest source, or all keys at the fastest rate. */
function estimateTotalMs(sources: SourceAnalysis[]): number | null {
  const rates = sources.map((s) => s.readKeysPerSec).filter((r): r is number => !!r);
  if (rates.length === 0) return sources.length === 0 ? 0 : null;
  const slowest = Math.max(...sources.map((s) => s.estimatedMs ?? 0));
  const shared = (sources.reduce((n, s) => n + s.keys, 0) / Math.max(...rates)) * 1000;
  return Math.round(Math.max(slowest, shared));
}

function capacityOf(target: EndpointFacts, planned: number, slotBytes: Float64Array | null, endpoint: Endpoint | null): PlanDocument['capacity'] {
  const perNode: PlanDocument['capacity']['perNode'] = [];
  if (slotBytes && endpoint) {
    for (const node of endpoint.masters) {
      let bytes = 0;
      for (const [from, to] of node.slots) for (let s = from; s <= to; s++) bytes += slotBytes[s];
      const address = `${node.host}:${node.port}`;
      const facts = target.nodes.find((n) => n.address === address);
      perNode.push({ address, used: facts?.usedMemory ?? null, planned: Math.round(bytes), maxmemory: facts?.maxmemory ?? null });
    }
  }
  return { targetUsed: target.usedMemory, planned, maxmemory: target.maxmemory, perNode };
}

/** Where staging replicas will live: under the job's state directory, as a run puts them. */
function stagingDir(stateDir: string | undefined): string {
  return path.join(stateDir ?? os.tmpdir(), 'staging');
}

function stagingOf(job: Job, facts: EndpointFacts[], stateDir: string | undefined): PlanDocument['staging'] {
  const dir = stagingDir(stateDir);
  const freeBytes = freeDiskBytes(dir);
  return job.sources
    .filter((s) => s.stage === 'replica')
    .map((s) => ({ source: s.name, bytesNeeded: facts.find((f) => f.name === s.name)?.usedMemory ?? 0, freeBytes, dir }));
}

/** Free space of the filesystem that holds `dir` (or its nearest existing parent). */
function freeDiskBytes(dir: string): number | null {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      const stat = fs.statfsSync(d);
      return stat.bavail * stat.bsize;
    } catch {
      if (path.dirname(d) === d) return null;
    }
  }
}

/**
 * Per staged source, what would stop its staging replica: SYNC and PSYNC refused, and the checks a
 * run makes before each start (local redis-server version, RAM, disk).
 */
function stagingBlockers(job: Job, facts: EndpointFacts[], stateDir: string | undefined): Map<string, Verdict[]> {
  const out = new Map<string, Verdict[]>();
  const staged = job.sources.filter((s) => s.stage === 'replica');
  if (staged.length === 0) return out;
  const blocker = (message: string): Verdict => ({ level: 'blocker', topic: 'staging', message });
  let local: { binary: string; version: string } | string;
  try {
    const binary = redisServerBinary(job.options.redisServer);
    local = { binary, version: redisServerVersion(binary) };
  } catch (err) {
    local = `stage: replica needs a local redis-server: ${(err as Error).message}`;
  }
  const dir = stagingDir(stateDir);
  for (const s of staged) {
    const f = facts.find((x) => x.name === s.name);
    if (!f?.reachable || !f.version) continue;
    const problems: Verdict[] = [];
    if (f.commands.SYNC === 'refused' && f.commands.PSYNC === 'refused') {
      problems.push(blocker(`source ${s.name} refuses SYNC and PSYNC, so stage: replica cannot sync a copy of it; set stage: direct for this source (Ferry then reads it by SCAN + DUMP)`));
    }
    if (typeof local === 'string') problems.push(blocker(local));
    else {
      const fits = checkStagingFits({ source: s.name, node: f.address, sourceVersion: f.version, sourceUsedMemory: f.usedMemory ?? 0, binary: local.binary, binaryVersion: local.version, dir, freeDiskBytes: freeDiskBytes(dir) ?? undefined });
      problems.push(...fits.map(blocker));
    }
    if (problems.length) out.set(s.name, problems);
  }
  return out;
}

/**
 * Syncs a staging copy of each staged source that nothing blocks, as the run will, and opens it for
 * the analysis. The sync itself is part of the plan's truth: it works, and it takes this long.
 */
async function stageForPlan(
  job: Job,
  sourceProbes: Array<{ facts: EndpointFacts; endpoint: Endpoint | null }>,
  blocked: Map<string, Verdict[]>,
  tunnels: TunnelSet | null,
  opts: PlanOptions,
  verdicts: Verdict[],
): Promise<{ set: StagingSet | null; endpoints: Map<string, Endpoint> }> {
  const endpoints = new Map<string, Endpoint>();
  const names = job.sources.filter((s) => s.stage === 'replica' && !blocked.has(s.name) && sourceProbes.some((p) => p.facts.name === s.name && p.endpoint)).map((s) => s.name);
  if (names.length === 0) return { set: null, endpoints };
  const started = Date.now();
  let set: StagingSet;
  try {
    set = await StagingSet.start(job, { root: path.join(stateDirOrTmp(opts.stateDir), 'plan-staging'), only: names, tunnels, emit: opts.onEvent ?? (() => undefined) });
  } catch (err) {
    verdicts.push({ level: 'blocker', topic: 'staging', message: (err as Error).message });
    return { set: null, endpoints };
  }
  verdicts.push({ level: 'ok', topic: 'staging', message: `staging replicas of ${names.join(', ')} synced and detached in ${formatDuration(Date.now() - started)} (${job.options.parallel.staging} at a time); the analysis below read those copies` });
  try {
    for (const s of job.sources.filter((x) => names.includes(x.name))) endpoints.set(s.name, await Endpoint.open(set.endpointSpec(s)!));
  } catch (err) {
    for (const e of endpoints.values()) e.close();
    await set.stop(false);
    throw err;
  }
  return { set, endpoints };
}

function stateDirOrTmp(stateDir: string | undefined): string {
  return stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-plan-'));
}

const LEVEL_ORDER = { blocker: 0, warn: 1, ok: 2 } as const;

function sortVerdicts(verdicts: Verdict[]): Verdict[] {
  return verdicts.map((v, i) => [v, i] as const).sort((a, b) => LEVEL_ORDER[a[0].level] - LEVEL_ORDER[b[0].level] || a[1] - b[1]).map(([v]) => v);
}

/** The db part of the target URL; a URL the schema accepted but that cannot be parsed names none. */
function targetAddress(url: string): { db: number; dbInPath: boolean } {
  try {
    return parseRedisUrl(url);
  } catch {
    return { db: 0, dbInPath: false };
  }
}
