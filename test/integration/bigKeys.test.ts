import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBig, measureKey } from '../../main/engine/bigkeys/bigKeyProbe.js';
import { compareBigKey } from '../../main/engine/bigkeys/chunkedCompare.js';
import { copyBigKey, TRASH_TAG, type CopyBigKeyOptions } from '../../main/engine/bigkeys/chunkedCopy.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { keySlot, sameSlotName } from '../../main/engine/keys/hashSlot.js';
import type { KeyType } from '../../main/engine/keys/keyTypes.js';
import type { Arg } from '../../main/engine/resp/commandEncoder.js';
import { RedisConnection } from '../../main/engine/resp/connection.js';
import { replyArray, replyNumber, replyText, type Reply } from '../../main/engine/resp/reply.js';
import { describeDifference, valuesEqual, type LogicalValue } from '../../main/engine/values/logicalValue.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { TEMP_TAG } from '../../main/engine/values/writeValue.js';
import { startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';

const b = (s: string) => Buffer.from(s);
const MB = 1 << 20;
const N = 200_000;
const STREAM_ENTRIES = 100_000;
const STRING_BYTES = 64 * MB;
const STALL_ZSET = 1_000_000;

let serverA: RedisServer;
let serverB: RedisServer;
let cluster: RedisCluster;
let A: Endpoint;
let B: Endpoint;
let C: Endpoint;

const LENGTH: Record<KeyType, string> = { string: 'STRLEN', list: 'LLEN', set: 'SCARD', zset: 'ZCARD', hash: 'HLEN', stream: 'XLEN' };
const KEYS: Record<KeyType, Buffer> = {
  string: b('big:string'),
  list: b('big:list'),
  set: b('big:set'),
  zset: b('big:zset'),
  hash: b('big:hash'),
  stream: b('big:stream'),
};
const TYPES = Object.keys(KEYS) as KeyType[];

function on(ep: Endpoint, key: Buffer, ...args: Arg[]): Promise<Reply> {
  return ep.call(0, key, ...args);
}

/** Sends `prefix` + items in commands of `per` items, pipelined in bounded batches. */
async function fill(ep: Endpoint, key: Buffer, prefix: Arg[], count: number, itemArgs: (i: number) => Arg[], per = 1000): Promise<void> {
  let sends: Array<Promise<Reply>> = [];
  for (let i = 0; i < count; i += per) {
    const args: Arg[] = [...prefix];
    for (let j = i; j < Math.min(count, i + per); j++) args.push(...itemArgs(j));
    sends.push(on(ep, key, ...args));
    if (sends.length >= 50) {
      await Promise.all(sends);
      sends = [];
    }
  }
  await Promise.all(sends);
}

/** A 64 MB string whose bytes all differ from their neighbours' pattern (so an offset error shows). */
function stringChunk(at: number, n: number): Buffer {
  const chunk = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) chunk[i] = ((at + i) * 131 + ((at + i) >> 12)) & 0xff;
  return chunk;
}

async function makeData(ep: Endpoint): Promise<void> {
  const s = KEYS.string;
  await on(ep, s, 'SET', s, stringChunk(0, 4 * MB));
  for (let at = 4 * MB; at < STRING_BYTES; at += 4 * MB) await on(ep, s, 'APPEND', s, stringChunk(at, 4 * MB));
  await Promise.all([
    fill(ep, KEYS.list, ['RPUSH', KEYS.list], N, (i) => [`item-${i}-${'x'.repeat(i % 40)}`]),
    fill(ep, KEYS.set, ['SADD', KEYS.set], N, (i) => [i % 7 === 0 ? Buffer.from([i & 0xff, 0, 0xff, i >> 8]) : `member-${i}`]),
    fill(ep, KEYS.hash, ['HSET', KEYS.hash], N, (i) => [`field-${i}`, `value-${i * 7}-${'v'.repeat(i % 30)}`]),
    // Scores that need all 17 digits, negative ones, ties (ordered by member), inf.
    fill(ep, KEYS.zset, ['ZADD', KEYS.zset], N, (i) => [i === 5 ? 'inf' : i === 6 ? '-inf' : String(((i * 7919) % 100_003) / 3 - 1000.1), `m${i}`]),
  ]);
  await makeStream(ep, KEYS.stream);
}

