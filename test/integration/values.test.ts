import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import type { Arg } from '../../main/engine/resp/commandEncoder.js';
import { replyArray, replyText, type Reply } from '../../main/engine/resp/reply.js';
import { describeDifference, printableBytes, valueSize, valuesEqual, type LogicalValue, type StreamValue } from '../../main/engine/values/logicalValue.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { writeValue, type WriteValueOptions } from '../../main/engine/values/writeValue.js';
import { startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';

const b = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));
const NO_TTL: WriteValueOptions = { expireAt: 0, ifAbsent: false };

let serverA: RedisServer;
let serverB: RedisServer;
let cluster: RedisCluster;
let A: Endpoint;
let B: Endpoint;
let C: Endpoint;

beforeAll(async () => {
  [serverA, serverB, cluster] = await Promise.all([startRedis(), startRedis(), startCluster(3)]);
  [A, B, C] = await Promise.all([
    Endpoint.open({ role: 'source', name: 'a', url: serverA.url }),
    Endpoint.open({ role: 'target', name: 'b', url: serverB.url }),
    Endpoint.open({ role: 'target', name: 'c', url: cluster.url }),
  ]);
  await Promise.all([A.useDbs([0]), B.useDbs([0]), C.useDbs([0])]);
});

afterAll(async () => {
  for (const e of [A, B, C]) e?.close();
  await Promise.all([serverA?.stop(), serverB?.stop(), cluster?.stop()]);
});

/** A key command on `ep`, routed by `key`. */
function on(ep: Endpoint, key: Buffer, ...args: Arg[]): Promise<Reply> {
  return ep.call(0, key, ...args);
}

/** Sends `prefix` + items in commands of `per` items, pipelined. */
async function fill(ep: Endpoint, key: Buffer, prefix: Arg[], items: Arg[][], per = 1000): Promise<void> {
  const sends: Array<Promise<Reply>> = [];
  for (let i = 0; i < items.length; i += per) sends.push(on(ep, key, ...prefix, ...items.slice(i, i + per).flat()));
  await Promise.all(sends);
}

/** Every key matching `*:ferry-tmp:*` on a standalone endpoint or on every node of a cluster. */
async function tempKeys(ep: Endpoint): Promise<Buffer[]> {
  const conns = ep.isCluster ? await Promise.all(ep.masters.map((m) => ep.nodeConnection(m.host, m.port))) : [ep.dbConnection(0)];
  const found: Buffer[] = [];
  for (const conn of conns) {
    let cursor = '0';
    do {
      const [next, keys] = replyArray(await conn.call('SCAN', cursor, 'MATCH', '*:ferry-tmp:*', 'COUNT', 1000));
      cursor = replyText(next);
      found.push(...(replyArray(keys) as Buffer[]));
    } while (cursor !== '0');
  }
  return found;
}

function expectEqual(a: LogicalValue | null, c: LogicalValue | null): void {
  expect(a).not.toBeNull();
  expect(c).not.toBeNull();
  const same = valuesEqual(a!, c!);
  expect(same, same ? '' : describeDifference(a!, c!)).toBe(true);
}

/** Reads `key` from A, writes it to `target` (B by default), reads it back and compares. */
async function copy(key: Buffer, opts: WriteValueOptions = NO_TTL, target: Endpoint = B): Promise<{ value: LogicalValue; copied: LogicalValue }> {
  const value = await readValue(A, 0, key);
  expect(value).not.toBeNull();
  expect(await writeValue(target, 0, key, value!, opts)).toBe('written');
  const copied = await readValue(target, 0, key);
  expectEqual(value, copied);
  expect(await tempKeys(target)).toEqual([]);
  return { value: value!, copied: copied! };
}

