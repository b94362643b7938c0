import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BigKey, CollisionGroup, DbAnalysis, EndpointFacts, PlanDocument, SourceAnalysis, Verdict } from '../../../shared/plan.js';
import type { Job } from '../../../shared/job.js';
import { Endpoint } from '../endpoints/endpoint.js';
import { KeyFilter } from '../filters/keyFilter.js';
import type { LoadedJob } from '../job/loadJob.js';
import { SLOTS } from '../keys/hashSlot.js';
import { keyText } from '../run/describeKey.js';
import { targetDbMapping } from '../run/dbMapping.js';
import { parseRedisUrl } from '../endpoints/redisUrl.js';
import { runLimited } from '../run/runLimited.js';
import { unsupportedProblems } from '../run/openEndpoints.js';
import { listShards } from '../run/sourceCopy.js';
import { confirmSharedKeys } from './sourceCollisions.js';
import { KeyHashes, sharedHashes } from './keyHashes.js';
import { measureReadRate } from './readRate.js';
import { probeEndpoint } from './probeEndpoint.js';
import { TunnelSet, type TunnelChoices } from '../tunnels/tunnelSet.js';
import { redisServerBinary } from '../sandbox/redisProcess.js';
import { checkStagingFits, redisServerVersion } from '../staging/stagingFit.js';
import { StagingSet } from '../staging/stagingSet.js';
import { formatDuration } from '../../../shared/format.js';
import type { EngineEvent } from '../../../shared/events.js';
import { restoreStallMs } from './restoreStall.js';
import { PrefixTree } from './prefixTree.js';
import { DbTotals, ShardAnalyzer } from './shardAnalyzer.js';
import { planVerdicts } from './planVerdicts.js';

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
  const writers: Array<{ source: string; endpoint: Endpoint; db: number; targetDb: number; hashes: KeyHashes }> = [];
  const slotBytes = target?.isCluster ? new Float64Array(SLOTS) : null;
  const types = new Map<string, Set<string>>();
  // From the URL itself, so the plan maps dbs as the run will even when the target is unreachable.
  const targetDbOf = targetDbMapping(job, targetAddress(job.target.url));

  try {
    await runLimited(
      sourceProbes.filter((p) => p.endpoint),
      job.options.parallel.sources,
      async ({ facts, endpoint }) => {
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
      },
    );

    // In the job's order, so collision groups name their sources the same way every time.
    const order = (name: string) => job.sources.findIndex((s) => s.name === name);
    writers.sort((a, b) => order(a.source) - order(b.source) || a.db - b.db);
    const shared = sharedHashes(writers.map((w) => w.hashes.sortedUnique()));
    const betweenGroups = shared.length ? await confirmSharedKeys(writers, shared, filter, job, SAMPLES_PER_GROUP) : [];
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
      endpoints: probes.map((p) => p.facts),
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
  if (group.samples.length < SAMPLES_PER_GROUP) group.samples.push({ key: keyText(key), keyHex: key.toString('hex'), identical });
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
