import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointFacts, PROBED_COMMANDS } from '../../shared/plan.js';
import { probeEndpoint, type EndpointProbe } from '../../main/engine/plan/probeEndpoint.js';
import { replyArray, replyText, type Reply } from '../../main/engine/resp/reply.js';
import type { EndpointSpec } from '../../main/engine/endpoints/endpoint.js';
import { connectTo, sendAll } from '../support/dataset.js';
import { freePort, startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';

/**
 * probeEndpoint against real servers. The point of every test: probing writes nothing. Before and
 * after each probe the test reads INFO commandstats, the dirty counter, DBSIZE and the key names of
 * every server involved, and checks that no command flagged `write` (by COMMAND on the same Redis
 * version) ran, nor SYNC / PSYNC / REPLICAOF / MIGRATE / RESTORE / CONFIG SET.
 */

let plain: RedisServer;
let renamed: RedisServer;
let acl: RedisServer;
let locked: RedisServer;
let cluster: RedisCluster;
/** Command name (lower case, `container|sub` for subcommands) → its COMMAND flags. */
let flagsOf: Map<string, string[]>;

const WRONG = 'wrong-Pw-4711';
const RIGHT = 'right-Pw-0815';
/** Commands that are not flagged `write` but must never run during a dry run either. */
const NEVER = ['sync', 'psync', 'replicaof', 'slaveof', 'migrate', 'restore', 'config|set', 'config|rewrite', 'config|resetstat', 'flushall', 'flushdb', 'failover', 'shutdown'];

beforeAll(async () => {
  [plain, renamed, acl, locked, cluster] = await Promise.all([
    startRedis({ args: ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] }),
    startRedis({ args: ['--rename-command', 'CONFIG', '', '--rename-command', 'SYNC', '', '--rename-command', 'PSYNC', ''] }),
    startRedis(),
    startRedis({ password: RIGHT }),
    startCluster(3),
  ]);
  flagsOf = await commandFlags(plain.port);

  const c0 = await connectTo(plain.port, 0);
  const c1 = await connectTo(plain.port, 1);
  await sendAll(c0, [['SET', 'a', '1'], ['SET', 'b', '2'], ['SET', 'c', '3', 'EX', 3600], ['HSET', 'h', 'f', 'v'], ['EXPIRE', 'h', 7200]]);
  await sendAll(c1, [['SET', 'one', '1']]);
  c0.close();
  c1.close();
  for (const server of [renamed, acl]) await server.cli('SET', 'present', 'yes');

  // The brief's restricted user, one that may subscribe (so the subscribed-mode probe can answer),
  // one without MULTI (RESTORE known only by an invalid payload), and one that may only read.
  await acl.cli('ACL', 'SETUSER', 'mover', 'on', '>pw', '~*', '+@all', '-@admin', '-dump', '-sync', '-psync');
  await acl.cli('ACL', 'SETUSER', 'relay', 'on', '>pw', '~*', '&*', '+@all', '-@admin', '+psync', '-sync');
  await acl.cli('ACL', 'SETUSER', 'nomulti', 'on', '>pw', '~*', '+@all', '-@admin', '-multi');
  await acl.cli('ACL', 'SETUSER', 'reader', 'on', '>pw', '~*', '+@read', '+@connection', '+info', '+time', '+command');

  for (let i = 0; i < 12; i++) await cluster.nodes[0].cli('-c', 'SET', `user:${i}`, `v${i}`, ...(i % 3 === 0 ? ['EX', '3600'] : []));
});

afterAll(async () => {
  await Promise.all([plain, renamed, acl, locked, cluster].map((s) => s?.stop()));
});

// ---------------------------------------------------------------------------------------------
// "Nothing written": snapshots of what a write would change.

