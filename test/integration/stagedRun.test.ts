// Runs with `stage: replica`: every source is synced once into a local redis-server, detached
// (a frozen copy), migrated from it, verified against it, and cleaned up.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../shared/events.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import { connectTo, everyTypeCommands, EVERY_TYPE_KEYS, sendAll } from '../support/dataset.js';
import { jobFromYaml, migrate, totalDifferences, verify } from '../support/engineRun.js';
import { startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';
import { makeKeyPair, startSshd, type Sshd } from '../support/sshd.js';

let target: RedisServer;
beforeAll(async () => {
  target = await startRedis();
});
afterAll(async () => {
  await target?.stop();
});

/** redis-server processes whose command line points into `dir` (the staging servers of a run). */
function serversUnder(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes('redis-server') && line.includes(dir));
}

function stagingEvents(events: EngineEvent[]) {
  return events.filter((e): e is Extract<EngineEvent, { type: 'staging' }> => e.type === 'staging');
}

async function fill(port: number, prefix: string, n: number, password?: string): Promise<void> {
  const conn = await connectTo(port, 0, password);
  await sendAll(conn, everyTypeCommands(`${prefix}:`, 'v'));
  for (let i = 0; i < n; i += 5000) await sendAll(conn, Array.from({ length: Math.min(5000, n - i) }, (_, k) => ['SET', `${prefix}:k:${i + k}`, `value-${i + k}`]));
  conn.close();
}

