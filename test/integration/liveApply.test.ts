import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSchema } from '../../shared/job.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { KeyFilter } from '../../main/engine/filters/keyFilter.js';
import { keySlot } from '../../main/engine/keys/hashSlot.js';
import { CommandTranslator, translatorOptionsFor, type TranslationNote } from '../../main/engine/live/commandTranslator.js';
import { LiveApplier } from '../../main/engine/live/liveApplier.js';
import type { Arg } from '../../main/engine/resp/commandEncoder.js';
import { replyArray, replyNumber } from '../../main/engine/resp/reply.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { describeDifference, valuesEqual } from '../../main/engine/values/logicalValue.js';
import { BINARY_KEY, BINARY_VALUE, connectTo, UNICODE_KEY } from '../support/dataset.js';
import { startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';
import { ReplicationCapture, type CapturedCommand } from '../support/replicationCapture.js';

const servers: Array<{ stop(): Promise<void> }> = [];
const closers: Array<{ close(): void }> = [];
afterAll(async () => {
  closers.forEach((c) => c.close());
  await Promise.all(servers.map((s) => s.stop()));
});

async function server(): Promise<RedisServer> {
  const s = await startRedis();
  servers.push(s);
  return s;
}

async function endpoint(role: 'source' | 'target', url: string): Promise<Endpoint> {
  const e = await Endpoint.open({ role, name: role, url });
  closers.push(e);
  return e;
}

/** Runs commands on one connection in order (pipelined); an error reply fails the test. */
async function run(port: number, db: number, commands: Arg[][]): Promise<void> {
  const conn = await connectTo(port, db);
  try {
    await Promise.all(commands.map((c) => conn.call(...c)));
  } finally {
    conn.close();
  }
}

/** The captured stream through translator and applier, as the live reader will feed them. */
async function applyStream(commands: CapturedCommand[], translator: CommandTranslator, applier: LiveApplier, kinds = new Map<string, number>()): Promise<TranslationNote[]> {
  const notes: TranslationNote[] = [];
  for (const c of commands) {
    const t = translator.translate(c.argv, c.readAtMs);
    notes.push(...t.notes);
    for (const op of t.ops) kinds.set(op.kind, (kinds.get(op.kind) ?? 0) + 1);
    await applier.push(c.offset, t);
  }
  await applier.drain();
  return notes;
}

async function keysOf(conns: Array<{ call(...a: Arg[]): Promise<unknown> }>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const c of conns) out.push(...(replyArray((await c.call('KEYS', '*')) as never) as Buffer[]));
  return out;
}

const id = (key: Buffer) => key.toString('latin1');

/**
 * Every key of source db `srcDb` the filters copy has the same value on the target (db `tgtDb`) and
 * the same TTL within a few ms; left-out keys are absent. Returns how many keys were compared.
 */
async function compareDb(source: Endpoint, srcDb: number, target: Endpoint, tgtDb: number, filter: KeyFilter, skip: Set<string>): Promise<number> {
  const keys = await keysOf([source.dbConnection(srcDb)]);
  let compared = 0;
  for (const key of keys) {
    if (skip.has(id(key))) continue;
    if (!filter.matchesKey(key)) {
      expect(await target.call(tgtDb, key, 'EXISTS', key), `left-out ${id(key)} must not be on the target`).toBe(0);
      continue;
    }
    const [sv, tv] = await Promise.all([readValue(source, srcDb, key), readValue(target, tgtDb, key)]);
    expect(tv, `db ${srcDb} ${id(key)} missing on the target`).not.toBeNull();
    if (sv && tv && !valuesEqual(sv, tv)) expect.fail(`db ${srcDb} ${id(key)}: ${describeDifference(sv, tv)}`);
    const [sp, tp] = await Promise.all([source.call(srcDb, key, 'PTTL', key), target.call(tgtDb, key, 'PTTL', key)]).then((r) => r.map(replyNumber));
    if (sp < 0) expect(tp, `${id(key)} has no TTL on the source`).toBe(sp);
    else expect(Math.abs(sp - tp), `${id(key)} TTL ${sp} vs ${tp}`).toBeLessThanOrEqual(10);
    compared++;
  }
  return compared;
}

