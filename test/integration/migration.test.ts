import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replyNumber, replyText } from '../../main/engine/resp/reply.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import { connectTo, everyTypeCommands, EVERY_TYPE_KEYS, BINARY_KEY, BINARY_VALUE, HUGE_BYTES, UNICODE_KEY, sendAll } from '../support/dataset.js';
import { jobFromYaml, migrate, totalDifferences, verify } from '../support/engineRun.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';

const servers: RedisServer[] = [];
const conns: RedisConnection[] = [];
async function server(args: string[] = []): Promise<RedisServer> {
  const s = await startRedis({ args });
  servers.push(s);
  return s;
}
async function conn(s: RedisServer, db = 0): Promise<RedisConnection> {
  const c = await connectTo(s.port, db);
  conns.push(c);
  return c;
}
afterAll(async () => {
  conns.forEach((c) => c.close());
  await Promise.all(servers.map((s) => s.stop()));
});

function job(sources: RedisServer[], target: RedisServer, options = ''): ReturnType<typeof jobFromYaml> {
  return jobFromYaml(
    [
      'name: t',
      'sources:',
      ...sources.map((s, i) => `  - { name: src-${i}, url: "${s.url}" }`),
      `target: { url: "${target.url}" }`,
      options ? `options: ${options}` : '',
    ].join('\n'),
  );
}

describe('standalone to standalone', () => {
  let source: RedisServer;
  let target: RedisServer;
  let src: RedisConnection;
  let tgt: RedisConnection;
  beforeAll(async () => {
    [source, target] = await Promise.all([server(), server()]);
    [src, tgt] = await Promise.all([conn(source), conn(target)]);
    await sendAll(src, everyTypeCommands());
  });

  it('copies every type, binary and unicode keys, empty and huge values, TTLs, streams with groups', async () => {
    const j = job([source], target);
    const run = await migrate(j);
    expect(run.outcome).toBe('done');
    expect(run.counts.written).toBe(EVERY_TYPE_KEYS);
    expect(run.counts.errors).toBe(0);
    // The 16 MB string is above the default bigKey.bytes (8 MB): copied in windows, and named in a warning.
    const warnings = run.events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);
    expect(warnings).toEqual([expect.stringMatching(/key "str:huge" \(db 0, string, [\d.]+ MB\) is a big key/)]);
    expect(run.counts.chunked).toBe(1);
    // Its progress was reported, in bytes, ending at the whole length.
    const progress = run.events.filter((e) => e.type === 'big-key-progress');
    expect(progress.length).toBeGreaterThan(0);
    const last = progress.at(-1)!;
    expect(last.type === 'big-key-progress' && [last.unit, last.done, last.total, Buffer.from(last.keyHex, 'hex').toString()]).toEqual(['bytes', HUGE_BYTES, HUGE_BYTES, 'str:huge']);
    expect(replyNumber(await tgt.call('DBSIZE'))).toBe(EVERY_TYPE_KEYS);
    // Checked with plain commands, independently of Ferry's verify.
    expect((await tgt.call('GET', BINARY_KEY)) as Buffer).toEqual(BINARY_VALUE);
    expect(replyText(await tgt.call('GET', UNICODE_KEY))).toBe('значение ✓ v1');
    expect(((await tgt.call('GET', 'str:empty')) as Buffer).length).toBe(0);
    expect(replyNumber(await tgt.call('STRLEN', 'str:huge'))).toBe(HUGE_BYTES);
    expect(replyText(await tgt.call('GET', ''))).toContain('empty-named');
    expect(replyText(await tgt.call('ZSCORE', 'zset:small', 'low'))).toBe('-inf');
    const pending = (await tgt.call('XPENDING', 'stream:events', 'billing')) as unknown[];
    expect(pending[0]).toBe(6);
    for (const key of ['str:ttl', 'hash:ttl']) {
      const [a, b] = await Promise.all([src.call('PTTL', key), tgt.call('PTTL', key)]);
      expect(Math.abs(replyNumber(a) - replyNumber(b))).toBeLessThan(1000);
      expect(replyNumber(b)).toBeGreaterThan(0);
    }
    const check = await verify(j);
    expect(totalDifferences(check)).toBe(0);
    expect(check.compared).toBe(EVERY_TYPE_KEYS);
    expect(check.equal).toBe(EVERY_TYPE_KEYS);
  });

  it('verify finds missing keys, other types, other values and other TTLs', async () => {
    await sendAll(tgt, [
      ['DEL', 'str:plain'],
      ['DEL', 'list:small'],
      ['SET', 'list:small', 'now a string'],
      ['HSET', 'hash:big', 'field-7', 'changed'],
      ['PEXPIRE', 'str:ttl', 60_000],
      ['XACK', 'stream:events', 'billing', '1700000000000-3'],
    ]);
    const check = await verify(job([source], target));
    expect(check.differences).toEqual({ missing: 1, type: 1, value: 2, ttl: 1 });
    const details = check.firstDifferences.map((d) => `${Buffer.from(d.keyHex, 'hex').toString()} ${d.kind}: ${d.detail}`).join('\n');
    expect(details).toContain('hash:big value');
    expect(details).toContain('stream:events value');
    expect(details).toContain('str:ttl ttl');
  });
});