/** XINFO STREAM and XINFO GROUPS as flat name -> text maps, minus the encoding-dependent fields. */
async function streamInfo(ep: Endpoint, key: Buffer): Promise<unknown> {
  const flat = (r: Reply): Record<string, unknown> => {
    const arr = replyArray(r);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < arr.length; i += 2) {
      const v = arr[i + 1];
      out[replyText(arr[i])] = Array.isArray(v) ? JSON.stringify(v.map((x) => (Buffer.isBuffer(x) ? x.toString('hex') : x))) : v === null ? null : Buffer.isBuffer(v) ? v.toString('hex') : v;
    }
    return out;
  };
  const stream = flat(await on(ep, key, 'XINFO', 'STREAM', key));
  delete stream['radix-tree-keys'];
  delete stream['radix-tree-nodes'];
  const groups = replyArray(await on(ep, key, 'XINFO', 'GROUPS', key)).map(flat);
  const consumers = await Promise.all(
    groups.map(async (g) =>
      replyArray(await on(ep, key, 'XINFO', 'CONSUMERS', key, Buffer.from(g.name as string, 'hex'))).map((c) => {
        const { idle: _idle, inactive: _inactive, ...rest } = flat(c);
        return rest;
      }),
    ),
  );
  return { stream, groups, consumers };
}

/** ZRANGE … WITHSCORES as one text (members in hex, scores as the server prints them). */
async function zrangeText(ep: Endpoint, key: Buffer): Promise<string> {
  return replyArray(await on(ep, key, 'ZRANGE', key, 0, -1, 'WITHSCORES'))
    .map((x, i) => (i % 2 ? replyText(x) : (x as Buffer).toString('hex')))
    .join(' ');
}

describe('strings', () => {
  it('copies binary, empty, unicode, empty-named and 2 MB strings', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >> 9)) & 0xff;
    const cases: Array<[Buffer, Buffer]> = [
      [b([0x00, 0x6b, 0xff]), b([0xff, 0x00, 0x0d, 0x0a, 0x00])],
      [b('str:empty'), Buffer.alloc(0)],
      [b('str:ünïcødé ✓ 日本'), b('värde ✓ 値 🚀')],
      [Buffer.alloc(0), b('the empty key')],
      [b('str:big'), big],
    ];
    for (const [key, value] of cases) await on(A, key, 'SET', key, value);
    for (const [key, value] of cases) {
      const { copied } = await copy(key);
      // Buffer.equals: a deep toEqual of 2 MB is slow.
      expect(copied.type === 'string' && copied.value.equals(value)).toBe(true);
      expect((await on(B, key, 'GET', key) as Buffer).equals(value)).toBe(true);
    }
    expect(valueSize({ type: 'string', value: big })).toBe(big.length);
  });

  it('returns null for a missing key', async () => {
    expect(await readValue(A, 0, b('no:such:key'))).toBeNull();
  });
});

