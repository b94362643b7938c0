import type { Job } from '../../../shared/job.js';
import type { PlanDocument, Verdict } from '../../../shared/plan.js';
import { formatBytes, formatCount, formatDuration } from '../../../shared/format.js';
import { versionVerdicts } from './versionVerdicts.js';

/** Capacity above this share of maxmemory is a warning (evictions and fragmentation need room). */
const CAPACITY_WARN = 0.9;

/** The plan's conclusions, from the facts and the analysis (pure: no I/O). */
export function planVerdicts(job: Job, plan: Omit<PlanDocument, 'verdicts'>, typesBySource: Map<string, Set<string>>): Verdict[] {
  const verdicts: Verdict[] = [];
  const add = (level: Verdict['level'], topic: Verdict['topic'], message: string) => verdicts.push({ level, topic, message });
  const target = plan.endpoints.find((e) => e.role === 'target')!;

  for (const e of plan.endpoints) {
    if (!e.reachable) add('blocker', 'reachability', e.error ?? `${e.role} ${e.name} (${e.address}) cannot be reached`);
  }
  for (const e of plan.endpoints.filter((x) => x.reachable)) {
    const refused = (cmd: string) => e.commands[cmd] === 'refused';
    if (e.role === 'source' && refused('DUMP')) add('blocker', 'commands', `source ${e.name} refuses DUMP: Ferry cannot read its keys; ask for DUMP to be allowed for this user`);
    if (e.role === 'source' && refused('SCAN')) add('blocker', 'commands', `source ${e.name} refuses SCAN: Ferry cannot list its keys`);
    if (e.role === 'target' && refused('RESTORE')) add('blocker', 'commands', `the target refuses RESTORE: Ferry cannot write to it; ask for RESTORE to be allowed for this user`);
  }

  if (target.reachable && target.version && target.rdbVersion !== null) {
    for (const e of plan.endpoints.filter((x) => x.role === 'source' && x.reachable && x.version && x.rdbVersion !== null)) {
      const types = typesBySource.get(e.name) ?? new Set<string>();
      verdicts.push(
        ...versionVerdicts(
          { name: e.name, version: e.version!, rdbVersion: e.rdbVersion! },
          { name: 'target', version: target.version, rdbVersion: target.rdbVersion },
          { streams: types.has('stream'), hashes: types.has('hash'), fieldTtlKeys: fieldTtlKeys(e) },
          job.options.acceptLoss,
        ),
      );
    }
  }

  const { capacity } = plan;
  if (target.reachable) {
    const used = capacity.targetUsed ?? 0;
    const need = used + capacity.planned;
    const what = `${formatBytes(capacity.planned)} planned + ${formatBytes(used)} already used = ${formatBytes(need)}`;
    if (capacity.perNode.length) {
      for (const node of capacity.perNode) {
        const nodeNeed = (node.used ?? 0) + node.planned;
        capacityVerdict(add, `target node ${node.address}: ${formatBytes(node.planned)} planned + ${formatBytes(node.used ?? 0)} used = ${formatBytes(nodeNeed)}`, nodeNeed, node.maxmemory);
      }
    } else {
      capacityVerdict(add, `target: ${what}`, need, capacity.maxmemory);
    }
  }

  const between = plan.collisions.groups.filter((g) => g.kind === 'between-sources');
  const withTarget = plan.collisions.groups.filter((g) => g.kind === 'with-target');
  collisionVerdict(add, job, 'held by more than one source', between.reduce((n, g) => n + g.keys, 0), between.reduce((n, g) => n + g.identical, 0));
  collisionVerdict(add, job, 'already on the target', withTarget.reduce((n, g) => n + g.keys, 0), withTarget.reduce((n, g) => n + g.identical, 0));

  if (plan.bigKeys.length) {
    const worst = plan.bigKeys.reduce((a, b) => (b.restoreStallMs > a.restoreStallMs ? b : a));
    const overBudget = plan.bigKeys.filter((k) => k.restoreStallMs > job.options.latencyBudgetMs).length;
    add(
      'warn',
      'big-keys',
      `${formatCount(plan.bigKeys.length)} big key(s) (at or above ${formatBytes(job.options.bigKey.bytes)} or ${formatCount(job.options.bigKey.elements)} elements); ` +
        `one plain RESTORE of the worst, ${worst.key} (${formatBytes(worst.bytes)}), would stall the target ~${Math.round(worst.restoreStallMs)} ms, ` +
        `and ${formatCount(overBudget)} would exceed the latency budget of ${job.options.latencyBudgetMs} ms that way; Ferry copies them in windows instead`,
    );
  }

  if (plan.totals.keys === 0 && plan.sources.length) add('warn', 'job', 'the job selects no keys: check include, exclude, types and the source URLs');
  if (plan.totals.estimatedMs !== null && plan.totals.keys > 0) {
    add('ok', 'duration', `about ${formatDuration(plan.totals.estimatedMs)} for ${formatCount(plan.totals.keys)} keys (${formatBytes(plan.totals.bytes)}), from a read sample of each source; the target is assumed to keep up`);
  }
  for (const s of plan.staging) {
    const fits = s.freeBytes === null || s.freeBytes > s.bytesNeeded * 2;
    add(fits ? 'ok' : 'warn', 'staging', `staging ${s.source} needs about ${formatBytes(s.bytesNeeded)} (an RDB copy and the replica's memory) in ${s.dir}; ${s.freeBytes === null ? 'free space unknown' : `${formatBytes(s.freeBytes)} free`}`);
  }
  return verdicts;
}

/** Keys with hash-field TTLs (INFO keyspace subexpiry, Redis 7.4+), or undefined when the server does not say. */
function fieldTtlKeys(e: PlanDocument['endpoints'][number]): number | undefined {
  const known = e.keyspace.filter((k) => k.subexpiry !== undefined);
  return known.length ? known.reduce((n, k) => n + (k.subexpiry ?? 0), 0) : undefined;
}

function capacityVerdict(add: (l: Verdict['level'], t: Verdict['topic'], m: string) => void, what: string, need: number, maxmemory: number | null): void {
  if (maxmemory === null) add('warn', 'capacity', `${what}; maxmemory could not be read`);
  else if (maxmemory === 0) add('ok', 'capacity', `${what}; no maxmemory limit`);
  else if (need > maxmemory) add('blocker', 'capacity', `${what}, more than maxmemory ${formatBytes(maxmemory)}: raise maxmemory or use a bigger target`);
  else if (need > maxmemory * CAPACITY_WARN) add('warn', 'capacity', `${what}, over ${CAPACITY_WARN * 100} % of maxmemory ${formatBytes(maxmemory)}`);
  else add('ok', 'capacity', `${what}, within maxmemory ${formatBytes(maxmemory)}`);
}

function collisionVerdict(add: (l: Verdict['level'], t: Verdict['topic'], m: string) => void, job: Job, where: string, keys: number, identical: number): void {
  if (keys === 0) return;
  const differing = keys - identical;
  const text = `${formatCount(keys)} key(s) ${where}: ${formatCount(identical)} with the same value, ${formatCount(differing)} with another`;
  if (differing === 0) add('ok', 'collisions', `${text}; nothing to decide`);
  else if (job.options.onConflict === 'fail') add('blocker', 'collisions', `${text}; onConflict: fail would stop the run: choose skip or replace, or leave these keys out`);
  else add('warn', 'collisions', `${text}; onConflict: ${job.options.onConflict} decides (see the collision groups)`);
}
