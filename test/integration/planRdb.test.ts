// `ferry plan` with RDB files as sources: two fixture files (Redis 6.2.14 and 7.0.15) and a live
// Redis 7.0 source into a live 7.0 target; a 7.4 file (hash fields with TTLs) into that target; and
// files that cannot be used (damaged, missing).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlanDocument, type CollisionGroup } from '../../shared/plan.js';
import { parseJobText } from '../../main/engine/job/loadJob.js';
import { planJob } from '../../main/engine/plan/planner.js';
import { valuesEqual, type LogicalValue } from '../../main/engine/values/logicalValue.js';
import { connectTo } from '../support/dataset.js';
import { startCluster, startRedis, type RedisServer } from '../support/redisServers.js';
import { tmpDir } from '../support/cli.js';
import { expectedLogical, FIXTURES, loadRecords, type FixtureRecord } from '../support/rdbFixtures.js';

const rdbPath = (version: string) => path.join(FIXTURES, 'rdb', version, 'dump.rdb');
const work = tmpDir('ferry-plan-rdb-');
let live: RedisServer;
let target: RedisServer;

/** The key whose value the live source holds differently from the files. */
const CHANGED = Buffer.from('str:int');
const idOf = (db: number, key: Buffer) => `${db}:${key.toString('hex')}`;

beforeAll(async () => {
  [live, target] = await Promise.all([startRedis(), startRedis()]);
  // The live source holds the 7.0.15 dataset, as RESTOREd from its DUMPs, with one value changed
  // and one key of its own.
  for (const db of [0, 1, 15]) {
    const conn = await connectTo(live.port, db);
    for (const r of loadRecords('7.0.15').filter((x) => x.db === db)) {
      await conn.call('RESTORE', r.key, String(r.json.pttl_ms ?? 0), r.dump!, ...(r.json.pttl_ms ? ['ABSTTL'] : []));
    }
    if (db === 0) {
      await conn.call('SET', CHANGED, 'not the same');
      await conn.call('SET', 'live:only', 'x');
    }
    conn.close();
  }
  // The target already has two of the keys in db 0: one with the same value, one with another.
  const conn = await connectTo(target.port, 0);
  const listSmall = loadRecords('7.0.15').find((x) => x.db === 0 && x.label === 'list:small')!;
  await conn.call('RESTORE', listSmall.key, '0', listSmall.dump!);
  await conn.call('SET', 'hash:small', 'a string now');
  conn.close();
}, 60_000);

