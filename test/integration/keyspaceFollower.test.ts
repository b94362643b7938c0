// The keyspace-notification fallback of live sync, against real servers: notifications turned on
// where CONFIG is allowed (and put back), the exact setting named where it is not, a provider's own
// setting used as it is; and a writer changing every type in several dbs during the bulk copy and
// after it, with the target equal to the source once the follower has drained.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { KeyspaceFollower, missingFlags, NotificationsUnavailableError, notifyFlagsWith, parseKeyspaceChannel, type LostEvents } from '../../main/engine/live/keyspaceFollower.js';
import type { Arg } from '../../main/engine/resp/commandEncoder.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import { replyArray, replyNumber, replyText } from '../../main/engine/resp/reply.js';
import { valuesEqual } from '../../main/engine/values/logicalValue.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { BINARY_KEY, connectTo, everyTypeCommands, sendAll, UNICODE_KEY } from '../support/dataset.js';
import { jobFromYaml, migrate } from '../support/engineRun.js';
import { startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';
import { makeKeyPair, startSshd } from '../support/sshd.js';
import { TunnelSet } from '../../main/engine/tunnels/tunnelSet.js';

const servers: RedisServer[] = [];
const clusters: RedisCluster[] = [];
const closers: Array<{ close(): void }> = [];
afterAll(async () => {
  closers.forEach((c) => c.close());
  await Promise.all([...servers.map((s) => s.stop()), ...clusters.map((c) => c.stop())]);
});

async function server(args: string[] = []): Promise<RedisServer> {
  const s = await startRedis({ args });
  servers.push(s);
  return s;
}
async function conn(port: number, db = 0): Promise<RedisConnection> {
  const c = await connectTo(port, db);
  closers.push(c);
  return c;
}
async function endpoints(sourceUrl: string, targetUrl: string): Promise<[Endpoint, Endpoint]> {
  const [s, t] = await Promise.all([Endpoint.open({ role: 'source', name: 'src', url: sourceUrl }), Endpoint.open({ role: 'target', name: 'target', url: targetUrl })]);
  closers.push(s, t);
  return [s, t];
}
function job(sourceUrl: string, targetUrl: string, options = '') {
  return jobFromYaml(['name: t', 'sources:', `  - { name: src, url: "${sourceUrl}" }`, `target: { url: "${targetUrl}" }`, options ? `options: ${options}` : ''].join('\n'));
}
async function notifySetting(s: RedisServer): Promise<string> {
  return (await s.cli('CONFIG', 'GET', 'notify-keyspace-events')).split('\n')[1] ?? '';
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the follower has drained and `check` holds (notifications travel a little after the writes' replies). */
async function settle(f: KeyspaceFollower, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    await f.drained();
    if (await check()) return;
    if (Date.now() > until) throw new Error('the follower did not settle');
    await sleep(20);
  }
}

describe('notify-keyspace-events flags', () => {
  it('asks for K and every class, and writes the union the way people write it', () => {
    expect(missingFlags('', true)).toEqual([...'Kg$lshzxet']);
    expect(missingFlags('AKE', true)).toEqual([]);
    expect(missingFlags('g$lshzxeK', true)).toEqual(['t']);
    expect(missingFlags('g$lshzxeK', false)).toEqual([]);
    expect(notifyFlagsWith('')).toBe('KA');
    expect(notifyFlagsWith('xE')).toBe('KEA');
    expect(notifyFlagsWith('Em')).toBe('KEAm');
  });

  it('reads db and binary key bytes from the channel name', () => {
    const key = Buffer.concat([BINARY_KEY, Buffer.from('__:x')]);
    expect(parseKeyspaceChannel(Buffer.concat([Buffer.from('__keyspace@12__:'), key]))).toEqual({ db: 12, key });
    expect(parseKeyspaceChannel(Buffer.from('__keyevent@0__:set'))).toBeNull();
  });
});

describe('notifications off, CONFIG allowed', () => {
  it('turns them on (keeping the flags already there), follows changes, and puts the old value back at stop()', async () => {
    const [source, target] = await Promise.all([server(['--notify-keyspace-events', 'Ex']), server()]);
    const [src, tgt] = await endpoints(source.url, target.url);
    const warnings: string[] = [];
    const f = new KeyspaceFollower({ sourceName: 'src', source: src, target: tgt, job: job(source.url, target.url).loaded.job, onWarning: (m) => warnings.push(m) });
    await f.start();
    expect(await notifySetting(source)).toBe('AKE');
    expect(f.settings).toEqual([{ node: `127.0.0.1:${source.port}`, before: 'xE', set: 'KEA' }]);
    expect(warnings.join('\n')).toContain('notify-keyspace-events was "xE"; Ferry set it to "KEA"');
    f.startCopying();
    const s = await conn(source.port);
    const t = await conn(target.port);
    await sendAll(s, [['SET', 'a', '1'], ['RPUSH', 'l', 'x', 'y'], ['SET', 'gone', '1']]);
    await settle(f, async () => replyNumber(await t.call('DBSIZE')) === 3);
    await s.call('DEL', 'gone');
    await settle(f, async () => replyNumber(await t.call('EXISTS', 'gone')) === 0);
    expect(f.counters).toMatchObject({ copied: 3, deleted: 1, errors: 0, pending: 0 });
    expect(f.lagKeys).toBe(0);
    expect(f.oldestPendingMs).toBe(0);
    await f.stop();
    expect(await notifySetting(source)).toBe('xE');
    expect(f.lostEvents).toBe(false);
  });
});

describe('CONFIG refused (renamed away)', () => {
  it('notifications off: fails with the exact setting to ask for, and leaves no probe keys behind', async () => {
    const [source, target] = await Promise.all([server(['--rename-command', 'CONFIG', '']), server()]);
    const [src, tgt] = await endpoints(source.url, target.url);
    const f = new KeyspaceFollower({ sourceName: 'src', source: src, target: tgt, job: job(source.url, target.url).loaded.job });
    const err = await f.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotificationsUnavailableError);
    const e = err as NotificationsUnavailableError;
    expect(e.setting).toBe('KA');
    expect(e.node).toBe(`127.0.0.1:${source.port}`);
    expect(e.message).toContain('set notify-keyspace-events to "KA"');
    expect(e.message).toContain('"Ex" becomes "KEA"');
    expect(await source.cli('DBSIZE')).toBe('0');
  });

  it('notifications set by the provider: works as they are', async () => {
    const [source, target] = await Promise.all([server(['--notify-keyspace-events', 'KEA', '--rename-command', 'CONFIG', '']), server()]);
    const [src, tgt] = await endpoints(source.url, target.url);
    const f = new KeyspaceFollower({ sourceName: 'src', source: src, target: tgt, job: job(source.url, target.url).loaded.job });
    await f.start();
    expect(f.settings).toEqual([]);
    // The probe keys are gone and were not taken for changes.
    expect(await source.cli('DBSIZE')).toBe('0');
    expect(f.lagKeys).toBe(0);
    f.startCopying();
    const s = await conn(source.port);
    const t = await conn(target.port);
    await sendAll(s, [['HSET', 'h', 'f', 'v'], ['SET', 'ttl', 'x', 'PX', 60_000]]);
    await settle(f, async () => replyNumber(await t.call('DBSIZE')) === 2);
    expect(replyNumber(await t.call('PTTL', 'ttl'))).toBeGreaterThan(58_000);
    await f.stop();
  });

  it('some classes missing: names them', async () => {
    const [source, target] = await Promise.all([server(['--notify-keyspace-events', 'K$g', '--rename-command', 'CONFIG', '']), server()]);
    const [src, tgt] = await endpoints(source.url, target.url);
    const f = new KeyspaceFollower({ sourceName: 'src', source: src, target: tgt, job: job(source.url, target.url).loaded.job });
    const err = (await f.start().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(NotificationsUnavailableError);
    expect(err.message).toContain('none arrive for the classes l s h z x t');
  });
});

/**
 * Keeps changing the source in dbs 0-2 until stopped: every type, TTLs long and short (expiring
 * while it runs), PEXPIRE/PERSIST, deletes, renames, binary, unicode and excluded keys, and a big
 * list growing. Key names keep their type, so the bulk copy never meets a key that changed type.
 */
function startWriter(conns: RedisConnection[]): { stop(): Promise<number> } {
  let running = true;
  let commands = 0;
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    // The high bits: an LCG's low bits repeat with short periods.
    return Math.floor((seed / 0x80000000) * n);
  };
  const one = (): Arg[] => {
    const i = rnd(2000);
    const v = `v${rnd(1_000_000)}`;
    switch (rnd(22)) {
      case 0:
        return ['SET', `k:${i}`, v];
      case 1:
        return ['APPEND', `k:${i}`, v];
      case 2:
        return ['DEL', `k:${i}`];
      case 3:
        return ['SET', `k:${i}`, v, 'PX', 50 + rnd(350)];
      case 4:
        return ['SET', `k:${i}`, v, 'PX', 600_000];
      case 5:
        return ['PEXPIRE', `k:${i}`, 100 + rnd(300)];
      case 6:
        return ['PERSIST', `k:${i}`];
      case 7:
        return ['INCR', `n:${i % 200}`];
      case 8:
        return ['RPUSH', `list:${i % 100}`, v];
      case 9:
        return ['LPOP', `list:${i % 100}`];
      case 10:
        return ['SADD', `set:${i % 100}`, v, i];
      case 11:
        return ['SREM', `set:${i % 100}`, i];
      case 12:
        return ['HSET', `hash:${i % 100}`, `f${i % 30}`, v];
      case 13:
        return ['HDEL', `hash:${i % 100}`, `f${i % 30}`];
      case 14:
        return ['ZADD', `zset:${i % 100}`, rnd(1000) / 7, `m${i % 40}`];
      case 15:
        return ['ZREM', `zset:${i % 100}`, `m${i % 40}`];
      case 16:
        return ['XADD', `stream:${i % 20}`, '*', 'f', v];
      case 17:
        return ['SET', Buffer.concat([BINARY_KEY, Buffer.from(String(i % 50))]), Buffer.from([rnd(256), 0, 255])];
      case 18:
        return ['SET', `${UNICODE_KEY}:${i % 50}`, `значение ${v}`];
      case 19:
        return ['SET', `skip:${i}`, v];
      case 20:
        // rename_from / rename_to: both keys change (the source may not exist: an error, ignored).
        return ['RENAME', `k:${i}`, `k:${rnd(2000)}`];
      default:
        return ['RPUSH', 'biglist', ...Array.from({ length: 20 }, (_, n) => `${v}-${n}`)];
    }
  };
  const loops = conns.map(async (c) => {
    while (running) {
      const batch = Array.from({ length: 50 }, one);
      await Promise.all(batch.map((args) => c.call(...args).catch(() => undefined)));
      commands += batch.length;
      await sleep(2);
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return commands;
    },
  };
}

/** Every key of the source db against the target db: same keys (but excluded ones), same values, TTLs within 1 s. */
async function compareDb(src: Endpoint, srcDb: number, tgt: Endpoint, tgtDb: number, exclude: (key: Buffer) => boolean): Promise<{ keys: number; problems: string[] }> {
  await src.useDbs([srcDb]);
  await tgt.useDbs([tgtDb]);
  const scanAll = async (e: Endpoint, db: number) => {
    const keys = new Map<string, Buffer>();
    let cursor = '0';
    do {
      const [next, page] = replyArray(await e.dbConnection(db).call('SCAN', cursor, 'COUNT', 1000));
      cursor = replyText(next);
      for (const k of replyArray(page) as Buffer[]) keys.set(k.toString('hex'), k);
    } while (cursor !== '0');
    return keys;
  };
  const [a, b] = await Promise.all([scanAll(src, srcDb), scanAll(tgt, tgtDb)]);
  const problems: string[] = [];
  for (const [hex, key] of a) if (!exclude(key) && !b.has(hex)) problems.push(`db ${srcDb}: ${key.toString()} missing on the target`);
  for (const [hex, key] of b) if (!a.has(hex)) problems.push(`db ${srcDb}: ${key.toString()} on the target only`);
  const shared = [...a.values()].filter((k) => b.has(k.toString('hex')));
  for (let i = 0; i < shared.length; i += 200) {
    await Promise.all(
      shared.slice(i, i + 200).map(async (key) => {
        const [x, y, ttlA, ttlB] = await Promise.all([readValue(src, srcDb, key), readValue(tgt, tgtDb, key), src.call(srcDb, key, 'PTTL', key), tgt.call(tgtDb, key, 'PTTL', key)]);
        if (x === null || y === null || !valuesEqual(x, y)) problems.push(`db ${srcDb}: ${key.toString()} differs`);
        const [p, q] = [replyNumber(ttlA), replyNumber(ttlB)];
        if ((p < 0) !== (q < 0) || Math.abs(p - q) > 1000) problems.push(`db ${srcDb}: ${key.toString()} TTL ${p} vs ${q}`);
      }),
    );
  }
  return { keys: shared.length, problems };
}

describe('a writer during the bulk copy and after it', () => {
  it('after drained(), the target equals the source in every db (db map, exclude, big keys, TTLs, deletes)', async () => {
    const [source, target] = await Promise.all([server(), server()]);
    const s = [await conn(source.port, 0), await conn(source.port, 1), await conn(source.port, 2)];
    // The bulk: every type (a 16 MB string among them), a big list, a few thousand keys per db.
    await sendAll(s[0], everyTypeCommands());
    await sendAll(s[0], [['RPUSH', 'biglist', ...Array.from({ length: 3000 }, (_, i) => `item-${i}`)]]);
    for (const c of s) for (let i = 0; i < 5000; i += 500) await sendAll(c, Array.from({ length: 500 }, (_, n): Arg[] => ['SET', `k:${i + n}`, `bulk-${i + n}`]));

    const j = job(source.url, target.url, '{ onConflict: replace, dbs: { "2": 5 }, exclude: ["skip:*"], bigKey: { elements: 2000 } }');
    const [src, tgt] = await endpoints(source.url, target.url);
    const lost: LostEvents[] = [];
    const keyErrors: string[] = [];
    const f = new KeyspaceFollower({ sourceName: 'src', source: src, target: tgt, job: j.loaded.job, onLost: (l) => lost.push(l), onKeyError: (_db, key, m) => keyErrors.push(`${key.toString()}: ${m}`) });
    // 1. Subscribed first; 2. the bulk copy while the writer writes; 3. the pending keys, then every change.
    await f.start();
    const writer = startWriter(s);
    const run = await migrate(j);
    expect(run.outcome).toBe('done');
    expect(f.lagKeys).toBeGreaterThan(0);
    f.startCopying();
    await sleep(800);
    const commands = await writer.stop();
    expect(commands).toBeGreaterThan(1000);
    // Short TTLs (< 400 ms) run out; then a marker per db says every notification has arrived.
    await sleep(600);
    await Promise.all(s.map((c) => c.call('SET', 'marker', 'end')));
    const t = { 0: await conn(target.port, 0), 1: await conn(target.port, 1), 5: await conn(target.port, 5) };
    await settle(f, async () => (await Promise.all(Object.values(t).map((c) => c.call('EXISTS', 'marker')))).every((n) => n === 1));

    const excluded = (key: Buffer) => key.toString().startsWith('skip:');
    const results = await Promise.all([compareDb(src, 0, tgt, 0, excluded), compareDb(src, 1, tgt, 1, excluded), compareDb(src, 2, tgt, 5, excluded)]);
    expect(results.flatMap((r) => r.problems)).toEqual([]);
    expect(results.reduce((n, r) => n + r.keys, 0)).toBeGreaterThan(10_000);
    expect(keyErrors).toEqual([]);
    const c = f.counters;
    expect(c.notifications).toBeGreaterThan(1000);
    expect(c.copied).toBeGreaterThan(500);
    expect(c.deleted).toBeGreaterThan(50);
    // The big list grew during the run: copied again in windows.
    expect(c.chunked).toBeGreaterThan(0);
    expect(c.filtered).toBeGreaterThan(0);
    expect(c.errors).toBe(0);
    expect(f.lagKeys).toBe(0);
    expect(lost).toEqual([]);
    await f.stop();
    expect(await notifySetting(source)).toBe('');
  });
});

describe('a cluster source', () => {
  it('subscribes on every master and follows keys of every slot', async () => {
    const cluster = await startCluster(3);
    clusters.push(cluster);
    const target = await server();
    const [src, tgt] = await endpoints(cluster.url, target.url);
    const f = new KeyspaceFollower({ sourceName: 'src', source: src, target: tgt, job: job(cluster.url, target.url).loaded.job });
    await f.start();
    expect(f.settings.map((x) => x.node).sort()).toEqual(cluster.nodes.map((n) => `127.0.0.1:${n.port}`).sort());
    f.startCopying();
    // Each key written on the master that serves its slot.
    for (let i = 0; i < 300; i++) await src.call(0, Buffer.from(`c:${i}`), 'SET', `c:${i}`, String(i));
    const t = await conn(target.port);
    await settle(f, async () => replyNumber(await t.call('DBSIZE')) === 300);
    expect(replyText(await t.call('GET', 'c:299'))).toBe('299');
    await f.stop();
    for (const n of cluster.nodes) expect(await notifySetting(n)).toBe('');
  });
});

describe('a lost subscription', () => {
  it('is reported with its time, and the follower subscribes again', async () => {
    const [source, target] = await Promise.all([server(), server()]);
    const [src, tgt] = await endpoints(source.url, target.url);
    const lost: LostEvents[] = [];
    const f = new KeyspaceFollower({ sourceName: 'src', source: src, target: tgt, job: job(source.url, target.url).loaded.job, onLost: (l) => lost.push(l) });
    await f.start();
    f.startCopying();
    const before = Date.now();
    // What a pubsub output-buffer limit does to a slow subscriber.
    await source.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const until = Date.now() + 10_000;
    while (!f.lostEvents && Date.now() < until) await sleep(10);
    expect(f.lostEvents).toBe(true);
    expect(f.lost!.at).toBeGreaterThanOrEqual(before);
    expect(lost).toHaveLength(1);
    expect(lost[0].node).toBe(`127.0.0.1:${source.port}`);
    while (!f.subscribed && Date.now() < until) await sleep(10);
    expect(f.subscribed).toBe(true);
    const s = await conn(source.port);
    const t = await conn(target.port);
    await s.call('SET', 'after', '1');
    await settle(f, async () => replyNumber(await t.call('EXISTS', 'after')) === 1);
    await f.stop();
  });
});

describe('a source behind an SSH tunnel, with a password', () => {
  it('subscribes through the forward; a link gone quiet is noticed by the heartbeat, and the follower subscribes again', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-kf-ssh-'));
    const key = makeKeyPair(dir, 'id_ed25519');
    const [sshd, source, target] = await Promise.all([startSshd({ authorizedKeys: [key] }), startRedis({ password: 'src-pw' }), server()]);
    servers.push(source);
    const knownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
    try {
      const j = jobFromYaml(
        [
          'name: t',
          'tunnels:',
          `  idc: { host: "127.0.0.1", port: ${sshd.port}, user: root, identityFile: "${key.privateKeyPath}", knownHosts: "${knownHosts}" }`,
          'sources:',
          `  - { name: src, url: "${source.url}", via: idc }`,
          `target: { url: "${target.url}" }`,
        ].join('\n'),
      );
      const set = await TunnelSet.open(j.loaded.job, { ownKnownHosts: path.join(dir, 'ferry-known'), sshConfigFile: path.join(dir, 'no-ssh-config') });
      closers.push(set);
      const src = await Endpoint.open({ role: 'source', name: 'src', url: source.url, route: set.route('idc') });
      const tgt = await Endpoint.open({ role: 'target', name: 'target', url: target.url });
      closers.push(src, tgt);
      expect(src.localAddressOf('127.0.0.1', source.port).port).not.toBe(source.port);
      const lost: LostEvents[] = [];
      const f = new KeyspaceFollower({ sourceName: 'src', source: src, target: tgt, job: j.loaded.job, heartbeatMs: 300, onLost: (l) => lost.push(l) });
      await f.start();
      f.startCopying();
      const s = await connectTo(source.port, 0, 'src-pw');
      closers.push(s);
      const t = await conn(target.port);
      await s.call('SET', 'before', '1');
      await settle(f, async () => replyNumber(await t.call('EXISTS', 'before')) === 1);
      // A vanished network: the tunnel's connections go quiet, nothing is reset.
      sshd.freeze();
      try {
        const until = Date.now() + 10_000;
        while (!f.lostEvents && Date.now() < until) await sleep(20);
      } finally {
        sshd.thaw();
      }
      expect(lost).toEqual([expect.objectContaining({ node: `127.0.0.1:${source.port}`, reason: expect.stringMatching(/no answer to PING/) })]);
      const until = Date.now() + 10_000;
      while (!f.subscribed && Date.now() < until) await sleep(20);
      expect(f.subscribed).toBe(true);
      await s.call('SET', 'after', '1');
      await settle(f, async () => replyNumber(await t.call('EXISTS', 'after')) === 1);
      await f.stop();
      expect(replyText(replyArray(await s.call('CONFIG', 'GET', 'notify-keyspace-events'))[1])).toBe('');
    } finally {
      await sshd.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
