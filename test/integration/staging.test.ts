import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Arg } from '../../main/engine/resp/commandEncoder.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import { replyNumber, replyText } from '../../main/engine/resp/reply.js';
import { checkStagingFits, redisServerVersion } from '../../main/engine/staging/stagingFit.js';
import { classifyLogLine, StagingError, StagingReplica, type StagingEvent, type StagingSpec } from '../../main/engine/staging/stagingReplica.js';
import { connectTo, sendAll } from '../support/dataset.js';
import { freePort, startRedis, type RedisServer } from '../support/redisServers.js';

const PASSWORD = 'st4ging-Pw';
const BASE_KEYS = 50_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let master: RedisServer;
let work: string;

/** 50,000 keys: strings, hashes, lists, sets and sorted sets, a tenth of them with a TTL. */
function baseCommands(): Arg[][] {
  const cmds: Arg[][] = [];
  const pad = 'x'.repeat(80);
  for (let i = 0; i < BASE_KEYS; i++) {
    const key = `k:${i}`;
    switch (i % 5) {
      case 0:
        cmds.push(['SET', key, `${pad}${i}`]);
        break;
      case 1:
        cmds.push(['HSET', key, 'a', String(i), 'b', pad, 'c', `${i}c`]);
        break;
      case 2:
        cmds.push(['RPUSH', key, 'a', String(i), pad]);
        break;
      case 3:
        cmds.push(['SADD', key, 'a', String(i), pad]);
        break;
      default:
        cmds.push(['ZADD', key, '1', 'a', String(i), 'b', '3', pad]);
    }
    if (i % 10 === 7) cmds.push(['PEXPIRE', key, '3600000']);
  }
  return cmds;
}

/** A key's type, value (order-free where the type is) and whether it has a TTL. */
async function snapshot(conn: RedisConnection, key: string): Promise<unknown> {
  const type = replyText(await conn.call('TYPE', key));
  const read: Record<string, Arg[]> = { string: ['GET', key], hash: ['HGETALL', key], list: ['LRANGE', key, 0, -1], set: ['SMEMBERS', key], zset: ['ZRANGE', key, 0, -1, 'WITHSCORES'] };
  const reply = await conn.call(...read[type]);
  const items = Array.isArray(reply) ? reply.map((r) => replyText(r)) : [replyText(reply)];
  if (type === 'hash') {
    const pairs: string[] = [];
    for (let j = 0; j < items.length; j += 2) pairs.push(`${items[j]}=${items[j + 1]}`);
    items.splice(0, items.length, ...pairs);
  }
  if (type === 'hash' || type === 'set') items.sort();
  const hasTtl = replyNumber(await conn.call('PTTL', key)) > 0;
  return { type, items, hasTtl };
}

/** A fresh directory for one replica (not created: start() does that). */
function replicaDir(name: string): string {
  return path.join(work, name);
}

