import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { replyNumber, replyText } from '../../main/engine/resp/reply.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import { connectTo, everyTypeCommands, EVERY_TYPE_KEYS, sendAll } from '../support/dataset.js';
import { jobFromYaml, migrate, totalDifferences, verify } from '../support/engineRun.js';
import { startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';

let cluster: RedisCluster;
let sources: RedisServer[];
const conns: RedisConnection[] = [];

beforeAll(async () => {
  [cluster, sources] = await Promise.all([startCluster(3), Promise.all([startRedis(), startRedis(), startRedis()])]);
});
afterAll(async () => {
  conns.forEach((c) => c.close());
  await Promise.all([cluster.stop(), ...sources.map((s) => s.stop())]);
});

async function clusterDbSize(): Promise<number> {
  let n = 0;
  for (const node of cluster.nodes) n += Number(await node.cli('DBSIZE'));
  return n;
}

describe('3 standalone sources merged into a 3-node cluster', () => {
  it('routes every key to its slot, applies skip to keys two sources hold, and verifies equal', async () => {
    // Each source: every type under its own prefix, 3,000 plain keys, keys in db 1, and shared keys.
    for (const [i, s] of sources.entries()) {
      const c0 = await connectTo(s.port, 0);
      const c1 = await connectTo(s.port, 1);
      conns.push(c0, c1);
      await sendAll(c0, everyTypeCommands(`s${i}:`, `v${i}`));
      await sendAll(c0, Array.from({ length: 3000 }, (_, n) => ['SET', `plain:${i}:${n}`, `value-${n}`]));
      await sendAll(c1, Array.from({ length: 200 }, (_, n) => ['SET', `db1:${i}:${n}`, `v${n}`, 'PX', 3_600_000]));
      // shared:0..9 hold the same value everywhere; shared:10..19 differ per source.
      await sendAll(c0, Array.from({ length: 20 }, (_, n) => ['SET', `shared:${n}`, n < 10 ? 'same' : `from-${i}`]));
    }
    const j = jobFromYaml(
      [
        'name: merge',
        'sources:',
        ...sources.map((s, i) => `  - { name: legacy-${i}, url: "${s.url}" }`),
        `target: { url: "${cluster.url}", cluster: true }`,
        'options: { onConflict: skip, dbs: { "1": 0 }, parallel: 3 }',
      ].join('\n'),
    );
    const run = await migrate(j);
    expect(run.message).toBeUndefined();
    expect(run.outcome).toBe('done');
    const perSource = EVERY_TYPE_KEYS + 3000 + 200 + 20;
    expect(run.counts.scanned).toBe(3 * perSource);
    // 10 differing shared keys: one source wins each, the two others are skipped; equal ones are unchanged.
    expect(run.counts.skipped).toBe(20);
    expect(run.counts.unchanged).toBe(20);
    expect(await clusterDbSize()).toBe(3 * (perSource - 20) + 20);
    // Keys really are spread over the three masters.
    for (const node of cluster.nodes) expect(Number(await node.cli('DBSIZE'))).toBeGreaterThan(1000);
    const check = await verify(j);
    expect(totalDifferences(check)).toBe(0);
    expect(check.keptByPolicy).toBe(20);
  });

  it('reads a cluster source master by master into a standalone target', async () => {
    const target = await startRedis();
    try {
      const j = jobFromYaml(`name: back\nsources:\n  - { name: cl, url: "${cluster.url}" }\ntarget: { url: "${target.url}" }\n`);
      const run = await migrate(j);
      expect(run.outcome).toBe('done');
      expect(replyNumber(await (await connectTo(target.port)).call('DBSIZE'))).toBe(await clusterDbSize());
      expect(totalDifferences(await verify(j))).toBe(0);
    } finally {
      await target.stop();
    }
  });

  it('follows MOVED when a slot moves to another node', async () => {
    const target = await Endpoint.open({ role: 'target', name: 'target', url: cluster.url });
    try {
      const key = Buffer.from('moving-key');
      await target.call(0, key, 'SET', key, 'before');
      // Move the key's slot from its owner to another master, the way redis-cli --cluster reshard does.
      const slot = replyNumber(await target.command('CLUSTER', 'KEYSLOT', key));
      const ids = await Promise.all(cluster.nodes.map(async (n) => (await n.cli('CLUSTER', 'MYID')).trim()));
      const owners = await Promise.all(cluster.nodes.map(async (n) => Number(await n.cli('CLUSTER', 'COUNTKEYSINSLOT', String(slot)))));
      const from = owners.findIndex((c) => c > 0);
      const to = (from + 1) % 3;
      await cluster.nodes[to].cli('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ids[from]);
      await cluster.nodes[from].cli('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', ids[to]);
      await cluster.nodes[from].cli('MIGRATE', '127.0.0.1', String(cluster.nodes[to].port), 'moving-key', '0', '5000');
      for (const n of cluster.nodes) await n.cli('CLUSTER', 'SETSLOT', String(slot), 'NODE', ids[to]);
      // The endpoint's slot map is now stale: the write must follow MOVED to the new owner.
      await target.call(0, key, 'SET', key, 'after');
      expect(replyText(await target.call(0, key, 'GET', key))).toBe('after');
      expect(await cluster.nodes[to].cli('GET', 'moving-key')).toBe('after');
    } finally {
      target.close();
    }
  });
});