async function commandFlags(port: number): Promise<Map<string, string[]>> {
  const conn = await connectTo(port);
  try {
    const out = new Map<string, string[]>();
    const add = (entry: Reply) => {
      const e = replyArray(entry);
      out.set(replyText(e[0]).toLowerCase(), replyArray(e[2]).map((f) => replyText(f)));
      if (Array.isArray(e[9])) e[9].forEach(add);
    };
    replyArray(await conn.call('COMMAND')).forEach(add);
    return out;
  } finally {
    conn.close();
  }
}

interface Snapshot {
  calls: Map<string, { calls: number; failed: number }>;
  dirty: number;
  keys: string[];
}

async function snapshot(server: RedisServer): Promise<Snapshot> {
  const calls = new Map<string, { calls: number; failed: number }>();
  for (const line of (await server.cli('INFO', 'commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),.*failed_calls=(\d+)/.exec(line.trim());
    if (m) calls.set(m[1], { calls: Number(m[2]), failed: Number(m[3]) });
  }
  const dirty = Number(/rdb_changes_since_last_save:(\d+)/.exec(await server.cli('INFO', 'persistence'))?.[1]);
  const keys: string[] = [];
  for (const db of [0, 1]) {
    if (db === 1 && (await server.cli('INFO', 'server')).includes('redis_mode:cluster')) continue;
    keys.push(`dbsize ${db}: ${await server.cli('-n', String(db), 'DBSIZE')}`);
    keys.push(...(await server.cli('-n', String(db), 'KEYS', '*')).split('\n').filter(Boolean).map((k) => `${db}:${k}`).sort());
  }
  return { calls, dirty, keys };
}

/** Commands that ran (not merely refused) between two snapshots, with how many of them failed. */
function ran(before: Snapshot, after: Snapshot): Array<{ name: string; calls: number; failed: number }> {
  const out: Array<{ name: string; calls: number; failed: number }> = [];
  for (const [name, now] of after.calls) {
    const was = before.calls.get(name) ?? { calls: 0, failed: 0 };
    if (now.calls > was.calls) out.push({ name, calls: now.calls - was.calls, failed: now.failed - was.failed });
  }
  return out;
}

/**
 * Probes `spec` and checks that nothing was written to any of `servers`. `failedWritesAllowed`:
 * write commands may have run only if every one of them failed (the RESTORE-of-garbage layer).
 */
async function probeWritingNothing(spec: EndpointSpec, servers: RedisServer[], failedWritesAllowed = false): Promise<EndpointProbe> {
  const before = await Promise.all(servers.map(snapshot));
  const probe = await probeEndpoint(spec);
  const after = await Promise.all(servers.map(snapshot));
  servers.forEach((_, i) => {
    const commands = ran(before[i], after[i]);
    for (const { name, calls, failed } of commands) {
      const flags = flagsOf.get(name);
      expect(flags, `flags of ${name}`).toBeDefined();
      if (flags!.includes('write')) {
        expect(failedWritesAllowed && failed === calls, `write command ${name} ran ${calls}× (${failed} failed)`).toBe(true);
      }
      if (!(failedWritesAllowed && name === 'restore' && failed === calls)) expect(NEVER, `${name} ran`).not.toContain(name);
    }
    expect(after[i].dirty, 'rdb_changes_since_last_save').toBe(before[i].dirty);
    expect(after[i].keys).toEqual(before[i].keys);
  });
  // The contract's schema holds, and no password is anywhere in it.
  expect(() => EndpointFacts.parse(probe.facts)).not.toThrow();
  for (const secret of ['pw@', ':pw', WRONG, RIGHT]) expect(JSON.stringify(probe.facts)).not.toContain(secret);
  return probe;
}

/** The probe's own connections (MULTI, subscribed) are gone once it returns. */
async function expectNoProbeConnectionsLeft(server: RedisServer): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const clients = (await server.cli('CLIENT', 'LIST')).split('\n');
    const leftovers = clients.filter((c) => !/ sub=0 /.test(c) || !/ multi=-1 /.test(c));
    if (leftovers.length === 0) return;
    if (Date.now() > deadline) expect(leftovers).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const url = (server: RedisServer, user?: string) => (user ? `redis://${user}:pw@127.0.0.1:${server.port}` : server.url);
const allowedEverything = Object.fromEntries(PROBED_COMMANDS.map((c) => [c, 'allowed']));

// ---------------------------------------------------------------------------------------------

describe('probeEndpoint on a plain server', () => {
  it('reads every fact, finds every command allowed, and writes nothing', async () => {
    const { facts, endpoint, evidence } = await probeWritingNothing({ role: 'source', name: 'plain', url: plain.url }, [plain]);
    try {
      expect(endpoint).not.toBeNull();
      expect(facts).toMatchObject({
        role: 'source',
        name: 'plain',
        address: `127.0.0.1:${plain.port}`,
        reachable: true,
        version: /redis_version:(\S+)/.exec(await plain.cli('INFO', 'server'))![1],
        rdbVersion: 10,
        mode: 'standalone',
        nodes: [],
        maxmemory: 64 * 1024 * 1024,
        maxmemoryPolicy: 'allkeys-lru',
        notifyKeyspaceEvents: '',
        commands: allowedEverything,
      });
      expect(facts.error).toBeUndefined();
      expect(facts.rttMs).toBeGreaterThan(0);
      expect(facts.usedMemory).toBeGreaterThan(0);
      expect(facts.keyspace).toEqual([
        { db: 0, keys: 4, expires: 2 },
        { db: 1, keys: 1, expires: 0 },
      ]);
      // On 7.0 with the default user, ACL DRYRUN answers for what is never run.
      for (const name of ['SYNC', 'PSYNC', 'REPLICAOF', 'RESTORE', 'MIGRATE']) expect(evidence[name]).toBe('ACL DRYRUN: OK');
      expect(facts.decisions.join('\n')).toMatch(/^PSYNC allowed: a staging replica/m);
      expect(facts.decisions.join('\n')).not.toMatch(/notify-keyspace-events/);
      // The endpoint is handed over open and usable.
      expect(replyText(await endpoint!.command('PING'))).toBe('PONG');
    } finally {
      endpoint?.close();
    }
    await expectNoProbeConnectionsLeft(plain);
  });

  it('as a target: warns that an evicting maxmemory-policy may evict keys', async () => {
    const { facts, endpoint } = await probeWritingNothing({ role: 'target', name: 'target', url: plain.url }, [plain]);
    endpoint?.close();
    expect(facts.decisions).toContain('maxmemory-policy allkeys-lru on the target: keys may be evicted during the move');
    expect(facts.decisions.join('\n')).not.toMatch(/RESTORE|PSYNC/);
  });
});

describe('probeEndpoint on a server with CONFIG, SYNC and PSYNC renamed away', () => {
  it('finds them refused, reads memory from INFO alone, and says what that means', async () => {
    const { facts, endpoint, evidence } = await probeWritingNothing({ role: 'source', name: 'managed', url: renamed.url }, [renamed]);
    endpoint?.close();
    expect(facts.reachable).toBe(true);
    expect(facts.commands).toMatchObject({ CONFIG: 'refused', SYNC: 'refused', PSYNC: 'refused', DUMP: 'allowed', SCAN: 'allowed', MEMORY: 'allowed', RESTORE: 'allowed' });
    expect(evidence.CONFIG).toMatch(/absent from COMMAND INFO/);
    expect(facts.notifyKeyspaceEvents).toBeNull();
    expect(facts.maxmemory).toBe(0);
    expect(facts.maxmemoryPolicy).toBe('noeviction');
    expect(facts.keyspace).toEqual([{ db: 0, keys: 1, expires: 0 }]);
    expect(facts.decisions).toContain('SYNC and PSYNC refused: the source will be read by SCAN + DUMP (stage: replica cannot be used); ferry run --live follows it by keyspace notifications, best effort, and the cut-over verifies and repairs every key');
    expect(facts.decisions.join('\n')).toMatch(/notify-keyspace-events cannot be read \(CONFIG refused\)/);
    await expectNoProbeConnectionsLeft(renamed);
  });
});

describe('probeEndpoint as an ACL user', () => {
  it("the brief's user (-@admin -dump -sync -psync): refused where known, unknown where it cannot be told", async () => {
    const { facts, endpoint, evidence } = await probeWritingNothing({ role: 'source', name: 'acl', url: url(acl, 'mover') }, [acl]);
    endpoint?.close();
    expect(facts.reachable).toBe(true);
    expect(facts.commands).toEqual({
      SYNC: 'unknown', // no ACL DRYRUN, no_multi, and no channel to subscribe to
      PSYNC: 'unknown',
      REPLICAOF: 'refused',
      CONFIG: 'refused',
      DUMP: 'refused',
      RESTORE: 'allowed',
      MEMORY: 'allowed',
      SCAN: 'allowed',
      MIGRATE: 'allowed',
    });
    expect(evidence.RESTORE).toMatch(/queued in MULTI/);
    expect(evidence.REPLICAOF).toMatch(/NOPERM/);
    expect(facts.notifyKeyspaceEvents).toBeNull();
    // INFO still gives memory (no CONFIG needed).
    expect(facts.maxmemory).toBe(0);
    expect(facts.decisions).toContain('DUMP refused: Ferry cannot read this source');
    expect(facts.decisions.join('\n')).toMatch(/SYNC and PSYNC could not be checked/);
    await expectNoProbeConnectionsLeft(acl);
  });

  it('a user that may subscribe: SYNC and PSYNC told apart in subscribed mode, without running them', async () => {
    const { facts, endpoint, evidence } = await probeWritingNothing({ role: 'source', name: 'acl', url: url(acl, 'relay') }, [acl]);
    endpoint?.close();
    expect(facts.commands.SYNC).toBe('refused');
    expect(facts.commands.PSYNC).toBe('allowed');
    expect(evidence.PSYNC).toMatch(/sent while subscribed: .*allowed in this context/);
    expect(evidence.SYNC).toMatch(/sent while subscribed: NOPERM/);
    expect(facts.decisions.join('\n')).toMatch(/^PSYNC allowed/m);
    await expectNoProbeConnectionsLeft(acl);
  });

  it('a user without MULTI: RESTORE is known from an invalid payload that fails its checksum, and nothing is written', async () => {
    const { facts, endpoint, evidence } = await probeWritingNothing({ role: 'target', name: 'target', url: url(acl, 'nomulti') }, [acl], true);
    endpoint?.close();
    expect(facts.commands.RESTORE).toBe('allowed');
    expect(evidence.RESTORE).toMatch(/invalid payload: .*checksum/);
    expect(facts.decisions.join('\n')).not.toMatch(/RESTORE/);
  });

  it('a read-only user, refused even ACL WHOAMI, MULTI and SUBSCRIBE: no crash, RESTORE refused', async () => {
    const { facts, endpoint, evidence } = await probeWritingNothing({ role: 'target', name: 'target', url: url(acl, 'reader') }, [acl]);
    endpoint?.close();
    expect(facts.reachable).toBe(true);
    expect(facts.commands).toEqual({
      SYNC: 'unknown',
      PSYNC: 'unknown',
      // No layer can tell for these without running them.
      REPLICAOF: 'unknown',
      MIGRATE: 'unknown',
      CONFIG: 'refused',
      DUMP: 'allowed',
      RESTORE: 'refused',
      MEMORY: 'allowed',
      SCAN: 'allowed',
    });
    expect(evidence.RESTORE).toMatch(/invalid payload: NOPERM/);
    expect(facts.decisions).toContain('RESTORE refused: Ferry cannot write to this target');
    await expectNoProbeConnectionsLeft(acl);
  });
});

describe('probeEndpoint on endpoints it cannot use', () => {
  it('a wrong password: not reachable, the error names the endpoint and the fix, and no password anywhere', async () => {
    const wrongUrl = `redis://:${WRONG}@127.0.0.1:${locked.port}`;
    const { facts, endpoint } = await probeWritingNothing({ role: 'source', name: 'locked', url: wrongUrl }, [locked]);
    expect(endpoint).toBeNull();
    expect(facts.reachable).toBe(false);
    expect(facts.address).toBe(`127.0.0.1:${locked.port}`);
    expect(facts.error).toMatch(new RegExp(`source locked \\(127\\.0\\.0\\.1:${locked.port}\\): authentication failed.*check the user and password in the URL`));
    expect(facts.rttMs).toBeNull();
    expect(Object.values(facts.commands).every((v) => v === 'unknown')).toBe(true);
    expect(facts.decisions).toEqual(['not reachable: nothing of this source can be read or planned until the connection works']);
  });

  it('no password at all: says the server requires one', async () => {
    const { facts } = await probeWritingNothing({ role: 'target', name: 'target', url: `redis://127.0.0.1:${locked.port}` }, [locked]);
    expect(facts.reachable).toBe(false);
    expect(facts.error).toMatch(/target \(127\.0\.0\.1:\d+\): the server requires a password/);
  });

  it('a port where nothing listens: not reachable, connection refused', async () => {
    const port = await freePort();
    const { facts, endpoint } = await probeEndpoint({ role: 'target', name: 'target', url: `redis://:${WRONG}@127.0.0.1:${port}` });
    expect(endpoint).toBeNull();
    expect(facts).toMatchObject({ reachable: false, address: `127.0.0.1:${port}`, version: null, mode: null, nodes: [], keyspace: [] });
    expect(facts.error).toMatch(/target \(127\.0\.0\.1:\d+\): cannot connect .*connection refused/);
    expect(JSON.stringify(facts)).not.toContain(WRONG);
    expect(facts.decisions).toEqual(['not reachable: nothing can be written or checked on the target until the connection works']);
  });

  it('a bad URL: not reachable, says why', async () => {
    const { facts } = await probeEndpoint({ role: 'source', name: 'typo', url: 'http://user:secret@host' });
    expect(facts.reachable).toBe(false);
    expect(facts.error).toMatch(/source typo: bad URL/);
    expect(JSON.stringify(facts)).not.toContain('secret');
  });
});

describe('probeEndpoint on a 3-master cluster', () => {
  it('lists every master with its slots and memory, and writes nothing on any node', async () => {
    const { facts, endpoint, evidence } = await probeWritingNothing({ role: 'target', name: 'target', url: cluster.url, cluster: true }, cluster.nodes);
    try {
      expect(facts.mode).toBe('cluster');
      expect(facts.nodes).toHaveLength(3);
      expect(facts.nodes.map((n) => n.address).sort()).toEqual(cluster.nodes.map((n) => `127.0.0.1:${n.port}`).sort());
      expect(facts.nodes.reduce((sum, n) => sum + n.slots, 0)).toBe(16384);
      for (const node of facts.nodes) {
        expect(node.slots).toBeGreaterThan(5000);
        expect(node.usedMemory).toBeGreaterThan(0);
        expect(node.maxmemory).toBe(0);
      }
      expect(facts.usedMemory).toBe(facts.nodes.reduce((sum, n) => sum + n.usedMemory!, 0));
      expect(facts.maxmemory).toBe(0);
      expect(facts.keyspace).toEqual([{ db: 0, keys: 12, expires: 4 }]);
      expect(facts.commands).toEqual(allowedEverything);
      expect(evidence.DUMP).toBe('ran harmlessly');
      expect(facts.decisions).toContain('cluster with 3 masters: keys routed by slot, one pipeline per master');
      expect(endpoint!.isCluster).toBe(true);
    } finally {
      endpoint?.close();
    }
    for (const node of cluster.nodes) await expectNoProbeConnectionsLeft(node);
  });
});
