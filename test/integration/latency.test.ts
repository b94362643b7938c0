import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEventOf } from '../../shared/events.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { LatencyGuard } from '../../main/engine/pacing/latencyGuard.js';
import { LatencyProbe, LatencyProbes, probeThreadRunning, type LatencySecond } from '../../main/engine/pacing/latencyProbe.js';
import { RedisConnection } from '../../main/engine/resp/connection.js';
import { jobFromYaml, migrate } from '../support/engineRun.js';
import { freePort, startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';
import { makeCertificates } from '../support/certificates.js';

type LatencyEvent = EngineEventOf<'latency'>;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('latency probe on a standalone server', () => {
  let server: RedisServer;
  let endpoint: Endpoint;
  let sleeper: RedisConnection;
  beforeAll(async () => {
    // The server's own latency monitor is on from the start: the probe reads it, never sets it.
    server = await startRedis({ args: ['--enable-debug-command', 'local', '--latency-monitor-threshold', '5'] });
    endpoint = await Endpoint.open({ role: 'target', name: 'target', url: server.url });
    sleeper = await RedisConnection.connect({ host: '127.0.0.1', port: server.port, label: 'sleeper' });
  });
  afterAll(async () => {
    sleeper?.close();
    endpoint?.close();
    await server?.stop();
  });

  it('measures ~200 calls/s when idle, sees DEBUG SLEEP bursts, and the guard backs off and climbs back', async () => {
    const events: LatencyEvent[] = [];
    // A roomier budget than the default 2 ms: this file shares two cores with other test files,
    // and the point here is the loop, not the VM's noise (see the unit tests for the guard's logic).
    const guard = new LatencyGuard({ budgetMs: 10 });
    const warnings: string[] = [];
    const probes = new LatencyProbes({ budgetMs: 10, guard, onEvent: (e) => events.push(e), onWarning: (m) => warnings.push(m) });
    await probes.start([{ name: 'target', endpoint }]);
    try {
      // Idle (the first window is partial: the worker's clock starts before it has connected).
      await waitFor('3 idle seconds', () => events.length >= 4, 10_000);
      const idle = events.slice(1, 4);
      for (const e of idle) {
        expect(e).toMatchObject({ type: 'latency', endpoint: 'target', node: `127.0.0.1:${server.port}` });
        expect(e.p50Ms).toBeLessThanOrEqual(e.p99Ms);
        expect(e.p99Ms).toBeLessThanOrEqual(e.maxMs);
        expect(e.serverMaxMs).not.toBeNull();
      }
      // ~200 a second, p99 well under a millisecond on a quiet machine; the bounds leave room for
      // other test files on the same two cores.
      expect(median(idle.map((e) => e.calls))).toBeGreaterThan(170);
      expect(median(idle.map((e) => e.calls))).toBeLessThanOrEqual(205);
      expect(median(idle.map((e) => e.p99Ms))).toBeLessThan(8);

      // Bursts: DEBUG SLEEP 0.05 after DEBUG SLEEP 0.05 for ~3 s (one at a time: pipelined, Redis
      // would run them all before serving the probe).
      const burstStart = Date.now();
      while (Date.now() - burstStart < 3000) await sleeper.call('DEBUG', 'SLEEP', '0.05');
      const burstEnd = Date.now();
      await sleep(1500);
      const during = events.filter((e) => e.at > burstStart + 500 && e.at <= burstEnd + 1000);
      expect(during.length).toBeGreaterThanOrEqual(2);
      expect(Math.max(...during.map((e) => e.maxMs))).toBeGreaterThanOrEqual(45);
      expect(Math.max(...during.map((e) => e.p99Ms))).toBeGreaterThanOrEqual(30);
      // A blocked server answers far fewer PINGs.
      expect(Math.min(...during.map((e) => e.calls))).toBeLessThan(100);
      // The server saw it too (LATENCY LATEST, "command" event).
      expect(Math.max(...events.filter((e) => e.at > burstStart).map((e) => e.serverMaxMs ?? 0))).toBeGreaterThanOrEqual(45);
      // The guard backed off during the bursts...
      const lowest = Math.min(...during.map((e) => e.paceFactor));
      expect(lowest).toBeLessThanOrEqual(0.25);
      // ...and climbs back once the server is calm again. Not asserted all the way to 1: other
      // processes on these two shared cores can push an idle second's p99 past any budget now and
      // then, which (rightly) makes the guard back off again; the unit tests check the full climb.
      await waitFor('the pace factor climbing back', () => guard.factor >= Math.min(1, 4 * lowest), 25_000).catch((err: Error) => {
        throw new Error(`${err.message}; seconds since the bursts: ${JSON.stringify(events.filter((e) => e.at > burstEnd).map((e) => [e.calls, e.p99Ms, e.maxMs, e.paceFactor]))}`);
      });

      const [summary] = probes.summary();
      expect(summary).toMatchObject({ endpoint: 'target', nodes: [`127.0.0.1:${server.port}`], budgetMs: 10 });
      expect(summary.seconds).toBe(events.length);
      expect(summary.maxMs).toBeGreaterThanOrEqual(45);
      expect(summary.worstP99Ms).toBeGreaterThanOrEqual(30);
      expect(summary.secondsOverBudget).toBeGreaterThanOrEqual(2);
      expect(summary.serverMaxMs).toBeGreaterThanOrEqual(45);
      expect(probes.series('target')).toHaveLength(events.length);
      expect(warnings).toEqual([]);
    } finally {
      await probes.stop();
    }
    expect(probes.alive).toBe(false);
    expect(probeThreadRunning()).toBe(false);
    // Nothing comes after stop.
    const count = events.length;
    await sleep(1200);
    expect(events.length).toBe(count);
  });

  it('does not change the server config, and reports null where the server keeps no latency record', async () => {
    const plain = await startRedis();
    const ep = await Endpoint.open({ role: 'source', name: 'a', url: plain.url });
    const events: LatencyEvent[] = [];
    const probes = new LatencyProbes({ budgetMs: 2, onEvent: (e) => events.push(e) });
    try {
      await probes.start([{ name: 'a', endpoint: ep }]);
      await waitFor('a second', () => events.length >= 1, 10_000);
      expect(events[0].serverMaxMs).toBeNull();
      expect(events[0].paceFactor).toBe(1);
      expect(await plain.cli('CONFIG', 'GET', 'latency-monitor-threshold')).toBe('latency-monitor-threshold\n0');
      // The probe is a client of its own, named for the operator.
      expect(await plain.cli('CLIENT', 'LIST')).toContain('name=ferry-latency-probe');
    } finally {
      await probes.stop();
      ep.close();
      await plain.stop();
    }
  });

  it('turns the server latency monitor on only when allowed, and restores it on stop', async () => {
    const plain = await startRedis({ args: ['--enable-debug-command', 'local'] });
    const seconds: LatencySecond[] = [];
    const probe = new LatencyProbe({ node: { host: '127.0.0.1', port: plain.port }, label: 'target (test)', setLatencyMonitorMs: 5, onSecond: (s) => seconds.push(s) });
    try {
      await probe.start();
      expect(await plain.cli('CONFIG', 'GET', 'latency-monitor-threshold')).toBe('latency-monitor-threshold\n5');
      await plain.cli('DEBUG', 'SLEEP', '0.1');
      await waitFor('the server view of the sleep', () => seconds.some((s) => (s.serverMaxMs ?? 0) >= 90), 10_000);
      expect(seconds.every((s) => s.serverMaxMs !== null)).toBe(true);
    } finally {
      await probe.stop();
    }
    expect(await plain.cli('CONFIG', 'GET', 'latency-monitor-threshold')).toBe('latency-monitor-threshold\n0');
    await plain.stop();
  });

  it('leaves nothing running after stop: a process that used it exits by itself', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-probe-'));
    const script = path.join(dir, 'probe.mts');
    fs.writeFileSync(
      script,
      [
        `import { Endpoint } from ${JSON.stringify(path.join(root, 'main/engine/endpoints/endpoint.ts'))};`,
        `import { LatencyProbes, probeThreadRunning } from ${JSON.stringify(path.join(root, 'main/engine/pacing/latencyProbe.ts'))};`,
        `const endpoint = await Endpoint.open({ role: 'target', name: 'target', url: ${JSON.stringify(server.url)} });`,
        `let seconds = 0;`,
        `const probes = new LatencyProbes({ budgetMs: 2, onEvent: () => seconds++ });`,
        `await probes.start([{ name: 'target', endpoint }]);`,
        `await new Promise((r) => setTimeout(r, 1500));`,
        `await probes.stop();`,
        `endpoint.close();`,
        `console.log(JSON.stringify({ seconds, alive: probes.alive || probeThreadRunning() }));`,
      ].join('\n'),
    );
    try {
      const started = Date.now();
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--import', 'tsx', script], { cwd: root, timeout: 30_000 }, (err, out, errOut) =>
          err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
        );
      });
      const out = JSON.parse(stdout.trim()) as { seconds: number; alive: boolean };
      expect(out.seconds).toBeGreaterThanOrEqual(1);
      expect(out.alive).toBe(false);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('latency probes on a cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startCluster(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('probes every master', async () => {
    const endpoint = await Endpoint.open({ role: 'target', name: 'target', url: cluster.url });
    const events: LatencyEvent[] = [];
    const probes = new LatencyProbes({ budgetMs: 2, onEvent: (e) => events.push(e) });
    try {
      await probes.start([{ name: 'target', endpoint }]);
      await waitFor('a second of every master', () => new Set(events.map((e) => e.node)).size === 3, 10_000);
      expect(new Set(events.map((e) => e.node))).toEqual(new Set(cluster.nodes.map((n) => `127.0.0.1:${n.port}`)));
      expect(probes.summary()).toEqual([expect.objectContaining({ endpoint: 'target', nodes: expect.arrayContaining(cluster.nodes.map((n) => `127.0.0.1:${n.port}`)) })]);
    } finally {
      await probes.stop();
      endpoint.close();
    }
    expect(probes.alive).toBe(false);
    expect(probeThreadRunning()).toBe(false);
  });
});