function spec(port: number, extra: Partial<StagingSpec> = {}): StagingSpec {
  return { source: 'idc', node: `127.0.0.1:${port}`, master: { host: '127.0.0.1', port, password: PASSWORD }, dir: replicaDir(`r-${Math.random().toString(36).slice(2)}`), pollMs: 20, ...extra };
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts, waits and returns the StagingError the attempt ends with (stopping the replica). */
async function stagingFailure(s: StagingSpec): Promise<StagingError> {
  const replica = await StagingReplica.start(s);
  try {
    const err = await replica.waitSynced().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StagingError);
    return err as StagingError;
  } finally {
    await replica.stop({ keepFiles: false });
  }
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-staging-'));
  master = await startRedis({ password: PASSWORD });
  const conn = await connectTo(master.port, 0, PASSWORD);
  const cmds = baseCommands();
  for (let i = 0; i < cmds.length; i += 10_000) await sendAll(conn, cmds.slice(i, i + 10_000));
  conn.close();
});
afterAll(async () => {
  await master?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('staging replica', () => {
  it('syncs while the master is written, then detaches into a frozen point-in-time copy', async () => {
    // Slow the master's RDB down so the writer really writes during the sync: -5 sleeps 1 µs at one
    // key in five, and as each sleep costs ~100 µs, 50,000 keys take about a second.
    await master.cli('CONFIG', 'SET', 'rdb-key-save-delay', '-5');
    const writerConn = await connectTo(master.port, 0, PASSWORD);
    let written = 0;
    let writing = true;
    // Each write sets w:<n> and the counter together: a copy taken at any instant holds w:0..w:counter-1.
    const writer = (async () => {
      while (writing) {
        writerConn.send(['MULTI'], () => {});
        writerConn.send(['SET', `w:${written}`, `value ${written}`], () => {});
        writerConn.send(['SET', 'counter', String(written + 1)], () => {});
        await writerConn.call('EXEC');
        written++;
      }
    })();

    const events: StagingEvent[] = [];
    // Writes the master had acknowledged while the RDB was still coming: the copy must hold them.
    let writtenWhileTransferring = 0;
    const s = spec(master.port, {
      onEvent: (e) => {
        events.push(e);
        if (e.state === 'syncing' && !e.message) writtenWhileTransferring = written;
      },
    });
    let staged: RedisConnection | null = null;
    const started = Date.now();
    const replica = await StagingReplica.start(s);
    try {
      const writtenAtStart = written;
      await replica.waitSynced();
      const syncMs = Date.now() - started;
      expect(writtenWhileTransferring).toBeGreaterThan(writtenAtStart); // the writer ran during the sync
      await replica.detach();
      const writtenAtDetach = written;

      staged = await connectTo(replica.port);
      const counter = Number(replyText(await staged.call('GET', 'counter')));
      const size = replyNumber(await staged.call('DBSIZE'));
      expect(counter).toBeGreaterThanOrEqual(writtenWhileTransferring);
      // +1: the writer's transaction in flight may reach the copy before its reply reaches the test.
      expect(counter).toBeLessThanOrEqual(writtenAtDetach + 1);
      expect(size).toBe(BASE_KEYS + counter + 1);
      expect(replyNumber(await staged.call('EXISTS', `w:${counter - 1}`))).toBe(1);
      expect(replyNumber(await staged.call('EXISTS', `w:${counter}`))).toBe(0);

      // A sample of base keys holds the master's values and TTLs.
      const masterConn = await connectTo(master.port, 0, PASSWORD);
      for (let i = 0; i < BASE_KEYS; i += 331) {
        const [a, b] = await Promise.all([snapshot(masterConn, `k:${i}`), snapshot(staged, `k:${i}`)]);
        expect(b, `k:${i}`).toEqual(a);
      }
      masterConn.close();

      // Frozen: the master moves on, the copy does not.
      await sleep(300);
      writing = false;
      await writer;
      expect(written).toBeGreaterThan(writtenAtDetach);
      expect(replyNumber(await staged.call('DBSIZE'))).toBe(size);
      expect(replyText(await staged.call('GET', 'counter'))).toBe(String(counter));
      expect(replyNumber(await staged.call('EXISTS', `w:${written - 1}`))).toBe(0);

      const states = events.map((e) => e.state);
      expect(states[0]).toBe('starting');
      expect(states).toContain('syncing');
      expect(states.indexOf('synced')).toBeGreaterThan(states.indexOf('syncing'));
      expect(states.at(-1)).toBe('detached');
      expect(events.every((e) => e.source === 'idc' && e.node === s.node)).toBe(true);
      const received = events.filter((e) => e.state === 'syncing').at(-1)!;
      expect(received.receivedBytes).toBeGreaterThan(0);
      console.log(
        `staging sync of ${BASE_KEYS} keys: ${syncMs} ms; ${writtenAtDetach - writtenAtStart} writes meanwhile, ` +
          `${writtenAtDetach - counter} of them after the copy's point in time`,
      );
    } finally {
      writing = false;
      await writer;
      writerConn.close();
      staged?.close();
      await master.cli('CONFIG', 'SET', 'rdb-key-save-delay', '0');
      await replica.stop({ keepFiles: false });
    }
    expect(events.at(-1)?.state).toBe('stopped');
  });

  it('names the password when the master refuses the login', async () => {
    const wrong = await stagingFailure(spec(master.port, { master: { host: '127.0.0.1', port: master.port, password: 'not-it' } }));
    expect(wrong.kind).toBe('auth');
    expect(wrong.message).toMatch(/^source idc \(127\.0\.0\.1:\d+\): .*WRONGPASS.*password .*source URL/);
    expect(wrong.message).not.toContain('not-it');

    const none = await stagingFailure(spec(master.port, { master: { host: '127.0.0.1', port: master.port } }));
    expect(none.kind).toBe('auth');
    expect(none.message).toMatch(/NOAUTH.*Put the password in the source URL/);
  });

  it('says stage: direct when the master refuses SYNC and PSYNC', async () => {
    const locked = await startRedis({ args: ['--rename-command', 'SYNC', '', '--rename-command', 'PSYNC', ''] });
    try {
      const events: StagingEvent[] = [];
      const err = await stagingFailure(spec(locked.port, { master: { host: '127.0.0.1', port: locked.port }, onEvent: (e) => events.push(e) }));
      expect(err.kind).toBe('refused');
      expect(err.message).toMatch(/^source idc \(127\.0\.0\.1:\d+\) refuses replication \(ERR unknown command 'SYNC'.*stage: direct/);
      // The replica enters its transfer state for a moment before SYNC's error arrives.
      expect(events.map((e) => e.state).filter((st) => st !== 'syncing')).toEqual(['starting', 'failed', 'stopped']);
    } finally {
      await locked.stop();
    }

    // The same through ACL: a user without +sync/+psync, as managed services hand out.
    await master.cli('ACL', 'SETUSER', 'reader', 'on', '>reader-Pw', '~*', '+@all', '-sync', '-psync');
    const acl = await stagingFailure(spec(master.port, { master: { host: '127.0.0.1', port: master.port, username: 'reader', password: 'reader-Pw' } }));
    expect(acl.kind).toBe('refused');
    expect(acl.message).toMatch(/NOPERM.*stage: direct/);
  });

  it('names an unreachable master once the link stays down, and stops on abort', async () => {
    const port = await freePort();
    const s = spec(port, { node: 'redis-7.idc:6379', master: { host: '127.0.0.1', port }, linkTimeoutMs: 1500 });
    const started = Date.now();
    const err = await stagingFailure(s);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.kind).toBe('unreachable');
    expect(err.message).toMatch(/^source idc \(redis-7\.idc:6379\): .*could not reach the master at 127\.0\.0\.1:\d+ \(for redis-7\.idc:6379\).*Connection refused/);

    const controller = new AbortController();
    const replica = await StagingReplica.start({ ...spec(port, { master: { host: '127.0.0.1', port } }), signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    await expect(replica.waitSynced()).rejects.toMatchObject({ kind: 'aborted' });
    await replica.stop({ keepFiles: false });
  });

  it('stop() ends the process and removes the directory, or keeps the files when asked', async () => {
    const s = spec(master.port);
    const replica = await StagingReplica.start(s);
    await replica.waitSynced();
    expect(isAlive(replica.pid)).toBe(true);
    expect(fs.existsSync(path.join(s.dir, 'redis.log'))).toBe(true);
    await replica.stop({ keepFiles: false });
    expect(isAlive(replica.pid)).toBe(false);
    expect(fs.existsSync(s.dir)).toBe(false);
    await replica.stop({ keepFiles: false }); // idempotent

    const kept = spec(master.port);
    const other = await StagingReplica.start(kept);
    await other.waitSynced();
    await other.detach();
    await other.stop({ keepFiles: true });
    expect(isAlive(other.pid)).toBe(false);
    expect(fs.readdirSync(kept.dir)).toContain('redis.log');
  });

  it('refuses a directory holding files that are not its own', async () => {
    const dir = replicaDir('foreign');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    await expect(StagingReplica.start(spec(master.port, { dir }))).rejects.toThrow(/holds other files \(notes\.txt\)/);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('classifies the replica log lines redis-server 7.0 writes', () => {
    const at = '13221:S 22 Nov 2026 02:05:14.433';
    expect(classifyLogLine(`${at} # MASTER aborted replication with an error: ERR unknown command 'SYNC', with args beginning with: `)?.kind).toBe('refused');
    expect(classifyLogLine(`${at} # MASTER aborted replication with an error: NOAUTH Authentication required.`)?.kind).toBe('auth');
    expect(classifyLogLine(`${at} # MASTER aborted replication with an error: NOMASTERLINK Can't SYNC while not connected with my master`)?.kind).toBe('other');
    expect(classifyLogLine(`${at} # Unable to AUTH to MASTER: -WRONGPASS invalid username-password pair or user is disabled.`)?.kind).toBe('auth');
    expect(classifyLogLine(`${at} # Error condition on socket for SYNC: Connection refused`)).toEqual({ kind: 'unreachable', reason: 'Connection refused' });
    expect(classifyLogLine(`${at} * MASTER <-> REPLICA sync started`)).toBeNull();
  });
});

describe('stagingFit', () => {
  const binary = 'redis-server';
  const version = redisServerVersion(binary);
  const base = { source: 'idc', node: '10.0.0.11:6379', sourceVersion: version, sourceUsedMemory: 1 << 20, binary, binaryVersion: version, dir: path.join(os.tmpdir(), 'ferry-staging-fit', 'idc') };

  it('reads the local redis-server version', () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('fits a small source on the same version, measuring free RAM and disk itself', () => {
    expect(checkStagingFits(base)).toEqual([]);
  });

  it('refuses a local redis-server older than the source', () => {
    const problems = checkStagingFits({ ...base, sourceVersion: '99.0.0' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('source idc (10.0.0.11:6379) runs Redis 99.0.0');
    expect(problems[0]).toContain(`is ${version}`);
    expect(problems[0]).toMatch(/options\.redisServer.*stage: direct/);
    // Only major.minor.patch counts.
    expect(checkStagingFits({ ...base, binaryVersion: '7.2.10', sourceVersion: '7.2.9' })).toEqual([]);
    expect(checkStagingFits({ ...base, binaryVersion: '7.2.4', sourceVersion: '7.2.10' })).toHaveLength(1);
  });

  it('refuses when the copy would not fit in free RAM', () => {
    const problems = checkStagingFits({ ...base, sourceUsedMemory: 2 * 1024 ** 3, freeMemoryBytes: 512 * 1024 ** 2, freeDiskBytes: 1024 ** 4 });
    expect(problems).toEqual([expect.stringMatching(/^source idc \(10\.0\.0\.11:6379\): .*needs about 2\.2 GB .*RAM but only 512\.0 MB is free.*options\.parallel\.staging.*stage: direct/)]);
  });

  it('refuses when the copy would not fit on disk', () => {
    const problems = checkStagingFits({ ...base, sourceUsedMemory: 2 * 1024 ** 3, freeMemoryBytes: 1024 ** 4, freeDiskBytes: 300 * 1024 ** 2 });
    expect(problems).toEqual([expect.stringMatching(/needs about 2\.2 GB .*disk in .* but only 300\.0 MB is free there.*keepStaging.*options\.parallel\.staging.*stage: direct/)]);
  });
});
