// The replication reader against real redis-server 7.0 masters: full sync (disk and diskless) read
// by the RDB codec, the command stream with exact offsets, ACKs the master sees, resume after a
// drop (+CONTINUE, and +FULLRESYNC when the backlog is gone), the errors a user can meet, a master
// that only allows SYNC, and a chained staging replica.
import crypto from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { readRdb } from '../../main/engine/rdb/index.js';
import { ReplicaLink, ReplicationError, type ReplicaLinkOptions, type ReplicationCommand } from '../../main/engine/replication/index.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import { BINARY_KEY, BINARY_VALUE, connectTo, everyTypeCommands, sendAll } from '../support/dataset.js';
import { freePort, startRedis, type RedisServer } from '../support/redisServers.js';

const servers: RedisServer[] = [];
const links: ReplicaLink[] = [];
const conns: RedisConnection[] = [];

afterAll(async () => {
  links.forEach((l) => l.close());
  conns.forEach((c) => c.close());
  await Promise.all(servers.map((s) => s.stop()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function server(args: string[] = [], password?: string): Promise<RedisServer> {
  const s = await startRedis({ args, password });
  servers.push(s);
  return s;
}

async function conn(s: RedisServer, db = 0, password?: string): Promise<RedisConnection> {
  const c = await connectTo(s.port, db, password);
  conns.push(c);
  return c;
}

const labelOf = (s: RedisServer) => `source test (127.0.0.1:${s.port})`;

async function open(s: RedisServer, opts: Partial<ReplicaLinkOptions> = {}): Promise<ReplicaLink> {
  const link = await ReplicaLink.open({ host: '127.0.0.1', port: s.port, label: labelOf(s), ...opts });
  links.push(link);
  return link;
}

async function openError(s: RedisServer | number, opts: Partial<ReplicaLinkOptions> = {}): Promise<ReplicationError> {
  const port = typeof s === 'number' ? s : s.port;
  const err = await ReplicaLink.open({ host: '127.0.0.1', port, label: `source test (127.0.0.1:${port})`, ...opts }).then(
    (l) => {
      l.close();
      return null;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ReplicationError);
  return err as ReplicationError;
}

async function replInfo(s: RedisServer): Promise<Map<string, string>> {
  const text = await s.cli('INFO', 'replication');
  return new Map(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

const masterOffset = async (s: RedisServer) => Number((await replInfo(s)).get('master_repl_offset'));

async function until<T>(what: string, probe: () => T | Promise<T>, ms = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Reads a link's commands in the background, acking each after "applying" it (keeping it). */
class Consumer {
  readonly commands: ReplicationCommand[] = [];
  error: unknown = null;
  readonly done: Promise<void>;
  constructor(
    readonly link: ReplicaLink,
    onCommand: (c: ReplicationCommand) => void = () => undefined,
  ) {
    this.done = (async () => {
      try {
        for await (const c of link.commands()) {
          this.commands.push(c);
          onCommand(c);
          link.ack(c.offset);
        }
      } catch (err) {
        this.error = err;
      }
    })();
  }

  get lastOffset(): number {
    return this.commands.length ? this.commands[this.commands.length - 1].offset : this.link.start.offset;
  }

  /** Waits until the link has handed out everything the master has written: a command ends exactly at its offset. */
  async caughtUp(master: RedisServer): Promise<number> {
    const target = await masterOffset(master);
    await until(`offset ${target} (at ${this.lastOffset})`, () => {
      if (this.error) throw this.error;
      return this.lastOffset >= target;
    });
    expect(this.commands.some((c) => c.offset === target) || this.link.start.offset === target).toBe(true);
    return target;
  }

  /** The commands as text, without the master's PINGs and GETACKs. */
  texts(): string[][] {
    return this.commands.map((c) => c.argv.map((a) => a.toString('latin1'))).filter((a) => !['ping', 'replconf'].includes(a[0].toLowerCase()));
  }
}

/** Every key of the given dbs as the master has it: its DUMP payload and its expire time. */
async function masterKeys(s: RedisServer, dbs: number[]): Promise<Map<string, { dump: Buffer; expireAtMs: number | null }>> {
  const out = new Map<string, { dump: Buffer; expireAtMs: number | null }>();
  for (const db of dbs) {
    const c = await conn(s, db);
    let cursor = '0';
    do {
      const [next, keys] = (await c.call('SCAN', cursor, 'COUNT', 1000)) as [Buffer, Buffer[]];
      cursor = next.toString();
      for (const key of keys) {
        const dump = (await c.call('DUMP', key)) as Buffer;
        const at = (await c.call('PEXPIRETIME', key)) as number;
        out.set(`${db}/${key.toString('hex')}`, { dump, expireAtMs: at < 0 ? null : at });
      }
    } while (cursor !== '0');
  }
  return out;
}

/** The keys of the link's RDB as the codec reads them: raw value bytes (a DUMP payload without its footer). */
async function rdbKeys(link: ReplicaLink): Promise<{ keys: Map<string, { raw: Buffer; expireAtMs: number | null; type: string }>; checksumOk: boolean | null }> {
  const keys = new Map<string, { raw: Buffer; expireAtMs: number | null; type: string }>();
  let checksumOk: boolean | null = null;
  for await (const item of readRdb(link.rdb(), { rawValues: true, chunkBytes: 64 << 20 })) {
    if (item.kind === 'key') keys.set(`${item.db}/${item.key.toString('hex')}`, { raw: item.raw!, expireAtMs: item.expireAtMs, type: item.value.type });
    if (item.kind === 'key-start') throw new Error('no key should come in chunks here');
    if (item.kind === 'end') checksumOk = item.checksumOk;
  }
  return { keys, checksumOk };
}

function expectSameKeys(got: Map<string, { raw: Buffer; expireAtMs: number | null }>, want: Map<string, { dump: Buffer; expireAtMs: number | null }>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [id, w] of want) {
    const g = got.get(id)!;
    expect(g.raw.equals(w.dump.subarray(0, w.dump.length - 10)), `value of ${id}`).toBe(true);
    expect(g.expireAtMs, `expire time of ${id}`).toBe(w.expireAtMs);
  }
}

async function fillEveryType(s: RedisServer): Promise<void> {
  // Plus 8 MB that LZF cannot shrink, so the transfer itself is big.
  await sendAll(await conn(s, 0), [...everyTypeCommands(), ['SET', 'str:random', crypto.randomBytes(8 << 20)]]);
  await sendAll(await conn(s, 3), everyTypeCommands('three:', 'v3').filter((c) => c[1] !== 'three:str:huge'));
  await sendAll(await conn(s, 15), [['SET', BINARY_KEY, BINARY_VALUE], ['HSET', Buffer.concat([BINARY_KEY, BINARY_KEY]), BINARY_KEY, BINARY_VALUE], ['PEXPIRE', BINARY_KEY, 9_000_000]]);
}

// ---------------------------------------------------------------------------------------------

describe.each([
  ['disk-based', 'no'],
  ['diskless (EOF mark)', 'yes'],
])('full sync, %s transfer', (_title, diskless) => {
  let master: RedisServer;
  let link: ReplicaLink;
  let consumer: Consumer;

  it("the RDB chunks, read by readRdb, hold exactly the master's keys: every type, binary keys, TTLs, three dbs", async () => {
    master = await server(['--repl-diskless-sync', diskless]);
    await fillEveryType(master);
    const want = await masterKeys(master, [0, 3, 15]);
    link = await open(master);
    expect(link.start.mode).toBe('full');
    if (link.start.mode !== 'full') return;
    expect(link.start.replid).toBe((await replInfo(master)).get('master_replid'));
    if (diskless === 'yes') expect(link.start.rdbBytes).toBeNull();
    else expect(link.start.rdbBytes).toBeGreaterThan(8 << 20);
    const { keys, checksumOk } = await rdbKeys(link);
    expect(checksumOk).toBe(true);
    expectSameKeys(keys, want);
    expect(new Set([...keys.values()].map((k) => k.type))).toEqual(new Set(['string', 'list', 'set', 'zset', 'hash', 'stream']));
    expect(keys.size).toBe(want.size);
  });

  it('writes after the sync arrive as commands, in order, and the offsets end at master_repl_offset', async () => {
    consumer = new Consumer(link);
    const c = await conn(master);
    await c.call('SET', 'plain', 'v1');
    await c.call('SET', BINARY_KEY, BINARY_VALUE);
    await c.call('HSET', 'h', 'f1', 'v1', 'f2', '');
    await c.call('EXPIRE', 'plain', 100);
    await c.call('DEL', 'h');
    await sendAll(c, [['MULTI'], ['INCR', 'ctr'], ['INCR', 'ctr'], ['EXEC']]);
    await c.call('SELECT', 5);
    await c.call('SET', 'in5', 'x');
    await c.call('SELECT', 0);
    await c.call('EVAL', "redis.call('SET', KEYS[1], ARGV[1]); redis.call('RPUSH', KEYS[2], ARGV[1]); return 1", 2, 'lua:a', 'lua:b', 'val');
    await consumer.caughtUp(master);
    const got = consumer.texts();
    const at = got.findIndex((a) => a[0] === 'PEXPIREAT');
    expect(Number(got[at]?.[2])).toBeGreaterThan(Date.now() + 90_000);
    got[at][2] = '<at>';
    expect(got).toEqual([
      ['SELECT', '0'],
      ['SET', 'plain', 'v1'],
      ['SET', BINARY_KEY.toString('latin1'), BINARY_VALUE.toString('latin1')],
      ['HSET', 'h', 'f1', 'v1', 'f2', ''],
      // Redis 7 propagates relative expire times as absolute ones.
      ['PEXPIREAT', 'plain', '<at>'],
      ['DEL', 'h'],
      ['MULTI'],
      ['INCR', 'ctr'],
      ['INCR', 'ctr'],
      ['EXEC'],
      ['SELECT', '5'],
      ['SET', 'in5', 'x'],
      ['SELECT', '0'],
      ['MULTI'],
      ['SET', 'lua:a', 'val'],
      ['RPUSH', 'lua:b', 'val'],
      ['EXEC'],
    ]);
    // Offsets: each command's offset is the previous one plus its bytes on the wire.
    expect(consumer.commands[0].offset).toBeGreaterThan(link.start.offset);
  });

  it("ACK: the master's INFO shows the offset the consumer acked", async () => {
    const target = await consumer.caughtUp(master);
    const slaveOffset = async () => Number(/offset=(\d+)/.exec((await replInfo(master)).get('slave0') ?? '')?.[1] ?? -1);
    await until(`the master to see offset ${target}`, async () => (await slaveOffset()) === target);
    const slave = (await replInfo(master)).get('slave0')!;
    expect(slave).toMatch(/state=online/);
    expect(link.applied).toBe(target);
    expect(link.position).toEqual({ replid: link.replid, offset: target });
  });
});

describe('ACK', () => {
  it('shows 0 until the consumer acks, then exactly what it acked (not what was read)', async () => {
    const master = await server(['--repl-diskless-sync', 'yes']);
    await sendAll(await conn(master), [['SET', 'a', '1']]);
    const link = await open(master, { ackIntervalMs: 100 });
    await rdbKeys(link);
    // Nothing applied yet: no position to resume from, even on a fresh master at offset 0.
    expect(link.position).toBeNull();
    const slaveOffset = async () => Number(/offset=(\d+)/.exec((await replInfo(master)).get('slave0') ?? '')?.[1] ?? -1);
    await until('the first ACK', async () => /state=online/.test((await replInfo(master)).get('slave0') ?? ''));
    expect(await slaveOffset()).toBe(0);
    const c = await conn(master);
    for (let i = 0; i < 5; i++) await c.call('SET', `k${i}`, i);
    const it = link.commands()[Symbol.asyncIterator]();
    const seen: number[] = [];
    const target = await masterOffset(master);
    while (seen[seen.length - 1] !== target) seen.push((await it.next()).value!.offset);
    link.ack(link.start.offset);
    await until('ack of the RDB', async () => (await slaveOffset()) === link.start.offset);
    link.ack(seen[2]);
    await until('ack of the third command', async () => (await slaveOffset()) === seen[2]);
    await sleep(300);
    expect(await slaveOffset()).toBe(seen[2]);
    expect(() => link.ack(target + 1)).toThrow(RangeError);
  });

  it('answers REPLCONF GETACK at once: WAIT returns as soon as the consumer has applied the write', async () => {
    const master = await server();
    // No periodic ACKs in this test: only GETACK can make WAIT return.
    const link = await open(master, { ackIntervalMs: 600_000 });
    await rdbKeys(link);
    const consumer = new Consumer(link);
    const c = await conn(master);
    await c.call('SET', 'x', '1');
    const t0 = Date.now();
    expect(await c.call('WAIT', 1, 5000)).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2000);
    await consumer.caughtUp(master);
    expect(consumer.commands.some((cmd) => cmd.argv[0].toString().toUpperCase() === 'REPLCONF' && cmd.argv[1].toString().toUpperCase() === 'GETACK')).toBe(true);
  });
});

describe('back-pressure', () => {
  it('reads the socket only as fast as the consumer pulls: RDB chunks and commands', async () => {
    const master = await server(['--repl-diskless-sync', 'no']);
    const BIG = 48 << 20;
    await sendAll(await conn(master), [['SET', 'big', crypto.randomBytes(BIG)]]);
    let socket: net.Socket | null = null;
    const link = await open(master, {
      connect: async (host, port) => {
        const s = net.connect({ host, port });
        await once(s, 'connect');
        return (socket = s);
      },
    });
    const bytesRead = () => (socket as net.Socket | null)!.bytesRead;
    const rdbBytes = link.start.mode === 'full' ? link.start.rdbBytes! : 0;
    expect(rdbBytes).toBeGreaterThan(BIG);
    const chunks = link.rdb()[Symbol.asyncIterator]();
    let got = (await chunks.next()).value!.length;
    await sleep(500);
    // Node holds one 64 KB read; the rest waits in the kernel and at the master (measured: ~115 KB read).
    expect(bytesRead()).toBeLessThan(4 << 20);
    for (let r = await chunks.next(); !r.done; r = await chunks.next()) got += r.value.length;
    expect(got).toBe(rdbBytes);
    link.ack(link.start.offset);

    // 32 MB of commands the consumer does not pull yet.
    const before = bytesRead();
    const value = Buffer.alloc(16 << 10, 'v');
    await sendAll(await conn(master), Array.from({ length: 2000 }, (_, i) => ['SET', `k${i}`, value]));
    await sleep(500);
    expect(bytesRead() - before).toBeLessThan(4 << 20);
    const consumer = new Consumer(link);
    await consumer.caughtUp(master);
    expect(consumer.texts().filter((a) => a[0] === 'SET')).toHaveLength(2000);
  });
});

describe('resume after a drop', () => {
  const TOTAL = 3000;

  /** RPUSH seq 1..TOTAL in small pipelined batches, while the test drops and resumes the link. */
  async function writeSequence(master: RedisServer): Promise<void> {
    const c = await conn(master);
    for (let i = 1; i <= TOTAL; i += 100) {
      await sendAll(c, Array.from({ length: 100 }, (_, j) => ['RPUSH', 'seq', i + j]));
      await sleep(5);
    }
  }

  /** Checks each RPUSH is the next number: nothing lost, nothing twice. */
  function sequenceChecker(): { last: number; check: (c: ReplicationCommand) => void } {
    const state = {
      last: 0,
      check: (c: ReplicationCommand) => {
        if (c.argv[0].toString().toUpperCase() !== 'RPUSH') return;
        const n = Number(c.argv[2].toString());
        if (n !== state.last + 1) throw new Error(`got ${n} after ${state.last}`);
        state.last = n;
      },
    };
    return state;
  }

  for (const how of ['Ferry loses its socket', 'the master kills the replica client']) {
    it(`${how} mid-stream: reconnecting with the replid and applied offset gives +CONTINUE, no command lost or doubled`, async () => {
      const master = await server();
      let socket: net.Socket | null = null;
      const connect = async (host: string, port: number) => {
        const s = net.connect({ host, port });
        await once(s, 'connect');
        socket = s;
        return s;
      };
      const first = await open(master, { connect });
      expect(first.start.mode).toBe('full');
      await rdbKeys(first);
      first.ack(first.start.offset);
      const seq = sequenceChecker();
      const consumer = new Consumer(first, seq.check);
      const writing = writeSequence(master);
      await until('a third of the writes', () => seq.last >= 1000);
      if (how.startsWith('Ferry')) (socket as net.Socket | null)!.destroy();
      else await master.cli('CLIENT', 'KILL', 'TYPE', 'replica');
      await consumer.done;
      expect(consumer.error).toBeInstanceOf(ReplicationError);
      expect((consumer.error as ReplicationError).kind).toBe('closed');
      expect((consumer.error as ReplicationError).message).toMatch(new RegExp(`^${labelOf(master).replace(/[()]/g, '\\$&')}: the replication link dropped at offset \\d+`));
      const position = first.position!;
      expect(position.offset).toBe(consumer.lastOffset);

      const second = await open(master, { resume: position });
      expect(second.start).toEqual({ mode: 'partial', replid: position.replid, offset: position.offset, replidChanged: false });
      expect(() => second.rdb()).toThrow(/no RDB/);
      const resumed = new Consumer(second, seq.check);
      await writing;
      await resumed.caughtUp(master);
      expect(resumed.error).toBeNull();
      expect(seq.last).toBe(TOTAL);
      expect(Number(await master.cli('LLEN', 'seq'))).toBe(TOTAL);
      second.close();
      await resumed.done;
      expect(resumed.error).toBeNull();
    });
  }

  it('with a tiny backlog and many writes while disconnected, the reconnect reports a full resync', async () => {
    const master = await server(['--repl-backlog-size', '16kb']);
    const first = await open(master);
    await rdbKeys(first);
    first.ack(first.start.offset);
    const consumer = new Consumer(first);
    await sendAll(await conn(master), [['SET', 'before', 'x']]);
    await consumer.caughtUp(master);
    const position = first.position!;
    first.close();
    await consumer.done;
    expect(consumer.error).toBeNull();
    const pad = 'p'.repeat(100);
    await sendAll(await conn(master), Array.from({ length: 2000 }, (_, i) => ['SET', `k${i}`, pad]));

    const second = await open(master, { resume: position });
    expect(second.start.mode).toBe('full');
    expect(second.start.offset).toBeGreaterThan(position.offset + 200_000);
    const { keys } = await rdbKeys(second);
    expect(keys.size).toBe(2001);
    // Nothing is applied of the new dataset yet: nothing to resume from.
    expect(second.position).toBeNull();
    second.ack(second.start.offset);
    expect(second.position).toEqual({ replid: second.replid, offset: second.start.offset });
  });
});

describe('errors', () => {
  it("wrong password: 'auth', naming the endpoint and the fix; no password: 'auth' too", async () => {
    const master = await server([], 'right-pw');
    const wrong = await openError(master, { password: 'wrong-pw' });
    expect(wrong.kind).toBe('auth');
    expect(wrong.endpoint).toBe(labelOf(master));
    expect(wrong.message).toMatch(new RegExp(`^${labelOf(master).replace(/[()]/g, '\\$&')}: authentication failed \\(WRONGPASS.*\\); check the user and password`));
    const none = await openError(master);
    expect(none.kind).toBe('auth');
    expect(none.message).toMatch(/requires a password \(NOAUTH/);
    expect((await open(master, { password: 'right-pw' })).start.mode).toBe('full');
  });

  it("a master with PSYNC and SYNC renamed away: 'refused', pointing to stage: direct", async () => {
    const master = await server(['--rename-command', 'PSYNC', '', '--rename-command', 'SYNC', '']);
    const err = await openError(master);
    expect(err.kind).toBe('refused');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/the server refuses replication \(SYNC: ERR unknown command 'sync'.*PSYNC was refused first.*stage: direct/i);
  });

  it("an ACL user without PSYNC/SYNC: 'refused', pointing to the ACL", async () => {
    const master = await server();
    await master.cli('ACL', 'SETUSER', 'reader', 'on', '>reader-pw', '~*', '+@all', '-psync', '-sync');
    const err = await openError(master, { username: 'reader', password: 'reader-pw' });
    expect(err.kind).toBe('refused');
    expect(err.message).toMatch(/the user may not replicate \(SYNC: NOPERM.*grant \+psync \+sync \+replconf/);
  });

  it("nothing listening: 'unreachable'", async () => {
    const err = await openError(await freePort());
    expect(err.kind).toBe('unreachable');
    expect(err.message).toMatch(/cannot connect to 127\.0\.0\.1:\d+: connection refused/);
  });

  it("a replica without a link to its own master: 'not-ready' (retryable)", async () => {
    const orphan = await server(['--replicaof', '127.0.0.1', String(await freePort())]);
    const err = await openError(orphan);
    expect(err.kind).toBe('not-ready');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/NOMASTERLINK.*try again once its master_link_status is up/);
  });

  it("a master that goes silent (SIGSTOP): 'timeout' after deadAfterMs", async () => {
    const master = await server();
    const link = await open(master, { deadAfterMs: 1500 });
    await rdbKeys(link);
    const consumer = new Consumer(link);
    await sendAll(await conn(master), [['SET', 'a', '1']]);
    await consumer.caughtUp(master);
    process.kill(master.pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      await consumer.done;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
      expect(consumer.error).toBeInstanceOf(ReplicationError);
      expect((consumer.error as ReplicationError).kind).toBe('timeout');
      expect((consumer.error as ReplicationError).message).toMatch(/no data from the master for 1500 ms \(not even its PINGs\) at offset \d+/);
    } finally {
      process.kill(master.pid, 'SIGCONT');
    }
  });

  it('commands() skips an RDB nobody read; close() ends the commands quietly', async () => {
    const master = await server();
    await sendAll(await conn(master), [['SET', 'big', crypto.randomBytes(4 << 20)]]);
    const link = await open(master);
    const consumer = new Consumer(link);
    await sendAll(await conn(master), [['SET', 'after', '1']]);
    await consumer.caughtUp(master);
    expect(consumer.texts()).toEqual([['SELECT', '0'], ['SET', 'after', '1']]);
    link.close();
    await consumer.done;
    expect(consumer.error).toBeNull();
  });
});

describe('a master that refuses PSYNC but allows SYNC', () => {
  it('falls back to SYNC: the RDB and the commands arrive, offsets count from 0, no resume position', async () => {
    const master = await server(['--rename-command', 'PSYNC', '']);
    await sendAll(await conn(master), everyTypeCommands().filter((c) => c[1] !== 'str:huge'));
    const want = await masterKeys(master, [0]);
    const link = await open(master);
    expect(link.start.mode).toBe('sync');
    if (link.start.mode !== 'sync') return;
    expect(link.start.psyncError).toMatch(/unknown command 'psync'/i);
    expectSameKeys((await rdbKeys(link)).keys, want);
    const consumer = new Consumer(link);
    await sendAll(await conn(master), [['SET', 'after', '1'], ['INCR', 'n']]);
    await until('the writes', () => consumer.texts().some((a) => a[0] === 'INCR'));
    expect(consumer.texts().filter((a) => a[0] !== 'SELECT')).toEqual([['SET', 'after', '1'], ['INCR', 'n']]);
    expect(link.position).toBeNull();
    expect(consumer.commands[consumer.commands.length - 1].offset).toBe(consumer.commands.reduce((n, c) => n + wireBytes(c.argv), 0));
  });
});

describe('chained: the link reads from a local staging replica of the master', () => {
  it("gets the master's data and its writes through the replica, with the master's replid and offsets", async () => {
    const master = await server();
    await sendAll(await conn(master), everyTypeCommands().filter((c) => c[1] !== 'str:huge'));
    const staging = await server(['--replicaof', '127.0.0.1', String(master.port)]);
    await until('the staging replica to sync', async () => {
      const info = await replInfo(staging);
      return info.get('master_link_status') === 'up' && info.get('master_sync_in_progress') === '0';
    });
    // Byte-exact against the staging replica's own DUMPs (hash tables may iterate in another order
    // on the master), and the same keys as the master.
    const want = await masterKeys(staging, [0]);
    expect([...want.keys()].sort()).toEqual([...(await masterKeys(master, [0])).keys()].sort());
    const link = await open(staging);
    expect(link.start.mode).toBe('full');
    expect(link.replid).toBe((await replInfo(master)).get('master_replid'));
    expectSameKeys((await rdbKeys(link)).keys, want);
    link.ack(link.start.offset);
    const consumer = new Consumer(link);
    const c = await conn(master);
    for (let i = 0; i < 50; i++) await c.call('INCR', 'through');
    const target = await consumer.caughtUp(master);
    expect(await masterOffset(staging)).toBe(target);
    expect(consumer.texts().filter((a) => a[0] === 'INCR')).toHaveLength(50);
    // The staging replica reports our ACKs as its own replica's offset.
    await until('the ACK at the staging replica', async () => ((await replInfo(staging)).get('slave0') ?? '').includes(`offset=${target}`));
  });
});

function wireBytes(argv: Buffer[]): number {
  return argv.reduce((n, a) => n + `$${a.length}\r\n`.length + a.length + 2, `*${argv.length}\r\n`.length);
}