/** 100,000 entries; deleted and trimmed ones (some pending); 2 groups; consumers; delivery counts. */
async function makeStream(ep: Endpoint, s: Buffer): Promise<void> {
  let sends: Array<Promise<Reply>> = [];
  for (let i = 1; i <= STREAM_ENTRIES; i++) {
    sends.push(on(ep, s, 'XADD', s, `${1_000 + i}-${i % 3}`, 'n', String(i), 'payload', `p${i % 97}`));
    if (sends.length >= 10_000) {
      await Promise.all(sends);
      sends = [];
    }
  }
  await Promise.all(sends);
  await on(ep, s, 'XGROUP', 'CREATE', s, 'g1', '0');
  await on(ep, s, 'XGROUP', 'CREATE', s, 'g2', '51000-0');
  await on(ep, s, 'XREADGROUP', 'GROUP', 'g1', 'alice', 'COUNT', 3000, 'STREAMS', s, '>');
  await on(ep, s, 'XREADGROUP', 'GROUP', 'g1', 'bob', 'COUNT', 2000, 'STREAMS', s, '>');
  await on(ep, s, 'XREADGROUP', 'GROUP', 'g2', 'carol', 'COUNT', 1500, 'STREAMS', s, '>');
  await on(ep, s, 'XGROUP', 'CREATECONSUMER', s, 'g2', 'idle-dave');
  await on(ep, s, 'XCLAIM', s, 'g1', 'bob', 0, '1010-1', '1011-2', 'RETRYCOUNT', 5, 'JUSTID');
  await on(ep, s, 'XCLAIM', s, 'g2', 'carol', 0, '52000-2', 'RETRYCOUNT', 3, 'JUSTID');
  await on(ep, s, 'XACK', s, 'g1', '1020-2', '1021-0');
  // Deleted: pending ones in the middle, not pending ones, and the last entry; the first 50 trimmed off (pending in g1).
  const deleted: string[] = [];
  for (let i = 100; i <= STREAM_ENTRIES; i += 997) deleted.push(`${1_000 + i}-${i % 3}`);
  deleted.push(`${1_000 + STREAM_ENTRIES}-${STREAM_ENTRIES % 3}`);
  await on(ep, s, 'XDEL', s, ...deleted);
  await on(ep, s, 'XTRIM', s, 'MINID', '1051-0');
}

/** Keys on `ep` (every cluster master) whose names carry `tag`. */
async function keysTagged(ep: Endpoint, tag: string): Promise<Buffer[]> {
  const conns = ep.isCluster ? await Promise.all(ep.masters.map((m) => ep.nodeConnection(m.host, m.port))) : [ep.dbConnection(0)];
  const found: Buffer[] = [];
  for (const conn of conns) {
    let cursor = '0';
    do {
      const [next, keys] = replyArray(await conn.call('SCAN', cursor, 'MATCH', `*${tag}*`, 'COUNT', 1000));
      cursor = replyText(next);
      found.push(...(replyArray(keys) as Buffer[]));
    } while (cursor !== '0');
  }
  return found;
}

async function leftovers(ep: Endpoint): Promise<Buffer[]> {
  return [...(await keysTagged(ep, TEMP_TAG)), ...(await keysTagged(ep, TRASH_TAG))];
}

function expectEqual(a: LogicalValue | null, c: LogicalValue | null): void {
  expect(a).not.toBeNull();
  expect(c).not.toBeNull();
  const same = valuesEqual(a!, c!);
  expect(same, same ? '' : describeDifference(a!, c!)).toBe(true);
}