describe('live apply: a real master stream onto a standalone target', () => {
  let source: RedisServer;
  let filtered: RedisServer;
  let plain: RedisServer;
  let capture: ReplicationCapture;

  beforeAll(async () => {
    [source, filtered, plain] = await Promise.all([server(), server(), server()]);
    capture = await ReplicationCapture.start(source.port);
    closers.push(capture);
  });

  it('every type, expiries made absolute, MULTI/EXEC, EVAL and FCALL, expired keys, db mapping, filters, binary keys: target equals source', async () => {
    const now = Math.floor(Date.now() / 1000);
    const binKey = Buffer.concat([Buffer.from('bin:'), BINARY_KEY]);
    await run(source.port, 0, [
      ['SET', 'str:plain', 'hello'],
      ['SET', 'str:empty', ''],
      ['SET', binKey, BINARY_VALUE],
      ['SET', `uni:${UNICODE_KEY}`, 'значение ✓'],
      ['SET', 'ttl:ex', 'v', 'EX', 100],
      ['SET', 'ttl:px', 'v', 'PX', 100_000],
      ['SET', 'ttl:exat', 'v', 'EXAT', now + 200],
      ['SETEX', 'ttl:setex', 100, 'v'],
      ['PSETEX', 'ttl:psetex', 100_000, 'v'],
      ['SET', 'ttl:getex', 'v'],
      ['GETEX', 'ttl:getex', 'EX', 300],
      ['SET', 'ttl:persist', 'v', 'EX', 100],
      ['PERSIST', 'ttl:persist'],
      ['SET', 'ttl:keepttl', 'v', 'EX', 100],
      ['SET', 'ttl:keepttl', 'w', 'KEEPTTL'],
      ['SET', 'ttl:expire', 'v'],
      ['EXPIRE', 'ttl:expire', 400],
      ['PEXPIRE', 'ttl:expire', 450_000, 'GT'],
      ['SET', 'ttl:expireat', 'v'],
      ['EXPIREAT', 'ttl:expireat', now + 500],
      ['SET', 'gone:lazy', 'v', 'PX', 30],
      ['SET', 'gone:active', 'v', 'PX', 30],
      ['INCR', 'num:i'],
      ['INCRBY', 'num:i', 41],
      ['INCRBYFLOAT', 'num:f', '2.5'],
      ['APPEND', 'str:plain', ' world'],
      ['SETRANGE', 'str:range', 5, 'x'],
      ['SETBIT', 'bits:a', 7, 1],
      ['SETBIT', 'bits:b', 3, 1],
      ['BITOP', 'OR', 'bits:or', 'bits:a', 'bits:b'],
      ['BITFIELD', 'bits:f', 'SET', 'u8', 0, 200],
      ['RPUSH', 'list:a', 'a', 'b', 'c', ''],
      ['LPUSH', 'list:a', 'z'],
      ['LINSERT', 'list:a', 'BEFORE', 'b', 'ins'],
      ['LSET', 'list:a', 0, 'zz'],
      ['LREM', 'list:a', 1, 'c'],
      ['RPUSH', 'list:b', 'x'],
      ['LMOVE', 'list:a', 'list:b', 'LEFT', 'RIGHT'],
      ['RPOPLPUSH', 'list:a', 'list:b'],
      ['BLMOVE', 'list:b', 'list:a', 'RIGHT', 'LEFT', 0],
      ['BLPOP', 'list:b', 0],
      ['LMPOP', 1, 'list:a', 'RIGHT'],
      ['RPUSH', 'list:t', 1, 2, 3, 4, 5],
      ['LTRIM', 'list:t', 1, 3],
      ['HSET', 'hash:a', 'f1', 'v1', 'f2', '', 'n', 1],
      ['HINCRBY', 'hash:a', 'n', 5],
      ['HINCRBYFLOAT', 'hash:a', 'fl', '1.25'],
      ['HDEL', 'hash:a', 'f1'],
      ['HSETNX', 'hash:a', 'f3', 'v3'],
      ['SADD', 'set:a', 'a', 'b', 'c', 'd'],
      ['SADD', 'set:b', 'c', 'd', 'e'],
      ['SREM', 'set:a', 'a'],
      ['SPOP', 'set:a'],
      ['SMOVE', 'set:b', 'set:a', 'e'],
      ['SUNIONSTORE', 'set:u', 'set:a', 'set:b'],
      ['SINTERSTORE', 'set:i', 'set:a', 'set:b'],
      ['SDIFFSTORE', 'set:d', 'set:a', 'set:b'],
      ['ZADD', 'zset:a', 1, 'a', 2, 'b', 3, 'c', '-inf', 'low'],
      ['ZINCRBY', 'zset:a', 1.5, 'a'],
      ['ZADD', 'zset:b', 5, 'a', 6, 'x'],
      ['ZUNIONSTORE', 'zset:u', 2, 'zset:a', 'zset:b', 'WEIGHTS', 1, 2],
      ['ZINTERSTORE', 'zset:i', 2, 'zset:a', 'zset:b'],
      ['ZRANGESTORE', 'zset:r', 'zset:a', 0, 1],
      ['ZPOPMIN', 'zset:a'],
      ['BZPOPMAX', 'zset:b', 0],
      ['ZREMRANGEBYSCORE', 'zset:u', 6, 7],
      ['GEOADD', 'geo:a', 13.361389, 38.115556, 'Palermo', 15.087269, 37.502669, 'Catania'],
      ['GEOSEARCHSTORE', 'geo:s', 'geo:a', 'FROMLONLAT', 15, 37, 'BYRADIUS', 200, 'km', 'ASC'],
      ['PFADD', 'hll:a', 'a', 'b', 'c'],
      ['PFADD', 'hll:b', 'c', 'd'],
      ['PFMERGE', 'hll:m', 'hll:a', 'hll:b'],
      ['RPUSH', 'sort:src', 3, 1, 2],
      ['SORT', 'sort:src', 'STORE', 'sort:dst'],
      ['XADD', 'stream:a', '1-1', 'f', 'v'],
      ['XADD', 'stream:a', '1-2', 'g', 'w'],
      ['XADD', 'stream:a', 'MAXLEN', 10, '*', 'h', 'x'],
      ['XGROUP', 'CREATE', 'stream:a', 'grp', '0'],
      ['XREADGROUP', 'GROUP', 'grp', 'c1', 'COUNT', 2, 'STREAMS', 'stream:a', '>'],
      ['XACK', 'stream:a', 'grp', '1-1'],
      ['XCLAIM', 'stream:a', 'grp', 'c2', 0, '1-2'],
      ['XDEL', 'stream:a', '1-1'],
      ['XGROUP', 'CREATECONSUMER', 'stream:a', 'grp', 'idle'],
      ['SET', 'ren:src', 'v', 'EX', 100],
      ['RENAME', 'ren:src', 'ren:dst'],
      ['SET', 'ren:nx', 'v'],
      ['RENAMENX', 'ren:nx', 'ren:nxdst'],
      ['SET', 'copy:src', 'v'],
      ['COPY', 'copy:src', 'copy:dst'],
      ['COPY', 'copy:src', 'copy:db1', 'DB', 1],
      ['SET', 'mv:key', 'v'],
      ['MOVE', 'mv:key', 4],
      ['MSET', 'ms:a', '1', 'ms:b', '2', 'skip:ms', '3'],
      ['MSETNX', 'msnx:a', 1, 'msnx:b', 2],
      ['SET', 'del:a', 1],
      ['SET', 'del:b', 1],
      ['DEL', 'del:a', 'del:b', 'del:none', 'skip:1'],
      ['SET', 'unl:a', 1],
      ['UNLINK', 'unl:a'],
      ['SET', 'skip:1', 'x'],
      ['SADD', 'skip:set', 'm'],
      ['SET', 'skip:r', 'v'],
      ['RENAME', 'skip:r', 'keep:from-skip'],
      ['SET', 'keep:r', 'v'],
      ['RENAME', 'keep:r', 'skip:from-keep'],
      ['PUBLISH', 'chan', 'hi'],
      ['MULTI'],
      ['SET', 'tx:a', 1],
      ['INCR', 'tx:b'],
      ['RPUSH', 'tx:l', 'x'],
      ['EXPIRE', 'tx:a', 600],
      ['EXEC'],
      ['EVAL', "redis.call('set', KEYS[1], ARGV[1]); redis.call('rpush', KEYS[2], ARGV[1]); redis.call('pexpire', KEYS[1], 900000); return 1", 2, 'ev:a', 'ev:b', 'val'],
      ['FUNCTION', 'LOAD', "#!lua name=ferrylive\nredis.register_function('ferry_set', function(keys, args) redis.call('set', keys[1], args[1]); return redis.call('incr', keys[2]) end)"],
      ['FCALL', 'ferry_set', 2, 'fn:a', 'fn:b', 'v'],
    ]);
    // DUMP/RESTORE with a relative TTL (Redis 7 propagates it with ABSTTL).
    const conn = await connectTo(source.port);
    closers.push(conn);
    const payload = (await conn.call('DUMP', 'hash:a')) as Buffer;
    await conn.call('RESTORE', 'rest:rel', 700_000, payload);
    await conn.call('RESTORE', 'rest:abs', Date.now() + 800_000, payload, 'ABSTTL');
    // db 1 goes to target db 3, where source db 3 goes too: its FLUSHDB must not be forwarded.
    await run(source.port, 1, [['SET', 'old:1', 'v'], ['FLUSHDB'], ['SET', 'new:1', 'v', 'EX', 100], ['HSET', 'h1', 'f', 'v']]);
    await run(source.port, 3, [['SET', 'db3:k', 'v']]);
    // db 2 is the only one going to target db 2: its FLUSHDB is forwarded.
    await run(source.port, 2, [['SET', 'x:1', 'v'], ['FLUSHDB'], ['SET', 'x:2', 'v']]);
    // Expired keys: one found by a read (lazy), one by the server's cycle; both propagate as DEL.
    await new Promise((r) => setTimeout(r, 100));
    expect(await conn.call('GET', 'gone:lazy')).toBeNull();
    for (let i = 0; i < 100 && /expired_keys:(\d+)/.exec(String(await conn.call('INFO', 'stats')))?.[1] !== '2'; i++) await new Promise((r) => setTimeout(r, 50));
    await capture.caughtUp();
    const commands = capture.commands.slice();
    // Apply a while after reading: absolute expiries keep the TTLs from drifting with the lag.
    await new Promise((r) => setTimeout(r, 1000));

    const src = await endpoint('source', source.url);
    await src.useDbs([1, 2, 3, 4]);
    const apply = async (url: string, options: Record<string, unknown>) => {
      const job = JobSchema.parse({ name: 'live', sources: [{ name: 'src', url: source.url }], target: { url }, options });
      const filter = new KeyFilter(job.options);
      const tgt = await endpoint('target', url);
      await tgt.useDbs([2, 3, 4]);
      const translator = new CommandTranslator(translatorOptionsFor(job, filter, { address: tgt.address, facts: tgt.facts }));
      const applier = new LiveApplier({ target: tgt });
      const started = Date.now();
      const notes = await applyStream(commands, translator, applier);
      const ms = Date.now() - started;
      expect(applier.fatal).toBeNull();
      expect(applier.stats.errors, JSON.stringify(applier.recentErrors)).toBe(0);
      expect(applier.appliedOffset).toBe(commands.at(-1)!.offset);
      return { filter, tgt, translator, applier, notes, ms };
    };
    expect(commands.some((c) => c.argv[0].toString().toUpperCase() === 'DEL' && c.argv[1].toString() === 'gone:active')).toBe(true);

    // Target A: the job leaves skip:* out and maps source db 1 to target db 3.
    const a = await apply(filtered.url, { dbs: { '1': 3 }, exclude: ['skip:*'] });
    expect(a.translator.stats.dropped.pubsub).toBe(1);
    expect(a.translator.stats.dropped.filtered).toBeGreaterThanOrEqual(4);
    // The notes: RENAMEs across the filter boundary; no FLUSHDB is forwarded, since the filters copy only some keys.
    const resync = a.notes.flatMap((n) => n.resync ?? []).map((r) => `${r.db}:${id(r.key)}`);
    expect(resync).toEqual(['0:keep:from-skip']);
    expect(a.notes.find((n) => n.command === 'RENAME' && n.level === 'info')?.message).toContain('"keep:r" is deleted on the target');
    const refusedA = a.notes.filter((n) => n.kind === 'refused' && n.command === 'FLUSHDB');
    expect(refusedA.map((n) => n.db)).toEqual([1, 2]);
    expect(refusedA[0].message).toContain('filters copy only some keys');
    expect(a.notes.some((n) => n.command === 'FUNCTION')).toBe(true);
    // Every key equal, TTLs within a few ms; db 1 -> 3, db 2 -> 2, db 4 -> 4; left-out keys absent.
    const comparedA = await compareDb(src, 0, a.tgt, 0, a.filter, new Set(['keep:from-skip']));
    expect(comparedA).toBe(60);
    expect(await compareDb(src, 1, a.tgt, 3, a.filter, new Set())).toBe(2);
    expect(await compareDb(src, 3, a.tgt, 3, a.filter, new Set())).toBe(1);
    expect(await compareDb(src, 2, a.tgt, 2, a.filter, new Set())).toBe(1);
    expect(await compareDb(src, 4, a.tgt, 4, a.filter, new Set())).toBe(1);
    // Nothing the source lacks, except what the refused FLUSHDBs left behind (old:1, copy:db1, x:1), as their notes say.
    expect((await keysOf([a.tgt.dbConnection(0)])).length).toBe(comparedA);
    expect((await keysOf([a.tgt.dbConnection(3)])).map(id).sort()).toEqual(['copy:db1', 'db3:k', 'h1', 'new:1', 'old:1']);
    expect((await keysOf([a.tgt.dbConnection(2)])).map(id).sort()).toEqual(['x:1', 'x:2']);
    expect(await a.tgt.call(0, Buffer.from('keep:from-skip'), 'EXISTS', 'keep:from-skip')).toBe(0);

    // Target B: no filters. Source db 2 is the only writer of target db 2: its FLUSHDB is forwarded;
    // source db 1 shares target db 3 with source db 3: its FLUSHDB is not.
    const b = await apply(plain.url, { dbs: { '1': 3 } });
    expect(b.notes.filter((n) => n.resync)).toEqual([]);
    expect(b.notes.find((n) => n.kind === 'refused' && n.command === 'FLUSHDB')?.message).toContain('source db 3 also goes to target db 3');
    expect(b.notes.find((n) => n.kind === 'reported' && n.command === 'FLUSHDB')?.message).toContain('FLUSHDB of target db 2');
    const comparedB = await compareDb(src, 0, b.tgt, 0, b.filter, new Set());
    // The keys A leaves out (skip:ms, skip:1, skip:set, skip:from-keep) and the one it asks to copy again (keep:from-skip).
    expect(comparedB).toBe(comparedA + 5);
    expect((await keysOf([b.tgt.dbConnection(0)])).length).toBe(comparedB);
    expect((await keysOf([b.tgt.dbConnection(2)])).map(id)).toEqual(['x:2']);
    expect((await keysOf([b.tgt.dbConnection(3)])).map(id).sort()).toEqual(['copy:db1', 'db3:k', 'h1', 'new:1', 'old:1']);
    const applyMs = a.ms;
    const applier = a.applier;
    const compared = comparedA;
    console.log(`live apply: ${commands.length} commands, ${applier.stats.commands} target commands in ${applyMs} ms; ${compared} keys in db 0 equal`);
  });
});

