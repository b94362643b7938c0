import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlanDocument, hasBlocker } from '../../shared/plan.js';
import { loadJobFile, parseJobText } from '../../main/engine/job/loadJob.js';
import { planJob } from '../../main/engine/plan/planner.js';
import { startSandbox, type Sandbox } from '../../main/engine/sandbox/sandbox.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { RedisConnection } from '../../main/engine/resp/connection.js';
import { replyArray, replyText } from '../../main/engine/resp/reply.js';

let sandbox: Sandbox;
const ports = () => [...sandbox.sources.map((s) => s.server.port), ...sandbox.targetNodes.map((n) => n.port)];

/** Calls of every command that writes, per server, from INFO commandstats and COMMAND INFO. */
async function writeCalls(port: number): Promise<Record<string, number>> {
  const conn = await RedisConnection.connect({ host: '127.0.0.1', port, label: `:${port}` });
  try {
    const stats = replyText(await conn.call('INFO', 'commandstats'));
    const calls: Record<string, number> = {};
    for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]] = Number(m[2]);
    const names = Object.keys(calls).filter((n) => !n.includes('|'));
    const infos = replyArray(await conn.call('COMMAND', 'INFO', ...names));
    const writes: Record<string, number> = {};
    infos.forEach((info, i) => {
      const flags = (replyArray(info)[2] as unknown[]).map((f) => replyText(f as Buffer | string));
      if (flags.includes('write')) writes[names[i]] = calls[names[i]];
    });
    return writes;
  } finally {
    conn.close();
  }
}

beforeAll(async () => {
  sandbox = await startSandbox();
}, 120_000);
afterAll(async () => {
  await sandbox?.stop();
});