afterAll(async () => {
  await Promise.all([live?.stop(), target?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

function job(sources: string, options = ''): string {
  return `name: rdb-plan\nsources:\n${sources}\ntarget: { url: "${target.url}" }\noptions:\n  onConflict: replace\n${options}`;
}

/** Between-source collision groups as they must come out, from the fixture records (valuesEqual). */
function expectedGroups(holdersOf: Array<{ name: string; records: Array<{ db: number; key: Buffer; value: LogicalValue }> }>): Map<string, { keys: number; identical: number }> {
  const byKey = new Map<string, Array<{ name: string; value: LogicalValue }>>();
  for (const { name, records } of holdersOf) {
    for (const r of records) {
      const id = idOf(r.db, r.key);
      byKey.set(id, [...(byKey.get(id) ?? []), { name, value: r.value }]);
    }
  }
  const groups = new Map<string, { keys: number; identical: number }>();
  for (const [id, holders] of byKey) {
    if (holders.length < 2) continue;
    const gid = `${id.split(':')[0]}|${holders.map((h) => h.name).join(',')}`;
    const g = groups.get(gid) ?? { keys: 0, identical: 0 };
    g.keys++;
    if (holders.every((h) => valuesEqual(h.value, holders[0].value))) g.identical++;
    groups.set(gid, g);
  }
  return groups;
}

const fixtureValues = (records: FixtureRecord[]) => records.map((r) => ({ db: r.db, key: r.key, value: expectedLogical(r.json) }));
const groupsOf = (groups: CollisionGroup[]) => new Map(groups.filter((g) => g.kind === 'between-sources').map((g) => [`${g.targetDb}|${g.sources.join(',')}`, { keys: g.keys, identical: g.identical }]));

describe('plan: two RDB files and a live source into a live target', () => {
  let plan: PlanDocument;
  let targetKeysBefore: string;

  beforeAll(async () => {
    targetKeysBefore = await target.cli('DBSIZE');
    const text = job(
      `  - { name: file62, rdb: "${rdbPath('6.2.14')}" }\n  - { name: file70, rdb: "${rdbPath('7.0.15')}" }\n  - { name: live, url: "${live.url}" }`,
      '  bigKey: { elements: 500 }\n',
    );
    plan = await planJob(parseJobText(text, { baseDir: work }), { sample: null });
  }, 60_000);

  it('is a valid plan that wrote nothing', async () => {
    expect(() => PlanDocument.parse(plan)).not.toThrow();
    expect(await target.cli('DBSIZE')).toBe(targetKeysBefore);
  });

  it('describes each file as a source endpoint: its path, readable, its versions, no server facts', () => {
    expect(plan.endpoints.map((e) => e.name)).toEqual(['target', 'file62', 'file70', 'live']);
    const f62 = plan.endpoints.find((e) => e.name === 'file62')!;
    expect(f62).toMatchObject({ role: 'source', address: rdbPath('6.2.14'), reachable: true, version: '6.2.14', rdbVersion: 9, mode: null, commands: {}, rttMs: null });
    expect(f62.decisions[0]).toMatch(/^read from the RDB file \(.*RDB 9, written by Redis 6\.2\.14 at \d{4}-/);
    expect(f62.decisions.join('\n')).toContain('CRC-64 checksum matches');
    expect(f62.keyspace).toEqual([
      { db: 0, keys: 33, expires: 6, subexpiry: 0 },
      { db: 1, keys: 5, expires: 1, subexpiry: 0 },
      { db: 15, keys: 4, expires: 2, subexpiry: 0 },
    ]);
    expect(plan.endpoints.find((e) => e.name === 'file70')).toMatchObject({ version: '7.0.15', rdbVersion: 10 });
  });

  it('analyses every key of each file: per db, per type, TTLs, prefixes', () => {
    expect(plan.sources.map((s) => s.name)).toEqual(['file62', 'file70', 'live']);
    for (const [name, version] of [
      ['file62', '6.2.14'],
      ['file70', '7.0.15'],
    ]) {
      const records = loadRecords(version);
      const s = plan.sources.find((x) => x.name === name)!;
      expect(s.keys).toBe(records.length);
      expect(s.dbs.map((d) => [d.db, d.targetDb, d.keysInDb, d.keys, d.analysed])).toEqual(
        [0, 1, 15].map((db) => {
          const n = records.filter((r) => r.db === db).length;
          return [db, db, n, n, n];
        }),
      );
      for (const d of s.dbs) {
        const types: Record<string, number> = {};
        for (const r of records.filter((x) => x.db === d.db)) types[r.json.type] = (types[r.json.type] ?? 0) + 1;
        expect(Object.fromEntries(Object.entries(d.types).map(([t, v]) => [t, v.keys]))).toEqual(types);
        expect(d.ttl.longer).toBe(records.filter((r) => r.db === d.db && r.json.pttl_ms !== null).length);
        expect(d.ttl.none + d.ttl.longer).toBe(d.keys);
        expect(d.bytes).toBeGreaterThan(0);
      }
      expect(s.heaviestByCount.map((p) => p.prefix)).toContain('str');
      expect(s.readKeysPerSec).toBeGreaterThan(0);
    }
  });

  it('sizes keys by the memory estimate, close to what MEMORY USAGE says of the same data on the live source', () => {
    const file70 = plan.sources.find((s) => s.name === 'file70')!;
    const liveSource = plan.sources.find((s) => s.name === 'live')!;
    expect(file70.bytes / liveSource.bytes).toBeGreaterThan(0.75);
    expect(file70.bytes / liveSource.bytes).toBeLessThan(1.33);
  });

  it('finds the keys the files and the live source share, and which hold the same value everywhere', () => {
    const liveValues = fixtureValues(loadRecords('7.0.15')).map((r) => (r.db === 0 && r.key.equals(CHANGED) ? { ...r, value: { type: 'string', value: Buffer.from('not the same') } as LogicalValue } : r));
    liveValues.push({ db: 0, key: Buffer.from('live:only'), value: { type: 'string', value: Buffer.from('x') } });
    const expected = expectedGroups([
      { name: 'file62', records: fixtureValues(loadRecords('6.2.14')) },
      { name: 'file70', records: fixtureValues(loadRecords('7.0.15')) },
      { name: 'live', records: liveValues },
    ]);
    expect(groupsOf(plan.collisions.groups)).toEqual(expected);
    const db0 = expected.get('0|file62,file70,live')!;
    // Only str:int differs (on the live source). The streams hold the same entries and groups in
    // both files (explicit IDs): only the metadata 7.0 adds (entries-added…) differs, which the
    // engine's value comparison leaves out when one side lacks it.
    expect(db0.keys).toBe(33);
    expect(db0.keys - db0.identical).toBe(1);
    const between = plan.collisions.groups.filter((g) => g.kind === 'between-sources');
    expect(between.find((g) => g.targetDb === 0)!.samples.filter((s) => !s.identical).map((s) => s.key)).toEqual(['str:int']);
    expect(plan.collisions.betweenSources).toBe(42);
    const group = plan.collisions.groups.find((g) => g.kind === 'between-sources' && g.targetDb === 0)!;
    expect(group.consequence).toContain('onConflict: replace');
    expect(group.samples.length).toBeGreaterThan(0);
  });

  it('finds the keys already on the target, per source, comparing values', () => {
    const withTarget = plan.collisions.groups.filter((g) => g.kind === 'with-target');
    expect(withTarget.map((g) => [g.sources[0], g.targetDb, g.keys, g.identical]).sort()).toEqual([
      ['file62', 0, 2, 1],
      ['file70', 0, 2, 1],
      ['live', 0, 2, 1],
    ]);
    const samples = withTarget.find((g) => g.sources[0] === 'file62')!.samples;
    expect(samples.map((s) => [s.key, s.identical]).sort()).toEqual([
      ['hash:small', false],
      ['list:small', true],
    ]);
    expect(plan.collisions.withTarget).toBe(6);
  });

  it('lists the big keys of the files with their RESTORE stall estimate', () => {
    for (const source of ['file62', 'file70']) {
      const keys = plan.bigKeys.filter((k) => k.source === source);
      expect(keys.map((k) => k.key).sort()).toEqual(['hash:large', 'list:large', 'set:large', 'set:large-ints']);
      expect(keys.find((k) => k.key === 'list:large')).toMatchObject({ type: 'list', elements: 1000, db: 0 });
      for (const k of keys) expect(k.restoreStallMs).toBeGreaterThan(0);
    }
  });

  it('judges the versions of each file against the target', () => {
    const versions = plan.verdicts.filter((v) => v.topic === 'versions');
    expect(versions.find((v) => v.message.startsWith('file62 (Redis 6.2.14, RDB 9) -> target (Redis 7.0.15, RDB 10)'))?.level).toBe('ok');
    expect(versions.find((v) => v.message.startsWith('file70 (Redis 7.0.15, RDB 10) -> target'))?.level).toBe('ok');
    // Nothing about the files themselves stops the move (the job may still say files cannot run yet).
    const fileBlockers = plan.verdicts.filter((v) => v.level === 'blocker' && !/not supported yet/.test(v.message));
    expect(fileBlockers).toEqual([]);
  });
});

describe('plan: what a file source can get wrong', () => {
  it('a 7.4 file with hash-field TTLs into a 7.0 target: a blocker, a warning once the loss is accepted', async () => {
    const sources = `  - { name: file74, rdb: "${rdbPath('7.4.1')}" }`;
    const blocked = await planJob(parseJobText(job(sources), { baseDir: work }), { sample: null });
    const verdict = blocked.verdicts.find((v) => v.topic === 'versions' && v.message.includes('hash fields with their own TTLs'));
    expect(verdict?.level).toBe('blocker');
    expect(verdict?.message).toContain('file74 (Redis 7.4.1, RDB 12) -> target (Redis 7.0.15, RDB 10): 2 key(s) hold hash fields with their own TTLs');
    expect(blocked.endpoints.find((e) => e.name === 'file74')!.keyspace.find((k) => k.db === 0)!.subexpiry).toBe(2);
    expect(blocked.verdicts.some((v) => v.topic === 'versions' && v.message.includes('re-encoded for RDB 10'))).toBe(true);

    const accepted = await planJob(parseJobText(job(sources, '  acceptLoss: [hash-field-ttls]\n'), { baseDir: work }), { sample: null });
    expect(accepted.verdicts.find((v) => v.topic === 'versions' && v.message.includes('hash fields with their own TTLs'))?.level).toBe('warn');
  });

  it('a damaged file is a blocker naming the file and the offset; a missing one cannot be reached', async () => {
    const damaged = path.join(FIXTURES, 'rdb', 'corrupt', '08-bad-type-byte.rdb');
    const missing = path.join(work, 'missing.rdb');
    const plan = await planJob(parseJobText(job(`  - { name: bad, rdb: "${damaged}" }\n  - { name: gone, rdb: "${missing}" }`), { baseDir: work }), { sample: null });
    expect(() => PlanDocument.parse(plan)).not.toThrow();
    const bad = plan.verdicts.find((v) => v.message.startsWith('source bad:'));
    expect(bad).toMatchObject({ level: 'blocker' });
    expect(bad!.message).toContain(`the RDB file ${damaged} cannot be read: RDB data is corrupt at offset 85: unknown value type 63`);
    expect(plan.endpoints.find((e) => e.name === 'gone')).toMatchObject({ reachable: false, address: missing });
    expect(plan.verdicts).toContainEqual({ level: 'blocker', topic: 'reachability', message: `source gone: cannot read the RDB file ${missing}: no such file` });
    // Nothing of a file that could not be read is counted.
    expect(plan.sources).toEqual([]);
    expect(plan.totals.keys).toBe(0);
  });

  it('a file whose dbs merge into one target db: the keys its dbs share collide; --sample still reads it whole', async () => {
    const text = job(`  - { name: file70, rdb: "${rdbPath('7.0.15')}" }`, '  dbs: { "1": 0 }\n');
    const plan = await planJob(parseJobText(text, { baseDir: work }), { sample: 5 });
    const records = loadRecords('7.0.15');
    const inDb0 = new Set(records.filter((r) => r.db === 0).map((r) => r.key.toString('hex')));
    const shared = records.filter((r) => r.db === 1 && inDb0.has(r.key.toString('hex')));
    expect(shared.length).toBeGreaterThan(0);
    const group = plan.collisions.groups.find((g) => g.kind === 'between-sources')!;
    expect(group).toMatchObject({ sources: ['file70 db 0', 'file70 db 1'], targetDb: 0, keys: shared.length });
    expect(plan.sources[0].keys).toBe(records.length);
    expect(plan.sources[0].dbs.map((d) => [d.db, d.targetDb])).toEqual([
      [0, 0],
      [1, 0],
      [15, 15],
    ]);
    expect(plan.endpoints.find((e) => e.name === 'file70')!.decisions).toContain('--sample does not apply to a file: it is read whole, in one pass');
  });
});

describe('plan: a file into a cluster target', () => {
  it('plans the bytes per master by the slots of the keys', async () => {
    const cluster = await startCluster(3);
    try {
      const text = `name: rdb-cluster\nsources:\n  - { name: file70, rdb: "${rdbPath('7.0.15')}" }\ntarget: { url: "${cluster.url}", cluster: true }\noptions:\n  dbs: { "1": 0, "15": 0 }\n  onConflict: replace\n`;
      const plan = await planJob(parseJobText(text, { baseDir: work }), { sample: null });
      expect(plan.capacity.perNode).toHaveLength(3);
      expect(plan.capacity.perNode.reduce((n, p) => n + p.planned, 0)).toBeCloseTo(plan.totals.bytes, 0);
      for (const node of plan.capacity.perNode) expect(node.planned).toBeGreaterThan(0);
      expect(plan.verdicts.filter((v) => v.level === 'blocker' && !/not supported yet/.test(v.message))).toEqual([]);
    } finally {
      await cluster.stop();
    }
  }, 60_000);
});
