// `ferry run --live` in this process against real servers: a full sync through the replication
// stream while a writer keeps writing, then the stream; a cut link resumes with a partial resync;
// `cutover` waits for lag 0 and verify finds the target equal to the source.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent, EngineEventOf } from '../../shared/events.js';
import { EventBus } from '../../main/engine/events/eventBus.js';
import { cutover } from '../../main/engine/live/cutover.js';
import { runLive } from '../../main/engine/live/liveRun.js';
import type { RunResult } from '../../main/engine/run/migration.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import type { Arg } from '../../main/engine/resp/commandEncoder.js';
import { BINARY_KEY, BINARY_VALUE, connectTo, everyTypeCommands, sendAll, UNICODE_KEY } from '../support/dataset.js';
import { jobFromYaml, totalDifferences } from '../support/engineRun.js';
import { startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';
import { makeKeyPair, startSshd, type Sshd } from '../support/sshd.js';

type Job = ReturnType<typeof jobFromYaml>;

interface Following {
  events: EngineEvent[];
  stop(): Promise<RunResult>;
  done: Promise<RunResult>;
}

/** Starts a live run of the job in this process. */
function follow(job: Job, resume = false): Following {
  fs.mkdirSync(job.stateDir, { recursive: true });
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.on((e) => events.push(e));
  const controller = new AbortController();
  const done = runLive(job.loaded, { resume, stateDir: job.stateDir, signal: controller.signal }, bus);
  return {
    events,
    done,
    stop: async () => {
      controller.abort();
      return done;
    },
  };
}

async function untilCaughtUp(job: Job, more: { pauseWritesMs?: number } = {}) {
  const bus = new EventBus();
  return cutover(job.loaded, { stateDir: job.stateDir, ttlToleranceMs: 1500, timeoutMs: 60_000, ...more }, bus);
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const liveEvents = (events: EngineEvent[]) => events.filter((e): e is EngineEventOf<'live'> => e.type === 'live');

/**
 * A writer that keeps changing the source, in three dbs: every type, TTLs (some expiring while the
 * run follows), deletes, MULTI/EXEC, EVAL, binary and unicode keys, and a big string growing.
 */
function startWriter(conns: RedisConnection[]) {
  let running = true;
  let round = 0;
  const loop = (async () => {
    while (running) {
      const r = round++;
      const db = r % conns.length;
      const conn = conns[db];
      const cmds: Arg[][] = [
        ['SET', `w:s:${r % 500}`, `v${r}`],
        ['SET', `w:ttl:${r % 300}`, `t${r}`, 'PX', String(300 + (r % 7) * 200)],
        ['INCRBY', `w:n:${r % 50}`, String(r)],
        ['HSET', `w:h:${r % 40}`, `f${r % 13}`, `hv${r}`],
        ['HDEL', `w:h:${(r + 7) % 40}`, `f${(r + 3) % 13}`],
        ['RPUSH', `w:l:${r % 30}`, `e${r}`, `e${r + 1}`],
        ['LPOP', `w:l:${(r + 11) % 30}`],
        ['SADD', `w:set:${r % 30}`, `m${r % 97}`],
        ['SREM', `w:set:${(r + 5) % 30}`, `m${(r + 1) % 97}`],
        ['ZADD', `w:z:${r % 30}`, String(r % 1000), `zm${r % 61}`],
        ['ZINCRBY', `w:z:${(r + 3) % 30}`, '1.5', `zm${r % 61}`],
        ['XADD', `w:x:${r % 5}`, '*', 'f', `x${r}`],
        ['EXPIRE', `w:s:${(r + 100) % 500}`, String(2 + (r % 5))],
        ['DEL', `w:s:${(r + 250) % 500}`],
        ['PERSIST', `w:s:${(r + 3) % 500}`],
        ['MULTI'],
        ['INCR', `w:tx:a`],
        ['HSET', `w:tx:h`, 'round', String(r)],
        ['EXEC'],
        ['EVAL', "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])", '2', `w:lua:${r % 20}`, `w:lua:count`, `l${r}`],
        ['SET', Buffer.concat([BINARY_KEY, Buffer.from(String(r % 10))]), BINARY_VALUE],
        ['SET', `${UNICODE_KEY}:${r % 10}`, ''],
        ['APPEND', 'w:big', Buffer.alloc(4096, 97 + (r % 26))],
        ['HSET', 'w:bighash', `g${r}`, `v${r}`],
        ['RPUSH', 'w:biglist', `n${r}`],
      ];
      await sendAll(conn, cmds);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return round;
    },
  };
}

describe('live sync of a standalone source', () => {
  let source: RedisServer;
  let target: RedisServer;
  let conns: RedisConnection[];
  beforeAll(async () => {
    // A backlog that holds the writer's output across the cut link (the writer makes about 1 MB/s).
    [source, target] = await Promise.all([startRedis({ args: ['--repl-diskless-sync-delay', '0', '--repl-backlog-size', '32mb'] }), startRedis()]);
    // A dataset large enough that the writer runs during the full sync.
    const seed = await connectTo(source.port, 0);
    await sendAll(seed, everyTypeCommands('seed:', 'v'));
    for (let i = 0; i < 60_000; i += 5000) await sendAll(seed, Array.from({ length: 5000 }, (_, k) => ['SET', `seed:k:${i + k}`, `value-${i + k}`]));
    // Big keys (over the job's bigKey) that the writer keeps growing: a string, a hash, a list.
    await sendAll(seed, [['SET', 'w:big', Buffer.alloc(1 << 20, 120)]]);
    for (let i = 0; i < 6000; i += 1000) {
      await sendAll(seed, [
        ['HSET', 'w:bighash', ...Array.from({ length: 1000 }, (_, k) => [`f${i + k}`, `v${i + k}`]).flat()],
        ['RPUSH', 'w:biglist', ...Array.from({ length: 1000 }, (_, k) => `e${i + k}`)],
      ]);
    }
    seed.close();
    conns = await Promise.all([0, 1, 2].map((db) => connectTo(source.port, db)));
  }, 60_000);
  afterAll(async () => {
    conns?.forEach((c) => c.close());
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('full sync while the source is written to, then the stream; cutover: lag 0, verify equal; a cut link resumes with a partial resync', async () => {
    const job = jobFromYaml(['name: live', 'sources:', `  - { name: src, url: "${source.url}" }`, `target: { url: "${target.url}" }`, 'options: { dbs: { "2": 5 }, bigKey: { bytes: 256kb, elements: 2000 } }'].join('\n'));
    const writer = startWriter(conns);
    const run = follow(job);
    try {
      await waitFor('the stream phase', () => liveEvents(run.events).some((e) => e.phase === 'streaming'), 60_000);
      // The writer goes on while the stream is applied; then the link is cut under it.
      await new Promise((r) => setTimeout(r, 1500));
      const killed = await source.cli('CLIENT', 'KILL', 'TYPE', 'replica');
      expect(Number(killed)).toBe(1);
      await waitFor('a partial resync', () => liveEvents(run.events).some((e) => e.resync === 'partial' && e.phase === 'streaming'), 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      const rounds = await writer.stop();
      expect(rounds).toBeGreaterThan(100);

      // Keys keep expiring on the source (their DELs are changes): the pause holds expiries too.
      const result = await untilCaughtUp(job, { pauseWritesMs: 60_000 });
      expect(result.reason).toBeUndefined();
      expect(result.safe).toBe(true);
      expect(result.verify!.compared).toBeGreaterThan(60_000);
      expect(totalDifferences(result.verify!)).toBe(0);
      // db 2 went to db 5, as the job maps it (keys without a TTL: DBSIZE counts expired keys not yet reclaimed).
      const counters = async (server: RedisServer, db: string) => (await server.cli('-n', db, '--scan', '--pattern', 'w:n:*')).split('\n').filter(Boolean).sort();
      expect(await counters(target, '5')).toEqual(await counters(source, '2'));
      expect((await counters(target, '5')).length).toBeGreaterThan(10);
      // The big keys as they ended: grown by the stream after the full sync.
      expect(Number(await target.cli('HLEN', 'w:bighash'))).toBe(Number(await source.cli('HLEN', 'w:bighash')));
      expect(Number(await target.cli('STRLEN', 'w:big'))).toBeGreaterThan(1 << 20);
      const phases = liveEvents(run.events).map((e) => e.phase);
      expect(phases).toContain('full-sync');
      expect(phases).toContain('reconnecting');
      const last = liveEvents(run.events).at(-1)!;
      expect(last.applied).toBeGreaterThan(rounds);
    } finally {
      await writer.stop();
      const end = await run.stop();
      if (process.env.DEBUG_LIVE) for (const e of run.events) if (e.type !== 'progress' && !(e.type === 'live' && e.phase === 'streaming' && !e.message)) console.log(JSON.stringify(e).slice(0, 300));
      expect(end.message).toMatch(/live sync stopped/);
      expect(end.outcome).toBe('stopped');
    }
  }, 180_000);
});

describe('live sync into a cluster target', () => {
  let source: RedisServer;
  let cluster: RedisCluster;
  beforeAll(async () => {
    [source, cluster] = await Promise.all([startRedis({ args: ['--repl-diskless-sync-delay', '0'] }), startCluster(3)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([source?.stop(), cluster?.stop()]);
  });

  it('multi-key commands across slots (MSET, DEL, RENAME, SUNIONSTORE, MULTI/EXEC) end equal', async () => {
    const seed = await connectTo(source.port, 0);
    await sendAll(seed, everyTypeCommands('seed:', 'v'));
    const job = jobFromYaml(['name: live-cluster', 'sources:', `  - { name: src, url: "${source.url}" }`, `target: { url: "${cluster.url}" }`].join('\n'));
    const run = follow(job);
    try {
      await waitFor('the stream phase', () => liveEvents(run.events).some((e) => e.phase === 'streaming'), 60_000);
      for (let r = 0; r < 50; r++) {
        await sendAll(seed, [
          ['MSET', `a:${r}`, `1-${r}`, `b:${r}`, `2-${r}`, `c:${r}`, `3-${r}`],
          ['SADD', `s1:${r}`, 'x', 'y'],
          ['SADD', `s2:${r}`, 'y', 'z'],
          ['SUNIONSTORE', `su:${r}`, `s1:${r}`, `s2:${r}`],
          ['RENAME', `a:${r}`, `renamed:${r}`],
          ['DEL', `b:${r}`, `s1:${r}`],
          ['MULTI'],
          ['SET', `t1:${r}`, 'one'],
          ['SET', `t2:${r}`, 'two'],
          ['EXEC'],
        ]);
      }
      const result = await untilCaughtUp(job);
      expect(result.reason).toBeUndefined();
      expect(totalDifferences(result.verify!)).toBe(0);
      expect(result.verify!.compared).toBeGreaterThan(250);
    } finally {
      seed.close();
      await run.stop();
    }
  }, 120_000);
});

describe('live sync through a staging replica (stage: replica)', () => {
  let source: RedisServer;
  let target: RedisServer;
  beforeAll(async () => {
    [source, target] = await Promise.all([startRedis({ args: ['--repl-diskless-sync-delay', '0'], password: 'src-Pw-3' }), startRedis()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('the source serves one sync (to the local replica); Ferry follows the replica; writes arrive; cutover is safe', async () => {
    const conn = await connectTo(source.port, 0, 'src-Pw-3');
    await sendAll(conn, everyTypeCommands('staged:', 'v'));
    const job = jobFromYaml(['name: live-staged', 'sources:', `  - { name: src, url: "redis://:src-Pw-3@127.0.0.1:${source.port}", stage: replica }`, `target: { url: "${target.url}" }`].join('\n'));
    const run = follow(job);
    try {
      await waitFor('the stream phase', () => liveEvents(run.events).some((e) => e.phase === 'streaming'), 60_000);
      for (let i = 0; i < 200; i++) await sendAll(conn, [['SET', `after:${i}`, `a${i}`], ['HINCRBY', 'staged:counter', 'n', '1']]);
      const info = await source.cli('-a', 'src-Pw-3', '--no-auth-warning', 'INFO', 'replication');
      // One replica of the source: Ferry's staging replica; Ferry itself reads that replica.
      expect(info).toContain('connected_slaves:1');
      const result = await untilCaughtUp(job);
      expect(result.reason).toBeUndefined();
      expect(totalDifferences(result.verify!)).toBe(0);
      expect(await target.cli('GET', 'after:199')).toBe('a199');
      expect(run.events.some((e) => e.type === 'staging' && e.state === 'synced')).toBe(true);
      expect(run.events.some((e) => e.type === 'staging' && e.state === 'detached')).toBe(false);
    } finally {
      conn.close();
      await run.stop();
    }
    // The staging replica is gone with the run.
    expect(run.events.some((e) => e.type === 'staging' && e.state === 'stopped')).toBe(true);
  }, 120_000);
});

describe('live sync of a cluster source', () => {
  let cluster: RedisCluster;
  let target: RedisServer;
  beforeAll(async () => {
    [cluster, target] = await Promise.all([startCluster(3), startRedis()]);
    await Promise.all(cluster.nodes.map((n) => n.cli('CONFIG', 'SET', 'repl-diskless-sync-delay', '0')));
  }, 60_000);
  afterAll(async () => {
    await Promise.all([cluster?.stop(), target?.stop()]);
  });

  it('one replication link per master, every master streaming; writes on every master arrive', async () => {
    const job = jobFromYaml(['name: live-from-cluster', 'sources:', `  - { name: shards, url: "${cluster.url}" }`, `target: { url: "${target.url}" }`].join('\n'));
    const set = (prefix: string) => Promise.all(Array.from({ length: 300 }, (_, i) => cluster.nodes[i % 3].cli('-c', 'SET', `${prefix}:${i}`, `${prefix[0]}${i}`)));
    await set('before');
    const run = follow(job);
    try {
      await waitFor('every master streaming', () => new Set(liveEvents(run.events).filter((e) => e.phase === 'streaming').map((e) => e.node)).size === 3, 60_000);
      await set('after');
      const result = await untilCaughtUp(job);
      expect(result.reason).toBeUndefined();
      expect(result.nodes.map((n) => n.node).sort()).toHaveLength(3);
      expect(totalDifferences(result.verify!)).toBe(0);
      expect(Number(await target.cli('DBSIZE'))).toBe(600);
    } finally {
      await run.stop();
    }
  }, 120_000);
});

describe('live sync through an SSH tunnel', () => {
  let source: RedisServer;
  let target: RedisServer;
  let sshd: Sshd;
  let dir: string;
  beforeAll(async () => {
    [source, target] = await Promise.all([startRedis({ args: ['--repl-diskless-sync-delay', '0'], password: 'tun-Pw-5' }), startRedis()]);
    dir = fs.mkdtempSync(path.join(target.dir, 'ssh-'));
    sshd = await startSshd({ authorizedKeys: [makeKeyPair(dir, 'id')] });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop(), sshd?.cleanup()]);
  });

  it('the replication link goes through the tunnel (the source sees the SSH server as its replica), writes arrive, cutover is safe', async () => {
    const knownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
    const job = jobFromYaml(
      [
        'name: live-tunnel',
        'tunnels:',
        `  idc: { host: 127.0.0.1, port: ${sshd.port}, user: root, identityFile: "${path.join(dir, 'id')}", knownHosts: "${knownHosts}" }`,
        'sources:',
        `  - { name: far, url: "redis://:tun-Pw-5@127.0.0.1:${source.port}", via: idc }`,
        `target: { url: "${target.url}" }`,
      ].join('\n'),
    );
    await source.cli('-a', 'tun-Pw-5', '--no-auth-warning', 'SET', 'before', '1');
    const run = follow(job);
    try {
      await waitFor('the stream phase', () => liveEvents(run.events).some((e) => e.phase === 'streaming'), 60_000);
      for (let i = 0; i < 50; i++) await source.cli('-a', 'tun-Pw-5', '--no-auth-warning', 'RPUSH', 'list', String(i));
      const result = await untilCaughtUp(job);
      expect(result.reason).toBeUndefined();
      expect(totalDifferences(result.verify!)).toBe(0);
      expect(await target.cli('LLEN', 'list')).toBe('50');
      expect(run.events.some((e) => e.type === 'tunnel' && e.state === 'up')).toBe(true);
      // The replica the source sees is a connection of the SSH server's: the link went through the tunnel.
      const replica = await source.cli('-a', 'tun-Pw-5', '--no-auth-warning', 'CLIENT', 'LIST', 'TYPE', 'replica');
      const port = /addr=127\.0\.0\.1:(\d+)/.exec(replica)?.[1];
      expect(port).toBeDefined();
      const owner = execFileSync('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
      expect(owner).toContain('sshd');
    } finally {
      await run.stop();
    }
  }, 120_000);
});

describe('live sync when the target connection drops', () => {
  let source: RedisServer;
  let target: RedisServer;
  beforeAll(async () => {
    [source, target] = await Promise.all([startRedis({ args: ['--repl-diskless-sync-delay', '0'] }), startRedis()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('waits for the target, reopens it and goes on from the applied offset (a partial resync), nothing lost', async () => {
    const job = jobFromYaml(['name: live-target-drop', 'sources:', `  - { name: src, url: "${source.url}" }`, `target: { url: "${target.url}" }`].join('\n'));
    const conn = await connectTo(source.port, 0);
    const run = follow(job);
    try {
      await waitFor('the stream phase', () => liveEvents(run.events).some((e) => e.phase === 'streaming'), 60_000);
      const writes = (async () => {
        for (let i = 0; i < 400; i++) {
          await sendAll(conn, [['RPUSH', 'seq', String(i)], ['SET', `k:${i}`, `v${i}`]]);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await new Promise((r) => setTimeout(r, 500));
      // Every connection of Ferry's to the target goes (a dropped VPN, as the target sees it).
      await target.cli('CLIENT', 'KILL', 'TYPE', 'normal');
      await writes;
      await waitFor('a partial resync after the drop', () => liveEvents(run.events).some((e) => e.resync === 'partial' && e.phase === 'streaming'), 60_000);
      expect(run.events.some((e) => e.type === 'warning' && /reconnects and continues/.test(e.message))).toBe(true);
      const result = await untilCaughtUp(job);
      // Nothing lost: every SET arrived.
      for (const i of [0, 199, 399]) expect(await target.cli('GET', `k:${i}`)).toBe(`v${i}`);
      // The list in order with no gap. An RPUSH in flight at the drop is applied again: then the
      // warning names the key, and the cut-over's verify shows it (nothing else differs).
      const seq = (await target.cli('LRANGE', 'seq', '0', '-1')).split('\n').map(Number);
      expect([...new Set(seq)]).toEqual(Array.from({ length: 400 }, (_, i) => i));
      const warned = run.events.some((e) => e.type === 'warning' && /not safe to repeat/.test(e.message) && e.message.includes('"seq"'));
      if (seq.length > 400) {
        expect(warned).toBe(true);
        expect(result.verify!.differences.value).toBe(1);
        expect(result.verify!.firstDifferences.map((d) => Buffer.from(d.keyHex, 'hex').toString())).toEqual(['seq']);
      } else {
        expect(result.reason).toBeUndefined();
        expect(totalDifferences(result.verify!)).toBe(0);
      }
    } finally {
      conn.close();
      const end = await run.stop();
      expect(end.outcome).toBe('stopped');
    }
  }, 120_000);
});

describe('live sync of a source that refuses SYNC and PSYNC (the notifications fallback)', () => {
  let source: RedisServer;
  let target: RedisServer;
  beforeAll(async () => {
    // A "managed service": no replication commands; CONFIG allowed, notifications off.
    [source, target] = await Promise.all([startRedis({ args: ['--rename-command', 'PSYNC', '', '--rename-command', 'SYNC', ''] }), startRedis()]);
    const seed = await connectTo(source.port, 0);
    await sendAll(seed, everyTypeCommands('seed:', 'v'));
    for (let i = 0; i < 20_000; i += 5000) await sendAll(seed, Array.from({ length: 5000 }, (_, k) => ['SET', `seed:k:${i + k}`, `value-${i + k}`]));
    seed.close();
  }, 60_000);
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('turns notifications on, bulk-copies while writes go on, follows the changes; a lost notification is repaired at the cut-over; the setting is restored', async () => {
    const conns = await Promise.all([0, 1, 2].map((db) => connectTo(source.port, db)));
    const job = jobFromYaml(['name: live-managed', 'sources:', `  - { name: managed, url: "${source.url}" }`, `target: { url: "${target.url}" }`, 'options: { onConflict: replace, dbs: { "2": 4 } }'].join('\n'));
    const writer = startWriter(conns);
    const run = follow(job);
    try {
      await waitFor('following by notifications', () => liveEvents(run.events).some((e) => e.mode === 'notifications' && e.phase === 'streaming'), 60_000);
      expect(await source.cli('CONFIG', 'GET', 'notify-keyspace-events')).toMatch(/K/);
      expect(run.events.some((e) => e.type === 'warning' && /refuses SYNC and PSYNC/.test(e.message) && /best effort/.test(e.message))).toBe(true);
      await new Promise((r) => setTimeout(r, 1500));
      // A change no notification tells of (as if one was lost): written straight to the target.
      await target.cli('SET', 'seed:k:7', 'damaged');
      await writer.stop();
      const result = await untilCaughtUp(job, { pauseWritesMs: 60_000 });
      expect(result.reason).toBeUndefined();
      expect(result.safe).toBe(true);
      expect(result.repaired).toBeGreaterThanOrEqual(1);
      expect(await target.cli('GET', 'seed:k:7')).toBe('value-7');
      expect(await target.cli('-n', '4', 'GET', 'w:lua:count')).toBe(await source.cli('-n', '2', 'GET', 'w:lua:count'));
    } finally {
      await writer.stop();
      conns.forEach((c) => c.close());
      const end = await run.stop();
      expect(end.outcome).toBe('stopped');
    }
    // Ferry put the source's setting back as it found it.
    expect((await source.cli('CONFIG', 'GET', 'notify-keyspace-events')).trim()).toBe('notify-keyspace-events');
  }, 180_000);
});