describe('TTL options', () => {
  it('extendMs adds to every TTL; keep: false drops them; keys without TTL stay without', async () => {
    const [source, t1, t2] = await Promise.all([server(), server(), server()]);
    const src = await conn(source);
    await sendAll(src, [
      ['SET', 'a', '1', 'PX', 600_000],
      ['SET', 'b', '2'],
    ]);
    const extended = job([source], t1, '{ ttl: { keep: true, extendMs: 3600000 } }');
    expect((await migrate(extended)).outcome).toBe('done');
    const c1 = await conn(t1);
    expect(replyNumber(await c1.call('PTTL', 'a'))).toBeGreaterThan(600_000 + 3_600_000 - 2000);
    expect(replyNumber(await c1.call('PTTL', 'b'))).toBe(-1);
    expect(totalDifferences(await verify(extended))).toBe(0);

    const dropped = job([source], t2, '{ ttl: { keep: false } }');
    expect((await migrate(dropped)).outcome).toBe('done');
    const c2 = await conn(t2);
    expect(replyNumber(await c2.call('PTTL', 'a'))).toBe(-1);
    expect(totalDifferences(await verify(dropped))).toBe(0);
  });
});

describe('filters and db mapping', () => {
  it('include / exclude globs over bytes, type filter, and source dbs mapped to target dbs', async () => {
    const [source, target] = await Promise.all([server(), server()]);
    const [s0, s1, s2] = await Promise.all([conn(source, 0), conn(source, 1), conn(source, 2)]);
    await sendAll(s0, [
      ['HSET', 'user:1', 'n', '1'],
      ['HSET', 'user:2', 'n', '2'],
      ['SET', 'user:3', 'a string user'],
      ['HSET', 'user:tmp:9', 'n', '9'],
      ['HSET', 'order:1', 'n', '1'],
      ['HSET', Buffer.concat([Buffer.from('user:'), Buffer.from([0xff, 0x00])]), 'n', 'bin'],
    ]);
    await sendAll(s1, [['HSET', 'user:10', 'n', '10'], ['HSET', 'other:1', 'n', '1']]);
    await sendAll(s2, [['HSET', 'user:20', 'n', '20']]);
    const j = job([source], target, `{ include: ["user:*"], exclude: ["user:tmp:*"], types: [hash], dbs: { "1": 0, "2": 5 } }`);
    const run = await migrate(j);
    expect(run.outcome).toBe('done');
    const [t0, t5] = await Promise.all([conn(target, 0), conn(target, 5)]);
    const keys0 = ((await t0.call('KEYS', '*')) as Buffer[]).map((k) => k.toString('hex')).sort();
    const expected0 = ['user:1', 'user:2', 'user:10'].map((k) => Buffer.from(k).toString('hex'));
    expected0.push(Buffer.concat([Buffer.from('user:'), Buffer.from([0xff, 0x00])]).toString('hex'));
    expect(keys0).toEqual(expected0.sort());
    expect(((await t5.call('KEYS', '*')) as Buffer[]).map(String)).toEqual(['user:20']);
    expect(run.counts.filtered).toBe(1); // user:3 is a string
    expect(totalDifferences(await verify(j))).toBe(0);
  });
});

describe('conflict policies', () => {
  async function setup(targetValue: string) {
    const [source, target] = await Promise.all([server(), server()]);
    const [src, tgt] = await Promise.all([conn(source), conn(target)]);
    await sendAll(src, [['SET', 'clash', 'from-source'], ['SET', 'solo', 'only-source'], ...Array.from({ length: 50 }, (_, i) => ['SET', `k${i}`, 'v'])]);
    await sendAll(tgt, [['SET', 'clash', targetValue]]);
    return { source, target, tgt };
  }

  it('fail stops at the first existing key with another value and names it', async () => {
    const { source, target, tgt } = await setup('from-target');
    const run = await migrate(job([source], target, '{ onConflict: fail }'));
    expect(run.outcome).toBe('failed');
    expect(run.message).toContain('key "clash"');
    expect(run.message).toContain('src-0');
    expect(run.message).toContain('onConflict');
    expect(replyText(await tgt.call('GET', 'clash'))).toBe('from-target');
  });

  it('fail is not triggered by a key that already holds the same value', async () => {
    const { source, target } = await setup('from-source');
    const run = await migrate(job([source], target, '{ onConflict: fail }'));
    expect(run.outcome).toBe('done');
    expect(run.counts.unchanged).toBe(1);
    expect(run.counts.written).toBe(51);
  });

  it('skip keeps the target value, counts it, and verify reports it as kept by policy', async () => {
    const { source, target, tgt } = await setup('from-target');
    const j = job([source], target, '{ onConflict: skip }');
    const run = await migrate(j);
    expect(run.outcome).toBe('done');
    expect(run.counts.skipped).toBe(1);
    expect(replyText(await tgt.call('GET', 'clash'))).toBe('from-target');
    const check = await verify(j);
    expect(totalDifferences(check)).toBe(0);
    expect(check.keptByPolicy).toBe(1);
  });

  it('replace overwrites', async () => {
    const { source, target, tgt } = await setup('from-target');
    const j = job([source], target, '{ onConflict: replace }');
    expect((await migrate(j)).outcome).toBe('done');
    expect(replyText(await tgt.call('GET', 'clash'))).toBe('from-source');
    expect(totalDifferences(await verify(j))).toBe(0);
  });
});