function copy(key: Buffer, type: KeyType, over: Partial<CopyBigKeyOptions> = {}): Promise<string> {
  return copyBigKey({ source: A, sourceDb: 0, target: B, targetDb: 0, key, type, expireAt: 0, onConflict: 'replace', ...over });
}

/**
 * Polls `EXISTS key` + its length on the target every ms (both in one pipeline, so one event of
 * the server answers them) and records every distinct state seen.
 */
async function startPoller(port: number, key: Buffer, type: KeyType) {
  const conn = await RedisConnection.connect({ host: '127.0.0.1', port, label: 'poller' });
  const seen = new Map<string, number>();
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const [exists, length] = await Promise.all([conn.call('EXISTS', key), conn.call(LENGTH[type], key)]);
      const state = `${replyNumber(exists)}:${replyNumber(length)}`;
      seen.set(state, (seen.get(state) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return {
    stop: async () => {
      // A few more polls after the copy: the key must be seen complete.
      await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await loop;
      conn.close();
      return seen;
    },
  };
}

/** A PING probe on its own thread (own event loop), every ~1 ms: the max round trip another client saw. */
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const sock = net.connect({ host: '127.0.0.1', port: workerData.port });
sock.setNoDelay(true);
let sentAt = 0, stop = false; const rtts = [];
sock.on('data', () => {
  rtts.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
  if (stop) { sock.destroy(); parentPort.postMessage(rtts); } else setTimeout(ping, 1);
});
function ping() { sentAt = process.hrtime.bigint(); sock.write('PING\\r\\n'); }
sock.on('connect', ping);
parentPort.on('message', () => { stop = true; });
`;

async function withProbe<T>(server: RedisServer, ep: Endpoint, work: () => Promise<T>): Promise<{ result: T; maxMs: number; p99Ms: number; pings: number; serverMaxMs: number; ms: number }> {
  await ep.command('LATENCY', 'RESET');
  const worker = new Worker(PROBE, { eval: true, workerData: { port: server.port } });
  await new Promise((r) => setTimeout(r, 50));
  const start = Date.now();
  const result = await work();
  const ms = Date.now() - start;
  const rtts: number[] = await new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage('stop');
  });
  await worker.terminate();
  rtts.sort((x, y) => x - y);
  // LATENCY LATEST: [event, time, latest ms, max ms] per event; the worst is what the server was blocked by.
  const latest = replyArray(await ep.command('LATENCY', 'LATEST')).map(replyArray);
  const serverMaxMs = Math.max(0, ...latest.map((event) => replyNumber(event[3])));
  return { result, maxMs: rtts[rtts.length - 1] ?? 0, p99Ms: rtts[Math.floor(rtts.length * 0.99)] ?? 0, pings: rtts.length, serverMaxMs, ms };
}

beforeAll(async () => {
  [serverA, serverB, cluster] = await Promise.all([
    startRedis({ args: ['--latency-monitor-threshold', '1'] }),
    startRedis({ args: ['--latency-monitor-threshold', '1'] }),
    startCluster(3),
  ]);
  [A, B, C] = await Promise.all([
    Endpoint.open({ role: 'source', name: 'a', url: serverA.url }),
    Endpoint.open({ role: 'target', name: 'b', url: serverB.url }),
    Endpoint.open({ role: 'target', name: 'c', url: cluster.url }),
  ]);
  await Promise.all([A.useDbs([0]), B.useDbs([0]), C.useDbs([0])]);
  await makeData(A);
}, 120_000);

afterAll(async () => {
  for (const e of [A, B, C]) e?.close();
  await Promise.all([serverA?.stop(), serverB?.stop(), cluster?.stop()]);
});

describe('measureKey', () => {
  it('measures type, bytes and elements with cheap commands; null for a missing key', async () => {
    const s = await measureKey(A, 0, KEYS.string);
    expect(s).toMatchObject({ type: 'string', elements: STRING_BYTES });
    expect(s!.bytes).toBeGreaterThanOrEqual(STRING_BYTES);
    const z = await measureKey(A, 0, KEYS.zset);
    expect(z).toMatchObject({ type: 'zset', elements: N });
    expect(z!.bytes).toBeGreaterThan(N * 10);
    expect((await measureKey(A, 0, KEYS.stream))!.elements).toBe(await on(A, KEYS.stream, 'XLEN', KEYS.stream));
    expect(await measureKey(A, 0, b('no:such:key'))).toBeNull();
    const bigKey = { bytes: 8 * MB, elements: 10_000 };
    expect(isBig(s!, bigKey)).toBe(true);
    expect(isBig(z!, bigKey)).toBe(true);
    // A 20 KB string is not big by its "elements" (bytes).
    expect(isBig({ type: 'string', bytes: 20_000, elements: 20_000 }, bigKey)).toBe(false);
    expect(isBig({ type: 'hash', bytes: 1000, elements: 10_000 }, bigKey)).toBe(true);
  });
});

describe('copyBigKey', () => {
  it('copies every type in windows; the target never shows a partial key; compareBigKey and valuesEqual agree', async () => {
    const times: string[] = [];
    for (const type of TYPES) {
      const key = KEYS[type];
      const full = replyNumber(await on(A, key, LENGTH[type], key));
      const expireAt = type === 'hash' || type === 'string' ? Date.now() + B.clockOffsetMs + 3_600_000 : 0;
      const poller = await startPoller(serverB.port, key, type);
      const progress: Array<[number, number]> = [];
      const started = Date.now();
      const outcome = await copy(key, type, { expireAt, onConflict: 'fail', onProgress: (done, total) => progress.push([done, total]) });
      times.push(`${type} ${Date.now() - started} ms (${progress.length} windows)`);
      const seen = await poller.stop();
      expect(outcome).toBe('written');
      // Only "absent" and "complete" were ever seen, and both were seen.
      expect([...seen.keys()].sort(), type).toEqual(['0:0', `1:${full}`]);
      expect(progress.length, type).toBeGreaterThan(5);
      expect(progress[progress.length - 1][0], type).toBeGreaterThanOrEqual(full);

      expect(await compareBigKey(A, 0, B, 0, key, type), type).toEqual({ equal: true, detail: 'the values are equal' });
      expectEqual(...(await Promise.all([readValue(A, 0, key), readValue(B, 0, key)])));
      if (expireAt) expect(Math.abs(Number(await on(B, key, 'PEXPIRETIME', key)) - expireAt)).toBeLessThan(1000);
      else expect(await on(B, key, 'PTTL', key)).toBe(-1);
    }
    console.log(`copyBigKey times: ${times.join(', ')}`);
    expect(await leftovers(B)).toEqual([]);
    // Never a DUMP on the source, never a RESTORE on the target.
    expect(await serverA.cli('INFO', 'commandstats')).not.toMatch(/cmdstat_dump:/);
    expect(await serverB.cli('INFO', 'commandstats')).not.toMatch(/cmdstat_restore:/);
  });

  it('replaces an existing big value atomically, leaving no trash or temp key; absent-only leaves it', async () => {
    const key = KEYS.zset;
    await on(B, key, 'DEL', key);
    await fill(B, key, ['ZADD', key], 150_000, (i) => [i, `old${i}`]);
    expect(await copy(key, 'zset', { onConflict: 'skip' })).toBe('exists');
    expect(await copy(key, 'zset', { onConflict: 'fail' })).toBe('exists');
    expect(await on(B, key, 'ZSCORE', key, 'old7')).toEqual(b('7'));
    expect(await leftovers(B)).toEqual([]);

    const poller = await startPoller(serverB.port, key, 'zset');
    expect(await copy(key, 'zset', { onConflict: 'replace' })).toBe('written');
    const seen = await poller.stop();
    // Old value or new value, never none.
    expect([...seen.keys()].every((s) => s === '1:150000' || s === `1:${N}`), [...seen.keys()].join()).toBe(true);
    expect((await compareBigKey(A, 0, B, 0, key, 'zset')).equal).toBe(true);
    expect(await leftovers(B)).toEqual([]);

    // A big string over a big string.
    const s = KEYS.string;
    await on(B, s, 'SET', s, Buffer.alloc(8 * MB, 0x61));
    expect(await copy(s, 'string')).toBe('written');
    expect((await compareBigKey(A, 0, B, 0, s, 'string')).equal).toBe(true);
    expect(await leftovers(B)).toEqual([]);
  });

  it('replaces a temp key left by a killed copy', async () => {
    for (const type of ['list', 'zset', 'string'] as const) {
      const key = KEYS[type];
      await on(B, key, 'DEL', key);
      const temp = sameSlotName(key, TEMP_TAG);
      // Same type with stray elements, and another type: both would corrupt or break the build.
      if (type === 'list') await on(B, temp, 'RPUSH', temp, 'junk1', 'junk2');
      else if (type === 'zset') await on(B, temp, 'ZADD', temp, 1, 'junk', 2, 'm1');
      else await on(B, temp, 'SADD', temp, 'junk');
      expect(await copy(key, type)).toBe('written');
      expect((await compareBigKey(A, 0, B, 0, key, type)).equal, type).toBe(true);
      expect(await on(B, temp, 'EXISTS', temp)).toBe(0);
    }
    expect(await leftovers(B)).toEqual([]);
  });

  it('builds a string with SETRANGE windows when asked (the fallback), and into another db', async () => {
    const key = KEYS.string;
    await on(B, key, 'DEL', key);
    expect(await copy(key, 'string', { stringMethod: 'setrange', expireAt: Date.now() + B.clockOffsetMs + 60_000 })).toBe('written');
    expect((await compareBigKey(A, 0, B, 0, key, 'string')).equal).toBe(true);
    expect(Number(await on(B, key, 'PTTL', key))).toBeGreaterThan(50_000);
    expect(await leftovers(B)).toEqual([]);
    // The streamed SET's own connection selects the target db.
    await B.useDbs([3]);
    expect(await copy(key, 'string', { targetDb: 3 })).toBe('written');
    expect((await compareBigKey(A, 0, B, 3, key, 'string')).equal).toBe(true);
    expect(await B.call(3, key, 'PTTL', key)).toBe(-1);
    await B.call(3, key, 'DEL', key);

    // …and authenticates like the endpoint (a password-protected target).
    const locked = await startRedis({ password: 'hunter2' });
    const L = await Endpoint.open({ role: 'target', name: 'locked', url: locked.url });
    try {
      await L.useDbs([0]);
      expect(await copy(key, 'string', { target: L })).toBe('written');
      expect((await compareBigKey(A, 0, L, 0, key, 'string')).equal).toBe(true);
    } finally {
      L.close();
      await locked.stop();
    }
  });

  it('returns vanished when the source key goes away mid-copy, and drops the temp key on abort', async () => {
    for (const type of ['list', 'string'] as const) {
      const src = b(`vanish:${type}`);
      if (type === 'list') await fill(A, src, ['RPUSH', src], 50_000, (i) => [`v${i}`]);
      else await on(A, src, 'SET', src, Buffer.alloc(16 * MB, 0x62));
      let deleted = false;
      const outcome = await copy(src, type, {
        onProgress: () => {
          if (!deleted) {
            deleted = true;
            void on(A, src, 'DEL', src);
          }
        },
      });
      expect(outcome, type).toBe('vanished');
      expect(await on(B, src, 'EXISTS', src)).toBe(0);
      expect(await leftovers(B)).toEqual([]);
    }
    const controller = new AbortController();
    const key = KEYS.hash;
    await on(B, key, 'DEL', key);
    const copying = copy(key, 'hash', { onProgress: (done) => done > 20_000 && controller.abort(new Error('stopped by the test')), signal: controller.signal });
    await expect(copying).rejects.toThrow('stopped by the test');
    expect(await on(B, key, 'EXISTS', key)).toBe(0);
    expect(await leftovers(B)).toEqual([]);
    // And with an expiry already past: nothing is written, a replaced key is removed (as RESTORE would).
    await on(B, key, 'SET', key, 'old');
    expect(await copy(key, 'hash', { expireAt: Date.now() + B.clockOffsetMs - 1000 })).toBe('written');
    expect(await on(B, key, 'EXISTS', key)).toBe(0);
  });

  it('builds the temp key in the key slot on a cluster target', async () => {
    for (const key of Object.values(KEYS)) {
      expect(keySlot(sameSlotName(key, TEMP_TAG))).toBe(keySlot(key));
      expect(keySlot(sameSlotName(key, TRASH_TAG))).toBe(keySlot(key));
    }
    for (const type of ['hash', 'stream', 'string'] as const) {
      const key = KEYS[type];
      const cluster = { target: C, expireAt: Date.now() + C.clockOffsetMs + 600_000 };
      expect(await copy(key, type, cluster), type).toBe('written');
      expect(await compareBigKey(A, 0, C, 0, key, type), type).toEqual({ equal: true, detail: 'the values are equal' });
    }
    // Replace on the cluster too (MULTI / RENAME to the trash name / EXEC on the key's node).
    expect(await copy(KEYS.string, 'string', { target: C, onConflict: 'replace' })).toBe('written');
    expect((await compareBigKey(A, 0, C, 0, KEYS.string, 'string')).equal).toBe(true);
    expect(await leftovers(C)).toEqual([]);
  });
});

describe('compareBigKey', () => {
  it('names one changed element per type', async () => {
    // Fresh, equal copies of everything on B first (earlier tests left the others equal).
    expect(await copy(KEYS.hash, 'hash')).toBe('written');
    for (const type of TYPES) expect((await compareBigKey(A, 0, B, 0, KEYS[type], type)).equal, type).toBe(true);
    const change: Record<KeyType, () => Promise<unknown>> = {
      string: () => on(B, KEYS.string, 'SETRANGE', KEYS.string, 40 * MB + 3, 'Z'),
      list: () => on(B, KEYS.list, 'LSET', KEYS.list, 150_001, 'changed'),
      set: async () => {
        await on(B, KEYS.set, 'SREM', KEYS.set, 'member-123456');
        await on(B, KEYS.set, 'SADD', KEYS.set, 'member-new');
      },
      zset: () => on(B, KEYS.zset, 'ZADD', KEYS.zset, 'XX', 12.5, 'm4242'),
      hash: () => on(B, KEYS.hash, 'HSET', KEYS.hash, 'field-77777', 'changed'),
      stream: () => on(B, KEYS.stream, 'XDEL', KEYS.stream, '61001-1'),
    };
    const details: Record<string, string> = {};
    for (const type of TYPES) {
      await change[type]();
      const result = await compareBigKey(A, 0, B, 0, KEYS[type], type);
      expect(result.equal, type).toBe(false);
      details[type] = result.detail;
    }
    const zscore = replyText(await on(A, KEYS.zset, 'ZSCORE', KEYS.zset, 'm4242'));
    expect(details).toEqual({
      string: `string differs at byte ${40 * MB + 3} of ${STRING_BYTES}`,
      list: expect.stringMatching(/^list differs at index 150001 of 200000: "item-150001-x+" vs "changed"$/),
      set: `set member "member-123456" is only on the source (${N} vs ${N} members)`,
      zset: `zset member "m4242" has score ${Number(zscore)} vs 12.5`,
      hash: `hash field "field-77777" differs: "value-${77777 * 7}-${'v'.repeat(77777 % 30)}" vs "changed"`,
      stream: expect.stringMatching(/^stream entry \d+ of \d+ has id 61001-1 vs 61002-2$/),
    });
    // Extra element only on the target; a metadata-only difference in a stream.
    await on(B, KEYS.set, 'SADD', KEYS.set, 'member-123456');
    expect((await compareBigKey(A, 0, B, 0, KEYS.set, 'set')).detail).toBe(`set member "member-new" is only on the target (${N} vs ${N + 1} members)`);
    expect(await copy(KEYS.stream, 'stream')).toBe('written');
    await on(B, KEYS.stream, 'XCLAIM', KEYS.stream, 'g1', 'bob', 0, '3000-2', 'JUSTID');
    expect((await compareBigKey(A, 0, B, 0, KEYS.stream, 'stream')).detail).toBe('stream group "g1": pending entry 3000-2 is owned by "alice" vs "bob"');
  });
});

describe('stalls (printed for the report, not asserted)', () => {
  it('measures what another client of the target sees during a big copy vs DUMP/RESTORE', async () => {
    const idle = await withProbe(serverB, B, () => new Promise((r) => setTimeout(r, 300)));
    const z = b('stall:zset');
    await fill(A, z, ['ZADD', z], STALL_ZSET, (i) => [(i * 7919) % 1_000_003, `member:${i}`], 2000);
    const chunked = await withProbe(serverB, B, () => copy(z, 'zset'));
    expect(chunked.result).toBe('written');
    const dumpOnSource = await withProbe(serverA, A, () => on(A, z, 'DUMP', z));
    const zr = b('stall:zset:restored');
    const restored = await withProbe(serverB, B, () => on(B, zr, 'RESTORE', zr, 0, dumpOnSource.result as Buffer));

    const s = KEYS.string;
    await on(B, s, 'DEL', s);
    const chunkedString = await withProbe(serverB, B, () => copy(s, 'string'));
    const stringDump = await withProbe(serverA, A, () => on(A, s, 'DUMP', s));
    const sr = b('stall:string:restored');
    const stringRestore = await withProbe(serverB, B, () => on(B, sr, 'RESTORE', sr, 0, stringDump.result as Buffer));
    // How the same 64 MB string is built on the target: APPEND windows, SETRANGE at the final length then
    // windows (copyBigKey's fallback), and copyBigKey's streamed SET (its default, measured above).
    const appended = b('stall:string:appended');
    const append = await withProbe(serverB, B, async () => {
      for (let at = 0; at < STRING_BYTES; at += MB) await on(B, appended, at === 0 ? 'SET' : 'APPEND', appended, stringChunk(at, MB));
    });
    await on(B, s, 'DEL', s);
    const setrange = await withProbe(serverB, B, () => copy(s, 'string', { stringMethod: 'setrange' }));
    const line = (what: string, r: { maxMs: number; p99Ms: number; pings: number; serverMaxMs: number; ms: number }) =>
      `${what.padEnd(44)} ${String(r.ms).padStart(6)} ms   probe max ${r.maxMs.toFixed(1).padStart(6)} ms  p99 ${r.p99Ms.toFixed(1).padStart(5)} ms (${r.pings} pings)   server (LATENCY LATEST) max ${r.serverMaxMs} ms`;
    console.log(
      [
        `stalls, ${STALL_ZSET.toLocaleString('en')}-member zset and ${STRING_BYTES / MB} MB string (probe = PING every ms on another connection):`,
        line('idle target, nothing running (the noise)', idle),
        line('zset: copyBigKey (target)', chunked),
        line('zset: DUMP (source)', dumpOnSource),
        line('zset: RESTORE (target)', restored),
        line('string: copyBigKey, streamed SET (target)', chunkedString),
        line('string: APPEND of 1 MB windows (target)', append),
        line('string: copyBigKey, SETRANGE fallback (target)', setrange),
        line('string: DUMP (source)', stringDump),
        line('string: RESTORE (target)', stringRestore),
      ].join('\n'),
    );
    expect(await on(B, z, 'ZCARD', z)).toBe(STALL_ZSET);
  });
});