describe('collections', () => {
  it('copies lists, small and 20,000 elements, in bounded commands', async () => {
    const small = b('list:small');
    await on(A, small, 'RPUSH', small, b([0]), b([0xff, 0xfe]), '', 'ü', 'x', 'x');
    const { copied } = await copy(small);
    expect(copied).toEqual({ type: 'list', items: [b([0]), b([0xff, 0xfe]), b(''), b('ü'), b('x'), b('x')] });

    const big = b('list:big');
    await fill(A, big, ['RPUSH', big], Array.from({ length: 20_000 }, (_, i) => [`item-${i}`]));
    await B.command('CONFIG', 'RESETSTAT');
    const { value } = await copy(big);
    expect(value.type === 'list' && value.items.length).toBe(20_000);
    // 20,000 elements at 500 per command.
    expect(replyText(await B.command('INFO', 'commandstats'))).toMatch(/cmdstat_rpush:calls=40,/);
  });

  it('copies sets and hashes, with binary members and 20,000 elements', async () => {
    const set = b('set:bin');
    await on(A, set, 'SADD', set, b([0]), b([0xff]), b('a'), b(''), b('ñ'));
    expect((await copy(set)).value).toEqual({ type: 'set', members: [b(''), b([0]), b('a'), b('ñ'), b([0xff])] });

    const hash = b([0x68, 0x00, 0xff]);
    await on(A, hash, 'HSET', hash, b([0xff]), b([0]), b(''), b('empty field'), b('k'), b(''));
    expect((await copy(hash)).value).toEqual({
      type: 'hash',
      fields: [
        [b(''), b('empty field')],
        [b('k'), b('')],
        [b([0xff]), b([0])],
      ],
    });

    const bigSet = b('set:big');
    await fill(A, bigSet, ['SADD', bigSet], Array.from({ length: 20_000 }, (_, i) => [`m${i}`]));
    const bigHash = b('hash:big');
    await fill(A, bigHash, ['HSET', bigHash], Array.from({ length: 20_000 }, (_, i) => [`f${i}`, `v${i * 7}`]));
    const s = await copy(bigSet);
    expect(s.value.type === 'set' && s.value.members.length).toBe(20_000);
    const h = await copy(bigHash);
    expect(h.value.type === 'hash' && h.value.fields.length).toBe(20_000);
    expect(await on(B, bigHash, 'HGET', bigHash, 'f19999')).toEqual(b(`v${19999 * 7}`));
  });

  it('copies sorted sets with special scores exactly, and 20,000 members', async () => {
    const z = b('zset:scores');
    const scores = ['-inf', 'inf', '-2.5', '0', '0.1', '1e-300', '1.7976931348623157e308', '-0.30000000000000004', '123456789.123456789'];
    await on(A, z, 'ZADD', z, ...scores.flatMap((s, i) => [s, b([i, 0xff])]));
    const { value } = await copy(z);
    expect(value.type === 'zset' && value.members.map(([, s]) => s)).toEqual([-Infinity, -2.5, -0.30000000000000004, 0, 1e-300, 0.1, 123456789.12345679, 1.7976931348623157e308, Infinity]);
    // Same text from both servers: every double made the trip unchanged.
    expect(await zrangeText(B, z)).toBe(await zrangeText(A, z));

    const big = b('zset:big');
    await fill(A, big, ['ZADD', big], Array.from({ length: 20_000 }, (_, i) => [String((i * 7919) % 20_011 / 3 - 1000), `m${i}`]));
    const { value: bigValue } = await copy(big);
    expect(bigValue.type === 'zset' && bigValue.members.length).toBe(20_000);
    expect(await zrangeText(B, big)).toBe(await zrangeText(A, big));
  });
});