describe('live apply: multi-key commands onto a 3-master cluster target', () => {
  let source: RedisServer;
  let cluster: RedisCluster;
  let capture: ReplicationCapture;

  beforeAll(async () => {
    [source, cluster] = await Promise.all([server(), startCluster(3)]);
    servers.push(cluster);
    capture = await ReplicationCapture.start(source.port);
    closers.push(capture);
  });

  it('MSET, DEL, RENAME, SUNIONSTORE, LMOVE, SMOVE, COPY, PFMERGE, BITOP, MULTI/EXEC and scripts across slots: values equal, notes say how', async () => {
    // Keys in different slots (checked, not assumed).
    const apart = (a: string, b: string) => expect(keySlot(Buffer.from(a))).not.toBe(keySlot(Buffer.from(b)));
    apart('r1', 'r2');
    apart('s1', 'su');
    apart('l1', 'l2');
    await run(source.port, 0, [
      ['MSET', 'a', 1, 'b', 2, 'c', 3, '{t}1', 4, '{t}2', 5],
      ['SADD', 's1', 'a', 'b'],
      ['SADD', 's2', 'b', 'c'],
      ['SADD', 's3', 'x'],
      ['SUNIONSTORE', 'su', 's1', 's2', 's3'],
      ['SINTERSTORE', 'si', 's1', 's2'],
      ['SDIFFSTORE', 's1', 's1', 's3'],
      ['ZADD', 'z1', 1, 'a'],
      ['ZADD', 'z2', 2, 'b'],
      ['ZUNIONSTORE', 'zu', 2, 'z1', 'z2', 'WEIGHTS', 2, 3],
      ['SET', 'r1', 'v', 'EX', 500],
      ['RENAME', 'r1', 'r2'],
      ['RPUSH', 'l1', 'a', 'b', 'c'],
      ['LMOVE', 'l1', 'l2', 'LEFT', 'RIGHT'],
      ['RPOPLPUSH', 'l1', 'l2'],
      ['SMOVE', 's2', 's4', 'c'],
      ['SET', 'cp1', 'v', 'PX', 600_000],
      ['COPY', 'cp1', 'cp2'],
      ['PFADD', 'h1', 'a'],
      ['PFADD', 'h2', 'b'],
      ['PFMERGE', 'h3', 'h1', 'h2'],
      ['SETBIT', 'b1', 1, 1],
      ['SETBIT', 'b2', 2, 1],
      ['BITOP', 'OR', 'b3', 'b1', 'b2'],
      ['DEL', 'a', 'b', '{t}1'],
      ['MULTI'],
      ['SET', 'm1', 1],
      ['SET', 'm2', 2],
      ['INCR', '{t}2'],
      ['EXEC'],
      ['MULTI'],
      ['SET', '{m}1', 1],
      ['INCR', '{m}2'],
      ['SET', 'm3', 1],
      ['EXEC'],
      ['EVAL', "for i, k in ipairs(KEYS) do redis.call('set', k, ARGV[1]) end return 1", 4, 'e1', 'e2', 'e3', 'e4', 'x'],
    ]);
    await capture.caughtUp();
    const job = JobSchema.parse({ name: 'live', sources: [{ name: 'src', url: source.url }], target: { url: cluster.url, cluster: true } });
    const filter = new KeyFilter(job.options);
    const [src, tgt] = await Promise.all([endpoint('source', source.url), endpoint('target', cluster.url)]);
    const translator = new CommandTranslator(translatorOptionsFor(job, filter, { address: tgt.address, facts: tgt.facts }));
    const applier = new LiveApplier({ target: tgt, maxInFlight: 64 });
    const kinds = new Map<string, number>();
    const notes = await applyStream(capture.commands.slice(), translator, applier, kinds);
    // Copies (RENAME, COPY, temp keys), a pop/push pair and a MULTI/EXEC on one node really went out.
    expect(kinds.get('copy')).toBeGreaterThanOrEqual(5);
    expect(kinds.get('popPush')).toBe(2);
    expect(kinds.get('transaction')).toBe(1);

    expect(applier.stats.errors, JSON.stringify(applier.recentErrors)).toBe(0);
    expect(applier.stats.missing).toBe(0);
    expect(applier.appliedOffset).toBe(capture.offset);
    const compared = await compareDb(src, 0, tgt, 0, filter, new Set());
    const nodeConns = await Promise.all(cluster.nodes.map((n) => connectTo(n.port)));
    closers.push(...nodeConns);
    const targetKeys = (await keysOf(nodeConns)).map(id);
    // Nothing extra: no temp keys left behind.
    expect(targetKeys.length).toBe(compared);
    expect(targetKeys.filter((k) => k.includes('ferry-live-tmp'))).toEqual([]);

    const split = new Set(notes.filter((n) => n.kind === 'split').map((n) => n.command));
    for (const name of ['MSET', 'SUNIONSTORE', 'RENAME', 'LMOVE', 'SMOVE', 'EXEC']) expect(split, name).toContain(name);
    expect(notes.find((n) => n.command === 'SUNIONSTORE')?.message).toContain('temp keys');
    expect(notes.find((n) => n.command === 'EXEC')?.level).toBe('warning');
    expect(notes.filter((n) => n.kind === 'refused')).toEqual([]);
  });

  it('commands not about a key (SCRIPT LOAD, FLUSHALL of the only source) reach every master', async () => {
    const startAt = capture.commands.length;
    const sha = await source.cli('SCRIPT', 'LOAD', 'return 42');
    await source.cli('FLUSHALL');
    await capture.caughtUp();
    const job = JobSchema.parse({ name: 'live', sources: [{ name: 'src', url: source.url }], target: { url: cluster.url } });
    const tgt = await endpoint('target', cluster.url);
    const translator = new CommandTranslator(translatorOptionsFor(job, new KeyFilter(job.options), { address: tgt.address, facts: tgt.facts }));
    const applier = new LiveApplier({ target: tgt });
    // Redis 7 does not propagate SCRIPT LOAD (Redis ≤ 4 did): feed it as an old master would.
    const stream = [{ argv: ['SCRIPT', 'LOAD', 'return 42'].map((a) => Buffer.from(a)), offset: capture.commands[startAt - 1].offset, readAtMs: Date.now() }, ...capture.commands.slice(startAt)];
    const notes = await applyStream(stream, translator, applier);
    expect(notes.find((n) => n.command === 'FLUSHALL')?.message).toContain('FLUSHDB of target db 0');
    for (const node of cluster.nodes) {
      expect(await node.cli('DBSIZE')).toBe('0');
      expect(await node.cli('SCRIPT', 'EXISTS', sha)).toBe('1');
    }
  });
});