describe('ferry plan on the sandbox', () => {
  let plan: PlanDocument;
  let writesBefore: Array<Record<string, number>>;

  beforeAll(async () => {
    writesBefore = await Promise.all(ports().map(writeCalls));
    plan = await planJob(await loadJobFile(sandbox.jobPath), { sample: null });
  }, 120_000);

  it('writes nothing on any endpoint', async () => {
    const after = await Promise.all(ports().map(writeCalls));
    expect(after).toEqual(writesBefore);
  });

  it('is a valid plan document with every selected key', () => {
    expect(() => PlanDocument.parse(plan)).not.toThrow();
    const expected = sandbox.sources.reduce((n, s) => n + s.keys, 0);
    expect(plan.totals.keys).toBe(expected);
    expect(plan.totals.bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(plan.sources.map((s) => s.name)).toEqual(['legacy-a', 'legacy-b', 'legacy-c']);
    const a = plan.sources[0];
    expect(a.dbs.map((d) => [d.db, d.targetDb])).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(Object.keys(a.dbs[0].types).sort()).toEqual(['hash', 'list', 'set', 'stream', 'string', 'zset']);
    const ttl = a.dbs[0].ttl;
    expect(ttl.none + ttl.lt1h + ttl.lt1d + ttl.lt7d + ttl.longer).toBe(a.dbs[0].keys);
    expect(ttl.lt1d).toBeGreaterThan(5000); // the sessions with TTLs of 1 to 24 hours
    expect(a.heaviestByCount[0].prefix).toBe('session');
    expect(a.prefixTree.map((n) => n.prefix)).toContain('session');
    expect(a.readKeysPerSec).toBeGreaterThan(1000);
    expect(plan.totals.estimatedMs).toBeGreaterThan(0);
  });

  it('finds exactly the keys two sources hold, and which of them hold the same value', () => {
    expect(plan.collisions.betweenSources).toBe(500);
    const group = plan.collisions.groups.find((g) => g.kind === 'between-sources')!;
    expect(group.sources.sort()).toEqual(['legacy-a', 'legacy-b']);
    expect(group.keys).toBe(500);
    expect(group.identical).toBe(100);
    expect(group.consequence).toContain('onConflict: skip');
    expect(plan.collisions.withTarget).toBe(0);
  });

  it('finds every big key, with its size, elements and RESTORE stall estimate', () => {
    expect(plan.bigKeys.map((k) => k.key).sort()).toEqual(['audit:c:log', 'blob:a:report-2019', 'catalog:b:all']);
    const blob = plan.bigKeys.find((k) => k.key === 'blob:a:report-2019')!;
    expect(blob.type).toBe('string');
    expect(blob.bytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(blob.restoreStallMs).toBeGreaterThan(4);
    expect(plan.bigKeys.find((k) => k.key === 'catalog:b:all')!.elements).toBe(50_000);
    expect(plan.bigKeys.find((k) => k.key === 'audit:c:log')!.elements).toBe(30_000);
    expect(plan.verdicts.some((v) => v.topic === 'big-keys' && v.level === 'warn')).toBe(true);
  });

  it('describes the endpoints and has no blocker', () => {
    const target = plan.endpoints.find((e) => e.role === 'target')!;
    expect(target.mode).toBe('cluster');
    expect(target.nodes).toHaveLength(3);
    expect(plan.capacity.perNode).toHaveLength(3);
    expect(plan.capacity.perNode.reduce((n, p) => n + p.planned, 0)).toBe(plan.totals.bytes);
    expect(plan.verdicts.filter((v) => v.level === 'blocker')).toEqual([]);
    expect(plan.verdicts.some((v) => v.topic === 'versions' && v.level === 'ok')).toBe(true);
  });
});

describe('plan blockers', () => {
  it('keys already on the target, onConflict fail, and a maxmemory too small are blockers', async () => {
    const target = await Endpoint.open({ role: 'target', name: 'target', url: `redis://127.0.0.1:${sandbox.targetNodes[0].port}` });
    try {
      await target.call(0, Buffer.from('shared:config:1'), 'SET', 'shared:config:1', 'config-1-v1');
      await target.call(0, Buffer.from('shared:config:300'), 'SET', 'shared:config:300', 'something else');
      for (const node of sandbox.targetNodes) {
        const conn = await RedisConnection.connect({ host: '127.0.0.1', port: node.port, label: 'node' });
        await conn.call('CONFIG', 'SET', 'maxmemory', String(3 * 1024 * 1024));
        conn.close();
      }
      const text = (await import('node:fs')).readFileSync(sandbox.jobPath, 'utf8').replace('onConflict: skip', 'onConflict: fail');
      const plan = await planJob(parseJobText(text, { baseDir: sandbox.dir }), { sample: null });
      // shared:config:1 is on the target with the same value as both sources; :300 differs.
      expect(plan.collisions.withTarget).toBe(4);
      const withTarget = plan.collisions.groups.filter((g) => g.kind === 'with-target');
      // Both sources hold config-1-v1 for :1 (the first 100 are equal everywhere), like the target.
      expect(withTarget.reduce((n, g) => n + g.identical, 0)).toBe(2);
      expect(hasBlocker(plan)).toBe(true);
      const blockers = plan.verdicts.filter((v) => v.level === 'blocker').map((v) => `${v.topic}: ${v.message}`);
      expect(blockers.some((b) => b.startsWith('capacity:') && b.includes('maxmemory'))).toBe(true);
      expect(blockers.some((b) => b.startsWith('collisions:') && b.includes('onConflict: fail'))).toBe(true);
    } finally {
      await target.call(0, Buffer.from('shared:config:1'), 'DEL', 'shared:config:1');
      await target.call(0, Buffer.from('shared:config:300'), 'DEL', 'shared:config:300');
      for (const node of sandbox.targetNodes) {
        const conn = await RedisConnection.connect({ host: '127.0.0.1', port: node.port, label: 'node' });
        await conn.call('CONFIG', 'SET', 'maxmemory', '0');
        conn.close();
      }
      target.close();
    }
  });

  it('a sample is labelled and scaled to the whole keyspace', async () => {
    const plan = await planJob(await loadJobFile(sandbox.jobPath), { sample: 2000 });
    expect(plan.sample).toBe(2000);
    const db0 = plan.sources[0].dbs[0];
    expect(db0.analysed).toBeLessThanOrEqual(2000);
    expect(Math.abs(db0.keys - db0.keysInDb) / db0.keysInDb).toBeLessThan(0.2);
  });
});