describe('streams', () => {
  async function expectSameStream(key: Buffer, target: Endpoint = B): Promise<StreamValue> {
    const { value } = await copy(key, NO_TTL, target);
    // Beyond the logical value: the servers report the same metadata, lag and consumers.
    expect(await streamInfo(target, key)).toEqual(await streamInfo(A, key));
    return (value as { stream: StreamValue }).stream;
  }

  it('keeps IDs, deleted entries, groups, consumers, pending owners and delivery counts', async () => {
    const s = b([0x73, 0x00, 0xff]);
    for (let i = 1; i <= 12; i++) await on(A, s, 'XADD', s, `${i}-${i % 3}`, 'f', b([i, 0, 0xff]), 'ü', `v${i}`);
    const g1 = b('g1');
    const g2 = b([0x67, 0xff]);
    await on(A, s, 'XGROUP', 'CREATE', s, g1, '0');
    await on(A, s, 'XGROUP', 'CREATE', s, g2, '3-0');
    await on(A, s, 'XREADGROUP', 'GROUP', g1, 'alice', 'COUNT', 3, 'STREAMS', s, '>');
    await on(A, s, 'XREADGROUP', 'GROUP', g1, b([0x62, 0x00]), 'COUNT', 3, 'STREAMS', s, '>');
    await on(A, s, 'XGROUP', 'CREATECONSUMER', s, g1, 'carol-idle');
    await on(A, s, 'XCLAIM', s, g1, b([0x62, 0x00]), 0, '2-2'); // delivery count 2
    await on(A, s, 'XREADGROUP', 'GROUP', g2, 'dave', 'COUNT', 2, 'STREAMS', s, '>');
    await on(A, s, 'XACK', s, g1, '3-0');
    // Deleted entries: 1-1 (pending, first), 5-2 (pending, middle), 9-0 (not pending), 12-0 (the last).
    await on(A, s, 'XDEL', s, '1-1', '5-2', '9-0', '12-0');

    const stream = await expectSameStream(s);
    expect(stream.entries.length).toBe(8);
    expect(stream.lastId).toBe('12-0');
    expect(stream.maxDeletedId).toBe('12-0');
    expect(stream.entriesAdded).toBe(12);
    const group1 = stream.groups.find((g) => g.name.equals(g1))!;
    expect(group1.consumers).toEqual([b('alice'), b([0x62, 0x00]), b('carol-idle')]);
    expect(group1.pending).toEqual([
      ['1-1', b('alice'), 1],
      ['2-2', b([0x62, 0x00]), 2],
      ['4-1', b([0x62, 0x00]), 1],
      ['5-2', b([0x62, 0x00]), 1],
      ['6-0', b([0x62, 0x00]), 1],
    ]);
    expect(group1.entriesRead).toBe(6);
  });

  it('copies an empty stream with a group, an emptied stream, and a MAXLEN-trimmed stream with trimmed pending entries', async () => {
    const empty = b('stream:empty');
    await on(A, empty, 'XGROUP', 'CREATE', empty, 'g', '$', 'MKSTREAM');
    await on(A, empty, 'XGROUP', 'CREATECONSUMER', empty, 'g', 'c');
    expect((await expectSameStream(empty)).length).toBe(0);

    const emptied = b('stream:emptied');
    await on(A, emptied, 'XADD', emptied, '5-0', 'a', 'b');
    await on(A, emptied, 'XADD', emptied, '7-0', 'a', 'b');
    await on(A, emptied, 'XDEL', emptied, '5-0', '7-0');
    expect((await expectSameStream(emptied)).lastId).toBe('7-0');

    const trimmed = b('stream:trimmed');
    for (let i = 1; i <= 20; i++) await on(A, trimmed, 'XADD', trimmed, `${i}-0`, 'n', String(i));
    await on(A, trimmed, 'XGROUP', 'CREATE', trimmed, 'g', '0');
    await on(A, trimmed, 'XREADGROUP', 'GROUP', 'g', 'early', 'COUNT', 4, 'STREAMS', trimmed, '>');
    await on(A, trimmed, 'XADD', trimmed, 'MAXLEN', '10', '21-0', 'n', '21');
    await on(A, trimmed, 'XDEL', trimmed, '15-0');
    const stream = await expectSameStream(trimmed);
    expect(stream.entries[0][0]).toBe('12-0');
    expect(stream.groups[0].pending.map(([id]) => id)).toEqual(['1-0', '2-0', '3-0', '4-0']);

    // Pending entries all trimmed away, nothing XDEL'ed: max-deleted-entry-id stays 0-0.
    const allTrimmed = b('stream:all-trimmed');
    for (let i = 1; i <= 3; i++) await on(A, allTrimmed, 'XADD', allTrimmed, `${i}-0`, 'n', String(i));
    await on(A, allTrimmed, 'XGROUP', 'CREATE', allTrimmed, 'g', '0');
    await on(A, allTrimmed, 'XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', allTrimmed, '>');
    await on(A, allTrimmed, 'XTRIM', allTrimmed, 'MAXLEN', 0);
    expect((await expectSameStream(allTrimmed)).maxDeletedId).toBe('0-0');
  });

  it('pages through more than 1000 entries and pending entries, in a cluster too', async () => {
    const s = b('stream:{big}');
    const sends: Array<Promise<Reply>> = [];
    for (let i = 1; i <= 2500; i++) sends.push(on(A, s, 'XADD', s, `${1000 + i}-0`, 'i', String(i)));
    await Promise.all(sends);
    await on(A, s, 'XGROUP', 'CREATE', s, 'g', '0');
    await on(A, s, 'XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', 1500, 'STREAMS', s, '>');
    await on(A, s, 'XREADGROUP', 'GROUP', 'g', 'c2', 'COUNT', 600, 'STREAMS', s, '>');
    await on(A, s, 'XDEL', s, '1001-0', '2000-0', '2700-0');
    const stream = await expectSameStream(s);
    expect(stream.entries.length).toBe(2497);
    expect(stream.groups[0].pending.length).toBe(2100);
    await expectSameStream(s, C);
  });
});