describe('live applier: errors, offsets, back-pressure', () => {
  let target: RedisServer;
  let offset = 0;
  const cmd = (...argv: Arg[]) => argv.map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(String(a))));

  beforeAll(async () => {
    target = await server();
  });

  /** Translates and pushes synthetic stream commands; each advances the offset by 10. */
  async function push(translator: CommandTranslator, applier: LiveApplier, ...commands: Arg[][]): Promise<number> {
    for (const c of commands) await applier.push((offset += 10), translator.translate(cmd(...c), Date.now()));
    return offset;
  }

  function translatorFor(tgt: Endpoint): CommandTranslator {
    const job = JobSchema.parse({ name: 'live', sources: [{ name: 'src', url: 'redis://127.0.0.1:1' }], target: { url: target.url } });
    return new CommandTranslator(translatorOptionsFor(job, new KeyFilter(job.options), { address: tgt.address, facts: tgt.facts }));
  }

  it('a WRONGTYPE is recorded (command, key, code; no value) and the stream goes on; XADD of a held ID counts as applied', async () => {
    const tgt = await endpoint('target', target.url);
    await target.cli('SET', 'clash', 'a string');
    const failures: unknown[] = [];
    const applier = new LiveApplier({ target: tgt, onCommandError: (f) => failures.push(f) });
    const t = translatorFor(tgt);
    const end = await push(t, applier, ['SADD', 'clash', 'secret-member'], ['SET', 'after', '1'], ['XADD', 'st', '5-1', 'f', 'v'], ['XADD', 'st', '5-1', 'f', 'v'], ['XADD', 'st', '4-1', 'f', 'v']);
    await applier.drain();
    expect(applier.appliedOffset).toBe(end);
    expect(applier.stats.errors).toBe(1);
    expect(applier.stats.alreadyApplied).toBe(2);
    expect(failures).toEqual([{ command: 'SADD', db: 0, key: 'clash', code: 'WRONGTYPE', message: expect.stringContaining('WRONGTYPE') }]);
    expect(JSON.stringify(failures)).not.toContain('secret-member');
    expect(applier.stats.errorsByCommand).toEqual({ 'SADD WRONGTYPE': 1 });
    expect(await target.cli('GET', 'after')).toBe('1');
  });

  it('inside MULTI the offset waits for EXEC; resetTo starts a new stream', async () => {
    const tgt = await endpoint('target', target.url);
    const applier = new LiveApplier({ target: tgt, startOffset: offset });
    const t = translatorFor(tgt);
    const before = await push(t, applier, ['SET', 'o1', '1']);
    await push(t, applier, ['MULTI'], ['SET', 'o2', '2'], ['INCR', 'o3']);
    await applier.drain();
    expect(applier.appliedOffset).toBe(before);
    expect(await target.cli('EXISTS', 'o2')).toBe('0');
    const exec = await push(t, applier, ['EXEC']);
    await applier.drain();
    expect(applier.appliedOffset).toBe(exec);
    expect(await target.cli('MGET', 'o2', 'o3')).toBe('2\n1');
    applier.resetTo(5);
    expect(applier.appliedOffset).toBe(5);
    await applier.push(15, t.translate(cmd('SET', 'o4', '4'), Date.now()));
    await applier.drain();
    expect(applier.appliedOffset).toBe(15);
  });

  it('keeps at most maxInFlight operations unsettled, in order per key', async () => {
    const tgt = await endpoint('target', target.url);
    const applier = new LiveApplier({ target: tgt, maxInFlight: 4 });
    const t = translatorFor(tgt);
    let peak = 0;
    for (let i = 0; i < 300; i++) {
      await applier.push((offset += 10), t.translate(cmd('RPUSH', 'bp:list', i), Date.now()));
      await applier.push((offset += 10), t.translate(cmd('SET', `bp:${i % 7}`, i), Date.now()));
      peak = Math.max(peak, applier.inFlight);
    }
    await applier.drain();
    expect(peak).toBeLessThan(4);
    expect(await target.cli('LRANGE', 'bp:list', '0', '-1')).toBe(Array.from({ length: 300 }, (_, i) => i).join('\n'));
    expect(await target.cli('GET', 'bp:6')).toBe('293');
  });

  it('OOM stops the stream with a typed error; the offset stays before the refused command', async () => {
    const tgt = await endpoint('target', target.url);
    const applier = new LiveApplier({ target: tgt, startOffset: offset });
    const t = translatorFor(tgt);
    const good = await push(t, applier, ['SET', 'oom:1', 'v']);
    await applier.drain();
    await target.cli('CONFIG', 'SET', 'maxmemory', '1');
    try {
      await push(t, applier, ['SET', 'oom:2', 'v'], ['SET', 'oom:3', 'v']).catch(() => undefined);
      const err = await applier.drain().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'LiveApplyError', code: 'OOM' });
      expect((err as Error).message).toContain('maxmemory');
      expect(applier.appliedOffset).toBe(good);
      await expect(applier.push((offset += 10), t.translate(cmd('SET', 'oom:4', 'v'), Date.now()))).rejects.toMatchObject({ code: 'OOM' });
    } finally {
      await target.cli('CONFIG', 'SET', 'maxmemory', '0');
    }
  });

  it('a lost target connection stops the stream with CONNECTION_LOST', async () => {
    const tgt = await endpoint('target', target.url);
    const applier = new LiveApplier({ target: tgt, startOffset: offset });
    const t = translatorFor(tgt);
    const good = await push(t, applier, ['SET', 'lost:1', 'v']);
    await applier.drain();
    await target.cli('CLIENT', 'KILL', 'TYPE', 'normal');
    await push(t, applier, ['SET', 'lost:2', 'v']).catch(() => undefined);
    await expect(applier.drain()).rejects.toMatchObject({ name: 'LiveApplyError', code: 'CONNECTION_LOST' });
    expect(applier.appliedOffset).toBe(good);
  });
});