describe('a staged source that keeps receiving writes', () => {
  let source: RedisServer;
  let sshd: Sshd;
  let dir: string;
  beforeAll(async () => {
    source = await startRedis({ password: 'src-Pw-9' });
    await fill(source.port, 'live', 30_000, 'src-Pw-9');
    dir = fs.mkdtempSync(path.join(target.dir, 'ssh-'));
    sshd = await startSshd({ authorizedKeys: [makeKeyPair(dir, 'id')] });
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), sshd?.cleanup()]);
  });

  it('syncs once through its tunnel, detaches, migrates the frozen copy, verifies against it and cleans up', async () => {
    await target.cli('FLUSHALL');
    const knownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n`);
    // A writer on the live source for the whole run: the copy must stay frozen at its sync point.
    const writer: RedisConnection = await connectTo(source.port, 0, 'src-Pw-9');
    let writing = true;
    let written = 0;
    const loop = (async () => {
      while (writing) {
        await sendAll(writer, Array.from({ length: 200 }, (_, i) => ['SET', `later:${written + i}`, 'x']));
        written += 200;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const j = jobFromYaml(
      [
        'name: staged',
        'tunnels:',
        `  idc: { host: 127.0.0.1, port: ${sshd.port}, user: root, identityFile: "${path.join(dir, 'id')}", knownHosts: "${knownHosts}" }`,
        'sources:',
        `  - { name: legacy, url: "redis://:src-Pw-9@127.0.0.1:${source.port}", via: idc, stage: replica }`,
        `target: { url: "${target.url}" }`,
      ].join('\n'),
    );
    let run;
    try {
      run = await migrate(j, false, { tunnels: { ownKnownHosts: path.join(dir, 'own'), sshConfigFile: path.join(dir, 'none') } });
    } finally {
      writing = false;
      await loop;
      writer.close();
    }
    expect(run.message).toBeUndefined();
    expect(run.outcome).toBe('done');
    const states = stagingEvents(run.events).map((e) => e.state);
    expect(states[0]).toBe('starting');
    expect(states).toContain('synced');
    expect(states).toContain('detached');
    expect(states.at(-1)).toBe('stopped');
    expect(states.indexOf('detached')).toBeGreaterThan(states.indexOf('synced'));
    // Verified inside the run against the frozen copy: every key compared, none differs.
    expect(run.verified).toBeDefined();
    expect(run.verified!.differences).toBe(0);
    expect(run.verified!.compared).toBe(run.counts.written);
    const base = 30_000 + EVERY_TYPE_KEYS;
    expect(run.counts.written).toBeGreaterThanOrEqual(base);
    // The live source went on; the target holds the copy's point in time, not the source's present.
    expect(written).toBeGreaterThan(0);
    expect(Number(await target.cli('DBSIZE'))).toBe(run.counts.written);
    expect(Number(await source.cli('DBSIZE'))).toBe(base + written);
    expect(run.counts.written).toBeLessThan(base + written);
    // Clean: no staging server left, no staging files.
    expect(serversUnder(j.stateDir)).toEqual([]);
    expect(fs.readdirSync(path.join(j.stateDir, 'staging')).flatMap((s) => fs.readdirSync(path.join(j.stateDir, 'staging', s)))).toEqual([]);
  }, 60_000);
});

describe('five staged sources, two syncs at a time', () => {
  let sources: RedisServer[];
  beforeAll(async () => {
    sources = await Promise.all(Array.from({ length: 5 }, () => startRedis()));
    await Promise.all(sources.map((s, i) => fill(s.port, `s${i}`, 3000)));
  });
  afterAll(async () => {
    await Promise.all(sources.map((s) => s.stop()));
  });

  it('never syncs more than options.parallel.staging at once, merges all five, leaves nothing behind', async () => {
    await target.cli('FLUSHALL');
    const j = jobFromYaml(
      [
        'name: five',
        'sources:',
        ...sources.map((s, i) => `  - { name: s${i}, url: "${s.url}", stage: replica }`),
        `target: { url: "${target.url}" }`,
        'options: { parallel: { sources: 5, staging: 2 } }',
      ].join('\n'),
    );
    const run = await migrate(j);
    expect(run.message).toBeUndefined();
    expect(run.outcome).toBe('done');
    expect(run.counts.written).toBe(5 * (3000 + EVERY_TYPE_KEYS));
    expect(run.verified?.differences).toBe(0);
    // Syncs in flight: from 'starting' to 'detached' of each replica.
    let inFlight = 0;
    let most = 0;
    for (const e of stagingEvents(run.events)) {
      if (e.state === 'starting') most = Math.max(most, ++inFlight);
      if (e.state === 'detached' || e.state === 'failed') inFlight--;
    }
    expect(most).toBe(2);
    expect(new Set(stagingEvents(run.events).filter((e) => e.state === 'detached').map((e) => e.source)).size).toBe(5);
    expect(serversUnder(j.stateDir)).toEqual([]);
  }, 60_000);
});

describe('a staged cluster source', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startCluster(3);
    const seed = await Endpoint.open({ role: 'target', name: 'seed', url: cluster.url });
    for (let i = 0; i < 3000; i++) seed.send(0, Buffer.from(`c:${i}`), ['SET', `c:${i}`, `v${i}`], () => undefined);
    await seed.drain();
    seed.close();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('gets one staging replica per master, and the copy verifies equal', async () => {
    await target.cli('FLUSHALL');
    const j = jobFromYaml(['name: staged-cluster', 'sources:', `  - { name: old, url: "${cluster.url}", stage: replica }`, `target: { url: "${target.url}" }`].join('\n'));
    const run = await migrate(j);
    expect(run.message).toBeUndefined();
    expect(run.counts.written).toBe(3000);
    const detached = stagingEvents(run.events).filter((e) => e.state === 'detached').map((e) => e.node);
    expect(new Set(detached)).toEqual(new Set(cluster.nodes.map((n) => `127.0.0.1:${n.port}`)));
    expect(run.verified).toEqual({ compared: 3000, differences: 0 });
    // ferry verify on its own compares with the live cluster (unchanged here) and says so.
    const check = await verify(j);
    expect(totalDifferences(check)).toBe(0);
    expect(check.events.some((e) => e.type === 'warning' && e.message.includes('stage: replica'))).toBe(true);
  }, 60_000);
});

describe('refusals', () => {
  it('a source that refuses SYNC is named, with stage: direct as the way out, and nothing is left', async () => {
    const locked = await startRedis({ args: ['--rename-command', 'SYNC', '', '--rename-command', 'PSYNC', ''] });
    try {
      await fill(locked.port, 'locked', 100);
      const j = jobFromYaml(['name: refused', 'sources:', `  - { name: managed, url: "${locked.url}", stage: replica }`, `target: { url: "${target.url}" }`].join('\n'));
      await expect(migrate(j)).rejects.toThrow(/source managed \(127\.0\.0\.1:\d+\).*stage: direct/s);
      expect(serversUnder(j.stateDir)).toEqual([]);
    } finally {
      await locked.stop();
    }
  }, 60_000);

  it('a local redis-server older than the source is refused before anything starts', async () => {
    const source = await startRedis();
    const fake = path.join(target.dir, 'old-redis-server');
    fs.writeFileSync(fake, '#!/bin/sh\necho "Redis server v=2.8.24 sha=00000000:0 malloc=libc bits=64 build=0"\n');
    fs.chmodSync(fake, 0o755);
    try {
      const j = jobFromYaml(
        ['name: old-local', 'sources:', `  - { name: legacy, url: "${source.url}", stage: replica }`, `target: { url: "${target.url}" }`, `options: { redisServer: "${fake}" }`].join('\n'),
      );
      await expect(migrate(j)).rejects.toThrow(/source legacy \(127\.0\.0\.1:\d+\) runs Redis 7\.\d+\.\d+ but the local redis-server .* is 2\.8\.24/);
      expect(serversUnder(j.stateDir)).toEqual([]);
    } finally {
      await source.stop();
    }
  });
});