describe('latency probes through TLS and AUTH', () => {
  let dir: string;
  let server: RedisServer;
  let tlsPort: number;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-probe-tls-'));
    const certs = makeCertificates(dir);
    tlsPort = await freePort();
    server = await startRedis({
      password: 'probe-pw',
      args: ['--tls-port', String(tlsPort), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no'],
    });
    // An ACL user without @admin: no CONFIG, no LATENCY; the probe still measures.
    await server.cli('ACL', 'SETUSER', 'mover', 'on', '>s3cret-Pw', '~*', '+@all', '-@admin');
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('probes a TLS server as an ACL user (checking the certificate), server view null', async () => {
    const endpoint = await Endpoint.open({ role: 'target', name: 'target', url: `rediss://mover:s3cret-Pw@127.0.0.1:${tlsPort}?ca=${path.join(dir, 'ca.crt')}` });
    const events: LatencyEvent[] = [];
    const warnings: string[] = [];
    const probes = new LatencyProbes({ budgetMs: 2, onEvent: (e) => events.push(e), onWarning: (m) => warnings.push(m) });
    try {
      await probes.start([{ name: 'target', endpoint }]);
      await waitFor('two seconds', () => events.length >= 2, 10_000);
      expect(events[1].calls).toBeGreaterThan(100);
      expect(events[1].serverMaxMs).toBeNull();
      expect(warnings).toEqual([]);
    } finally {
      await probes.stop();
      endpoint.close();
    }
  });

  it('warns, and measures nothing, when AUTH is refused', async () => {
    const seconds: LatencySecond[] = [];
    const warnings: string[] = [];
    const probe = new LatencyProbe({ node: { host: '127.0.0.1', port: server.port, password: 'wrong' }, label: 'target (test)', onSecond: (s) => seconds.push(s), onWarning: (m) => warnings.push(m) });
    await probe.start();
    expect(warnings).toEqual([expect.stringMatching(/^latency probe of target \(test\): AUTH refused: WRONGPASS .*check the user and password/)]);
    await sleep(1200);
    expect(seconds).toEqual([]);
    await probe.stop();
    expect(probeThreadRunning()).toBe(false);
  });
});

describe('latency probes in a migration', () => {
  let source: RedisServer;
  let target: RedisServer;
  beforeAll(async () => {
    [source, target] = await Promise.all([startRedis({ args: ['--enable-debug-command', 'local'] }), startRedis()]);
    // Enough keys for a run of a second or more: the probes report whole seconds.
    await source.cli('DEBUG', 'POPULATE', '500000');
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it('probes the target and each source, puts the events on the bus and the summary in the result and the run report', async () => {
    // A generous budget: this test is about the plumbing; the guard's braking has its own test.
    const job = jobFromYaml(`name: lat\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\noptions: { latencyBudgetMs: 50 }\n`);
    const run = await migrate(job);
    expect(run.outcome).toBe('done');
    const events = run.events.filter((e): e is LatencyEvent => e.type === 'latency');
    expect(new Set(events.map((e) => e.endpoint))).toEqual(new Set(['target', 'src']));
    expect(events.find((e) => e.endpoint === 'target')?.node).toBe(`127.0.0.1:${target.port}`);
    expect(run.latency?.map((l) => l.endpoint).sort()).toEqual(['src', 'target']);
    for (const l of run.latency ?? []) {
      expect(l.seconds).toBeGreaterThanOrEqual(1);
      expect(l.budgetMs).toBe(50);
      expect(l.worstP99Ms).toBeGreaterThan(0);
    }
    const finished = run.events.find((e) => e.type === 'run-finished');
    expect(finished).toMatchObject({ latency: run.latency });
    const report = JSON.parse(fs.readFileSync(path.join(job.stateDir, 'run-report.json'), 'utf8')) as { latency?: unknown };
    expect(report.latency).toEqual(run.latency);
    expect(probeThreadRunning()).toBe(false);
  });
});
