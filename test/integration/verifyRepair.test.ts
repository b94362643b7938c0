// Verify-and-repair against real servers: a target damaged on purpose (keys deleted, values and
// types changed, TTLs wrong, big keys changed) ends equal to the source, with the count of what was
// repaired; a key the source still writes during the repair is reported as still different.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../shared/events.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { EventBus } from '../../main/engine/events/eventBus.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import { replyNumber, replyText } from '../../main/engine/resp/reply.js';
import { repairKeys, verifyAndRepair } from '../../main/engine/verify/repair.js';
import { connectTo, everyTypeCommands, EVERY_TYPE_KEYS, sendAll } from '../support/dataset.js';
import { jobFromYaml, migrate, totalDifferences, verify } from '../support/engineRun.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';

const servers: RedisServer[] = [];
const closers: Array<{ close(): void }> = [];
afterAll(async () => {
  closers.forEach((c) => c.close());
  await Promise.all(servers.map((s) => s.stop()));
});
async function conn(port: number, db = 0): Promise<RedisConnection> {
  const c = await connectTo(port, db);
  closers.push(c);
  return c;
}
type Job = ReturnType<typeof jobFromYaml>;

async function repair(j: Job) {
  fs.mkdirSync(j.stateDir, { recursive: true });
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.on((e) => events.push(e));
  const result = await verifyAndRepair(j.loaded, { stateDir: j.stateDir, ttlToleranceMs: 1000 }, bus);
  return { ...result, events };
}

describe('verify-and-repair', () => {
  let source: RedisServer;
  let target: RedisServer;
  let src: RedisConnection;
  let tgt: RedisConnection;
  let j: Job;
  beforeAll(async () => {
    [source, target] = await Promise.all([startRedis(), startRedis()]);
    servers.push(source, target);
    [src, tgt] = await Promise.all([conn(source.port), conn(target.port)]);
    await sendAll(src, everyTypeCommands());
    await sendAll(await conn(source.port, 1), [['SET', 'one', '1'], ['SADD', 'members', 'a', 'b']]);
    // Collections of 1000+ elements are big keys here (as is the 16 MB string): repaired in windows.
    j = jobFromYaml(
      ['name: t', 'sources:', `  - { name: src, url: "${source.url}" }`, `target: { url: "${target.url}" }`, 'options: { dbs: { "1": 3 }, bigKey: { elements: 1000 } }'].join('\n'),
    );
    expect((await migrate(j)).outcome).toBe('done');
  });

  it('re-copies every key that differs, then finds none', async () => {
    const tgt3 = await conn(target.port, 3);
    await sendAll(tgt, [
      ['DEL', 'str:plain'],
      ['SET', 'list:small', 'now a string'],
      ['HSET', 'hash:small', 'name', 'bob'],
      ['PEXPIRE', 'str:int', 5000],
      ['PERSIST', 'str:ttl'],
      ['LSET', 'list:big', 5, 'changed'],
      ['SETRANGE', 'str:huge', 1000, 'X'],
      ['DEL', 'zset:big'],
      ['XACK', 'stream:events', 'billing', '1700000000000-3'],
    ]);
    await sendAll(tgt3, [['DEL', 'one'], ['SREM', 'members', 'a']]);
    expect(totalDifferences(await verify(j))).toBe(11);

    const result = await repair(j);
    expect(result.found).toBe(11);
    expect(result.verify.differences).toEqual({ missing: 3, type: 1, value: 5, ttl: 2 });
    // list:big, str:huge and zset:big went in windows.
    expect(result.repair).toEqual({ attempted: 11, repaired: 11, vanished: 0, chunked: 3, stillDifferent: [] });
    // Checked independently of the repair.
    const after = await verify(j);
    expect(totalDifferences(after)).toBe(0);
    expect(after.compared).toBe(EVERY_TYPE_KEYS + 2);
    expect(replyNumber(await tgt.call('PTTL', 'str:int'))).toBe(-1);
    expect(replyNumber(await tgt.call('PTTL', 'str:ttl'))).toBeGreaterThan(0);
    expect(replyText(await tgt.call('LINDEX', 'list:big', 5))).toBe('item-5-xxxxx');
    expect(replyNumber(await tgt3.call('SCARD', 'members'))).toBe(2);
  });

  it('a key gone from the source by the time of the repair is removed from the target', async () => {
    await tgt.call('SET', 'only-on-target', 'x');
    const [s, t] = await Promise.all([Endpoint.open({ role: 'source', name: 'src', url: source.url }), Endpoint.open({ role: 'target', name: 'target', url: target.url })]);
    closers.push(s, t);
    const result = await repairKeys({ job: j.loaded.job, sources: new Map([['src', s]]), target: t, ttlToleranceMs: 1000 }, [
      { source: 'src', db: 0, targetDb: 0, keyHex: Buffer.from('only-on-target').toString('hex'), kind: 'missing', detail: 'not on the target' },
    ]);
    expect(result).toEqual({ attempted: 1, repaired: 0, vanished: 1, chunked: 0, stillDifferent: [] });
    expect(replyNumber(await tgt.call('EXISTS', 'only-on-target'))).toBe(0);
  });

  it('reports honestly a key that the source keeps changing while it is repaired', async () => {
    await tgt.call('DEL', 'str:plain');
    await src.call('SET', 'counter', 0);
    const writer = await conn(source.port);
    let running = true;
    const writing = (async () => {
      while (running) await Promise.all(Array.from({ length: 10 }, () => writer.call('INCR', 'counter')));
    })();
    let result;
    try {
      result = await repair(j);
    } finally {
      running = false;
      await writing;
    }
    expect(result.found).toBe(2);
    expect(result.repair.repaired).toBe(1);
    expect(result.repair.stillDifferent).toEqual([expect.objectContaining({ source: 'src', db: 0, keyHex: Buffer.from('counter').toString('hex'), kind: 'value' })]);
    expect(result.repair.stillDifferent[0].detail).toMatch(/^string differs/);
    // Once the writes stop, a second pass ends it.
    const again = await repair(j);
    expect(again.repair).toMatchObject({ repaired: 1, stillDifferent: [] });
    expect(totalDifferences(await verify(j))).toBe(0);
  });
});