describe('writing', () => {
  it('sets the TTL, and with ifAbsent leaves an existing key alone', async () => {
    const key = b('ttl:key');
    await on(A, key, 'RPUSH', key, 'a', 'b');
    const value = (await readValue(A, 0, key))!;
    const expireAt = Date.now() + B.clockOffsetMs + 60_000;
    expect(await writeValue(B, 0, key, value, { expireAt, ifAbsent: true })).toBe('written');
    expect(Math.abs(Number(await on(B, key, 'PEXPIRETIME', key)) - expireAt)).toBeLessThan(1000);

    // Present: 'exists', old value and TTL untouched, no temp key.
    const other: LogicalValue = { type: 'list', items: [b('other')] };
    expect(await writeValue(B, 0, key, other, { expireAt: 0, ifAbsent: true })).toBe('exists');
    expectEqual(await readValue(B, 0, key), value);
    expect(Number(await on(B, key, 'PTTL', key))).toBeGreaterThan(58_000);
    expect(await tempKeys(B)).toEqual([]);

    // Replace, and no TTL any more.
    expect(await writeValue(B, 0, key, other, { expireAt: 0, ifAbsent: false })).toBe('written');
    expectEqual(await readValue(B, 0, key), other);
    expect(await on(B, key, 'PTTL', key)).toBe(-1);

    // A replacing write whose expiry has passed removes the old value, like RESTORE … REPLACE.
    expect(await writeValue(B, 0, key, value, { expireAt: Date.now() + B.clockOffsetMs - 1000, ifAbsent: false })).toBe('written');
    expect(await on(B, key, 'EXISTS', key)).toBe(0);
    expect(await tempKeys(B)).toEqual([]);
  });

  it('leaves the old value and no temp key when a write fails half-way', async () => {
    const key = b('fail:key');
    await on(B, key, 'SET', key, 'old');
    const bad: LogicalValue = {
      type: 'stream',
      // The second XADD is refused (IDs must grow): the temp key already exists by then.
      stream: { entries: [['5-0', [b('a'), b('1')]], ['4-0', [b('a'), b('2')]]], lastId: '5-0', length: 2, groups: [] },
    };
    await expect(writeValue(B, 0, key, bad, NO_TTL)).rejects.toThrow(/^ERR The ID specified in XADD .*\(target \(127\.0\.0\.1:\d+\): XADD on key "fail:key:ferry-tmp:/);
    expect(await on(B, key, 'GET', key)).toEqual(b('old'));
    expect(await tempKeys(B)).toEqual([]);
  });

  it('writes through the temp key and RENAME in a cluster', async () => {
    const keys = [b('c:one'), b('c:two{tag}'), b([0x00, 0xff, 0x7b]), Buffer.alloc(0), b('c:three')];
    for (const [i, key] of keys.entries()) await on(A, key, 'SET', key, `value ${i}`);
    const hash = b('c:hash');
    await fill(A, hash, ['HSET', hash], Array.from({ length: 3000 }, (_, i) => [`f${i}`, `v${i}`]));
    for (const key of [...keys, hash]) await copy(key, { expireAt: Date.now() + C.clockOffsetMs + 30_000, ifAbsent: true }, C);
    const value = (await readValue(A, 0, keys[0]))!;
    expect(await writeValue(C, 0, keys[0], value, { expireAt: 0, ifAbsent: true })).toBe('exists');
    expect(await tempKeys(C)).toEqual([]);
  });
});

describe('comparing', () => {
  it('notices one changed list element, zset score and pending owner', async () => {
    const list = b('diff:list');
    await on(A, list, 'RPUSH', list, 'a', 'b', 'c', 'd', 'e');
    await copy(list);
    await on(B, list, 'LSET', list, 3, b([0xff, 0x00]));

    const z = b('diff:zset');
    await on(A, z, 'ZADD', z, 1, 'x', 2, 'y', 3, 'z');
    await copy(z);
    await on(B, z, 'ZADD', z, 'XX', 2.5, 'y');

    const s = b('diff:stream');
    await on(A, s, 'XADD', s, '1-0', 'f', 'v');
    await on(A, s, 'XADD', s, '2-0', 'f', 'v');
    await on(A, s, 'XGROUP', 'CREATE', s, 'g1', '0');
    await on(A, s, 'XREADGROUP', 'GROUP', 'g1', 'alice', 'STREAMS', s, '>');
    await on(A, s, 'XGROUP', 'CREATECONSUMER', s, 'g1', 'bob');
    await copy(s);
    await on(B, s, 'XCLAIM', s, 'g1', 'bob', 0, '2-0', 'RETRYCOUNT', 1, 'JUSTID');

    const texts: string[] = [];
    for (const key of [list, z, s]) {
      const [ours, theirs] = await Promise.all([readValue(A, 0, key), readValue(B, 0, key)]);
      expect(valuesEqual(ours!, theirs!)).toBe(false);
      texts.push(describeDifference(ours!, theirs!));
    }
    expect(texts).toEqual([
      'list differs at index 3 of 5: "d" vs 0xff00',
      'zset member "y" has score 2 vs 2.5',
      'stream group "g1": pending entry 2-0 is owned by "alice" vs "bob"',
    ]);
  });

  it('compares version-dependent stream metadata only where both sides have it', () => {
    const base = (over: Partial<StreamValue> = {}): LogicalValue => ({
      type: 'stream',
      stream: {
        entries: [
          ['1-0', [b('f'), b('v')]],
          ['3-0', [b('f'), b('v')]],
        ],
        lastId: '3-0',
        length: 2,
        groups: [{ name: b('g'), lastDeliveredId: '2-0', entriesRead: null, consumers: [b('c')], pending: [['2-0', b('c'), 1]] }],
        ...over,
      },
    });
    // An older server reports no entries-added / max-deleted-entry-id: not compared.
    expect(valuesEqual(base(), base({ entriesAdded: 3, maxDeletedId: '2-0' }))).toBe(true);
    expect(valuesEqual(base({ entriesAdded: 3 }), base({ entriesAdded: 4 }))).toBe(false);
    // 0-0 with an XDEL'ed pending ID in the middle (data from a pre-7.0 RDB): the copy can only get that ID.
    expect(valuesEqual(base({ maxDeletedId: '0-0' }), base({ maxDeletedId: '2-0' }))).toBe(true);
    expect(valuesEqual(base({ maxDeletedId: '0-0' }), base({ maxDeletedId: '1-5' }))).toBe(false);
    // entries-read unknown (nil) on one side is not a difference; two different counts are.
    const withRead = (n: number | null) => {
      const v = base();
      if (v.type === 'stream') v.stream.groups[0].entriesRead = n;
      return v;
    };
    expect(valuesEqual(withRead(null), withRead(2))).toBe(true);
    expect(describeDifference(withRead(1), withRead(2))).toBe('stream group "g": entries-read 1 vs 2');
    const lagging = base();
    if (lagging.type === 'stream') lagging.stream.groups[0].lastDeliveredId = '1-0';
    expect(describeDifference(base(), lagging)).toBe('stream group "g": last-delivered-id 2-0 vs 1-0');
  });

  it('describes bytes readably', () => {
    expect(printableBytes(b('plain'))).toBe('"plain"');
    expect(printableBytes(b([0, 1, 0xff]))).toBe('0x0001ff');
    expect(printableBytes(b('ü'.repeat(30)), 9)).toBe('"üüüü"… (60 bytes)');
    expect(printableBytes(Buffer.alloc(100, 0xff), 4)).toBe('0xffffffff… (100 bytes)');
    expect(describeDifference({ type: 'hash', fields: [[b('x'), b('1')]] }, { type: 'hash', fields: [[b('x'), b('2')]] })).toBe('hash field "x" differs: "1" vs "2"');
    expect(describeDifference({ type: 'set', members: [b('a')] }, { type: 'string', value: b('a') })).toBe('type differs: set vs string');
  });
});
