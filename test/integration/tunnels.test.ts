// SSH tunnels against real sshd processes on loopback: every login method, jump chains, host-key
// checks, clusters behind a tunnel, and an sshd killed in the middle of a run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { TunnelSet, type TunnelChoices } from '../../main/engine/tunnels/tunnelSet.js';
import { connectTo, everyTypeCommands, EVERY_TYPE_KEYS, sendAll, BINARY_KEY, BINARY_VALUE } from '../support/dataset.js';
import { jobFromYaml, migrate, totalDifferences, verify } from '../support/engineRun.js';
import { freePort, startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';
import { makeCertificates } from '../support/certificates.js';
import { makeKeyPair, SSH_PASSWORD_USER, startSshAgent, startSshd, type KeyPair, type Sshd } from '../support/sshd.js';

let dir: string;
let key: KeyPair;
let lockedKey: KeyPair;
let bastion: Sshd;
let inner: Sshd;
let source: RedisServer;
let target: RedisServer;
let knownHosts: string;

const PLAIN_KEYS = 2000;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-tunnels-'));
  key = makeKeyPair(dir, 'id_ed25519');
  lockedKey = makeKeyPair(dir, 'id_locked', { passphrase: 'open sesame' });
  [bastion, inner, source, target] = await Promise.all([
    startSshd({ authorizedKeys: [key, lockedKey], passwordAuth: true }),
    startSshd({ authorizedKeys: [key] }),
    startRedis(),
    startRedis(),
  ]);
  knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `${bastion.knownHostsLine()}\n${inner.knownHostsLine()}\n`);
  const conn = await connectTo(source.port);
  await sendAll(conn, everyTypeCommands('t:', 'v1'));
  await sendAll(conn, Array.from({ length: PLAIN_KEYS }, (_, i) => ['SET', `plain:${i}`, `value-${i}`]));
  await conn.call('SET', BINARY_KEY, BINARY_VALUE);
  conn.close();
});

afterAll(async () => {
  await Promise.all([bastion?.cleanup(), inner?.cleanup(), source?.stop(), target?.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const SOURCE_KEYS = EVERY_TYPE_KEYS + PLAIN_KEYS + 1;

/** Tunnel choices that never touch ~/.ssh or ~/.config of the machine running the tests. */
function choices(extra: Partial<TunnelChoices> = {}): TunnelChoices {
  return { ownKnownHosts: path.join(dir, `ferry-known-${Math.random().toString(36).slice(2)}`), sshConfigFile: path.join(dir, 'no-ssh-config'), ...extra };
}

function tunnelYaml(name: string, fields: Record<string, string | number | boolean>): string {
  const body = Object.entries(fields)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? JSON.stringify(v) : v}`)
    .join(', ');
  return `  ${name}: { ${body} }`;
}

async function flushTarget(): Promise<void> {
  await target.cli('FLUSHALL');
}

/** Copies the source into the target through `via`, then verifies it through the same tunnels. */
async function copyThrough(tunnels: string[], via: { source?: string; target?: string }, tunnelChoices = choices(), options = '') {
  await flushTarget();
  const j = jobFromYaml(
    [
      'name: tunnelled',
      'tunnels:',
      ...tunnels,
      'sources:',
      `  - { name: legacy, url: "${source.url}"${via.source ? `, via: ${via.source}` : ''} }`,
      `target: { url: "${target.url}"${via.target ? `, via: ${via.target}` : ''} }`,
      ...(options ? [`options: ${options}`] : []),
    ].join('\n'),
  );
  const run = await migrate(j, false, { tunnels: tunnelChoices });
  const check = run.outcome === 'done' ? await verify(j, 1000, { tunnels: tunnelChoices }) : null;
  return { run, check, job: j };
}

describe('logging in', () => {
  it('with a key file: the source is read through the tunnel and verifies equal', async () => {
    const { run, check } = await copyThrough([tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: key.privateKeyPath, knownHosts })], { source: 'idc' });
    expect(run.message).toBeUndefined();
    expect(run.outcome).toBe('done');
    expect(run.counts.written).toBe(SOURCE_KEYS);
    expect(totalDifferences(check!)).toBe(0);
    const states = run.events.filter((e) => e.type === 'tunnel').map((e) => (e.type === 'tunnel' ? e.state : ''));
    expect(states).toEqual(['connecting', 'up', 'closed']);
  });

  it('with a passphrase-protected key, and says so when the passphrase is missing', async () => {
    const ok = await copyThrough([tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: lockedKey.privateKeyPath, passphrase: 'open sesame', knownHosts })], { target: 'idc' });
    expect(ok.run.outcome).toBe('done');
    await expect(copyThrough([tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: lockedKey.privateKeyPath, knownHosts })], { target: 'idc' })).rejects.toThrow(
      /tunnel idc: identity file .*id_locked is protected by a passphrase; give it as passphrase/,
    );
  });

  it('with ssh-agent (agent: true)', async () => {
    const agent = await startSshAgent([key]);
    const before = process.env.SSH_AUTH_SOCK;
    process.env.SSH_AUTH_SOCK = agent.socket;
    try {
      const { run, check } = await copyThrough([tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', agent: true, knownHosts })], { source: 'idc', target: 'idc' });
      expect(run.outcome).toBe('done');
      expect(totalDifferences(check!)).toBe(0);
    } finally {
      if (before === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = before;
      await agent.stop();
    }
  });

  it('with a password, and a wrong password is refused naming the tunnel and user', async () => {
    const good = tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: SSH_PASSWORD_USER.name, password: SSH_PASSWORD_USER.password, knownHosts });
    const { run } = await copyThrough([good], { source: 'idc' });
    expect(run.outcome).toBe('done');
    const bad = tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: SSH_PASSWORD_USER.name, password: 'wrong', knownHosts });
    await expect(copyThrough([bad], { source: 'idc' })).rejects.toThrow(/tunnel idc \(ferrytest@127\.0\.0\.1:\d+\): the SSH server refused the login of user ferrytest \(tried: password\)/);
  });

  it('an SSH port where nothing listens: connection refused, named with the tunnel', async () => {
    const closed = await freePort();
    await expect(copyThrough([tunnelYaml('idc', { host: '127.0.0.1', port: closed, user: 'root', identityFile: key.privateKeyPath, knownHosts })], { source: 'idc' })).rejects.toThrow(
      new RegExp(`tunnel idc \\(root@127\\.0\\.0\\.1:${closed}\\): connection refused; is sshd running there, and is the port right\\?`),
    );
  });

  it('a server that refuses a terminal still works, with a warning that small replies are slower', async () => {
    const noTty = await startSshd({ authorizedKeys: [key], extraConfig: ['PermitTTY no'] });
    try {
      const known = path.join(dir, 'known_hosts_notty');
      fs.writeFileSync(known, `${noTty.knownHostsLine()}\n`);
      // Without the 16 MB key: its windows would each wait for sshd's delayed ACKs.
      const { run, check } = await copyThrough([tunnelYaml('idc', { host: '127.0.0.1', port: noTty.port, user: 'root', identityFile: key.privateKeyPath, knownHosts: known })], { source: 'idc' }, choices(), '{ exclude: ["t:str:huge"] }');
      expect(run.outcome).toBe('done');
      expect(totalDifferences(check!)).toBe(0);
      expect(run.events.some((e) => e.type === 'warning' && /refused a terminal session .*PermitTTY/.test(e.message))).toBe(true);
    } finally {
      await noTty.cleanup();
    }
  });

  it('a destination the SSH server cannot reach is named with the tunnel', async () => {
    const j = jobFromYaml(
      [
        'name: unreachable',
        'tunnels:',
        tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: key.privateKeyPath, knownHosts }),
        'sources:',
        '  - { name: gone, url: "redis://127.0.0.1:1", via: idc }',
        `target: { url: "${target.url}" }`,
      ].join('\n'),
    );
    await expect(migrate(j, false, { tunnels: choices() })).rejects.toThrow(/source gone \(127\.0\.0\.1:1 via tunnel idc\): tunnel idc .*could not open a connection to 127\.0\.0\.1:1/);
  });
});

describe('jump chains', () => {
  it('reaches the target through two sshds (jump: bastion)', async () => {
    const tunnels = [
      tunnelYaml('bastion', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: key.privateKeyPath, knownHosts }),
      tunnelYaml('cloud', { host: '127.0.0.1', port: inner.port, user: 'root', identityFile: key.privateKeyPath, knownHosts, jump: 'bastion' }),
    ];
    const { run, check } = await copyThrough(tunnels, { source: 'bastion', target: 'cloud' });
    expect(run.outcome).toBe('done');
    expect(totalDifferences(check!)).toBe(0);
    const up = run.events.filter((e) => e.type === 'tunnel' && e.state === 'up').map((e) => (e.type === 'tunnel' ? e.tunnel : ''));
    expect(up).toEqual(['bastion', 'cloud']);
  });

  it('follows a ~/.ssh/config alias with HostName, User, Port, IdentityFile and ProxyJump', async () => {
    const config = path.join(dir, 'ssh_config');
    fs.writeFileSync(
      config,
      [
        'Host jumpbox',
        '  HostName 127.0.0.1',
        `  Port ${bastion.port}`,
        '  User root',
        `  IdentityFile ${key.privateKeyPath}`,
        'Host cloud-redis',
        '  HostName 127.0.0.1',
        `  Port ${inner.port}`,
        '  User root',
        `  IdentityFile ${key.privateKeyPath}`,
        '  ProxyJump jumpbox',
        '',
      ].join('\n'),
    );
    const { run, check } = await copyThrough([tunnelYaml('cloud', { host: 'cloud-redis', knownHosts })], { target: 'cloud' }, choices({ sshConfigFile: config }));
    expect(run.outcome).toBe('done');
    expect(totalDifferences(check!)).toBe(0);
    const up = run.events.filter((e) => e.type === 'tunnel' && e.state === 'up').map((e) => (e.type === 'tunnel' ? e.tunnel : ''));
    expect(up).toEqual(['cloud via ProxyJump jumpbox', 'cloud']);
  });
});

describe('host keys', () => {
  it('refuses a changed key, showing both fingerprints', async () => {
    const impostor = makeKeyPair(dir, 'impostor');
    const wrong = path.join(dir, 'known_hosts_wrong');
    fs.writeFileSync(wrong, `[127.0.0.1]:${bastion.port} ${impostor.publicKeyLine}\n`);
    const presented = fingerprint(bastion.hostKey.publicKeyPath);
    const recorded = fingerprint(impostor.publicKeyPath);
    const attempt = copyThrough([tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: key.privateKeyPath, knownHosts: wrong })], { source: 'idc' });
    const err = await attempt.catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toMatch(/^tunnel idc/);
    expect(message).toContain(presented);
    expect(message).toContain(recorded);
    expect(message).toContain(`${wrong}:1`);
  });

  it('refuses an unknown key, accepts it with acceptNewHostKeys and records it, then knows it', async () => {
    const empty = path.join(dir, 'known_hosts_empty');
    fs.writeFileSync(empty, '');
    const own = path.join(dir, 'ferry-own', 'known_hosts');
    const tunnel = [tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: key.privateKeyPath, knownHosts: empty })];
    const presented = fingerprint(bastion.hostKey.publicKeyPath);
    await expect(copyThrough(tunnel, { source: 'idc' }, choices({ ownKnownHosts: own }))).rejects.toThrow(new RegExp(`unknown.*${escape(presented)}|${escape(presented)}.*--accept-new-host-keys`, 's'));
    expect(fs.existsSync(own)).toBe(false);
    const accepted = await copyThrough(tunnel, { source: 'idc' }, choices({ ownKnownHosts: own, acceptNewHostKeys: true }));
    expect(accepted.run.outcome).toBe('done');
    expect(accepted.run.events.some((e) => e.type === 'warning' && e.message.includes(presented))).toBe(true);
    expect(fs.readFileSync(own, 'utf8')).toMatch(/^\|1\|/);
    const again = await copyThrough(tunnel, { source: 'idc' }, choices({ ownKnownHosts: own }));
    expect(again.run.outcome).toBe('done');
  });
});

describe('clusters behind tunnels', () => {
  let sourceCluster: RedisCluster;
  let targetCluster: RedisCluster;
  beforeAll(async () => {
    [sourceCluster, targetCluster] = await Promise.all([startCluster(3), startCluster(3)]);
    const conns = await Promise.all(sourceCluster.nodes.map((n) => connectTo(n.port)));
    // Each node takes the keys of its own slots: write through an endpoint that routes by slot.
    const writer = await Endpoint.open({ role: 'target', name: 'seed', url: sourceCluster.url });
    for (let i = 0; i < 3000; i++) await writer.call(0, Buffer.from(`c:${i}`), 'SET', `c:${i}`, `v${i}`);
    writer.close();
    conns.forEach((c) => c.close());
  });
  afterAll(async () => {
    await Promise.all([sourceCluster?.stop(), targetCluster?.stop()]);
  });

  it('opens one forward per master and copies cluster to cluster, each side behind its own tunnel', async () => {
    const tunnels = [
      tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: key.privateKeyPath, knownHosts }),
      tunnelYaml('cloud', { host: '127.0.0.1', port: inner.port, user: 'root', identityFile: key.privateKeyPath, knownHosts }),
    ];
    const j = jobFromYaml(
      ['name: clusters', 'tunnels:', ...tunnels, 'sources:', `  - { name: old-cluster, url: "${sourceCluster.url}", via: idc }`, `target: { url: "${targetCluster.url}", via: cloud, cluster: true }`].join('\n'),
    );
    // Every master is reached through a local forward, not at its own address.
    const set = await TunnelSet.open(j.loaded.job, choices());
    const ep = await Endpoint.open({ role: 'source', name: 'old-cluster', url: sourceCluster.url, route: set.route('idc') });
    expect(ep.masters).toHaveLength(3);
    for (const m of ep.masters) {
      const local = ep.localAddressOf(m.host, m.port);
      expect(local.host).toBe('127.0.0.1');
      expect(local.port).not.toBe(m.port);
    }
    ep.close();
    set.close();

    const run = await migrate(j, false, { tunnels: choices() });
    expect(run.message).toBeUndefined();
    expect(run.counts.written).toBe(3000);
    const check = await verify(j, 1000, { tunnels: choices() });
    expect(check.compared).toBe(3000);
    expect(totalDifferences(check)).toBe(0);
  });
});

describe('TLS behind a tunnel', () => {
  it('checks the certificate against the host in the URL, not the local forward', async () => {
    // The certificate names only "localhost": a check against the forward's 127.0.0.1 would fail.
    const certDir = fs.mkdtempSync(path.join(dir, 'tls-'));
    const certs = makeCertificates(certDir, 'DNS:localhost');
    const tlsPort = await freePort();
    const tlsTarget = await startRedis({ args: ['--tls-port', String(tlsPort), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no'] });
    try {
      const tunnel = tunnelYaml('cloud', { host: '127.0.0.1', port: inner.port, user: 'root', identityFile: key.privateKeyPath, knownHosts });
      const jobFor = (host: string) =>
        jobFromYaml(['name: tls-tunnel', 'tunnels:', tunnel, 'sources:', `  - { name: legacy, url: "${source.url}" }`, `target: { url: "rediss://${host}:${tlsPort}?ca=${certs.ca}", via: cloud }`].join('\n'));
      const run = await migrate(jobFor('localhost'), false, { tunnels: choices() });
      expect(run.message).toBeUndefined();
      expect(run.counts.written).toBe(SOURCE_KEYS);
      // The same server under a name its certificate does not hold is refused.
      await expect(migrate(jobFor('127.0.0.1'), false, { tunnels: choices() })).rejects.toThrow(/target \(127\.0\.0\.1:\d+ via tunnel cloud\).*(altnames|certificate)/is);
    } finally {
      await tlsTarget.stop();
    }
  });
});

describe('a dropped tunnel', () => {
  it('sshd killed mid-run and restarted: the run waits, reconnects, completes and verifies equal', async () => {
    await flushTarget();
    const many = 40_000;
    const conn = await connectTo(source.port, 2);
    for (let i = 0; i < many; i += 5000) await sendAll(conn, Array.from({ length: 5000 }, (_, n) => ['SET', `slow:${i + n}`, `v${i + n}`]));
    conn.close();
    const j = jobFromYaml(
      [
        'name: dropped',
        'tunnels:',
        tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: key.privateKeyPath, knownHosts }),
        'sources:',
        `  - { name: legacy, url: "${source.url}/2", via: idc }`,
        `target: { url: "${target.url}" }`,
        // Slow enough that the kill lands in the middle.
        'options: { maxKeysPerSec: 10000 }',
      ].join('\n'),
    );
    const running = migrate(j, false, { tunnels: choices(), checkpointEveryMs: 200 });
    await waitFor(async () => Number(await target.cli('-n', '2', 'DBSIZE')) > 5000);
    await bastion.stop();
    const atKill = Number(await target.cli('-n', '2', 'DBSIZE'));
    expect(atKill).toBeLessThan(many);
    await new Promise((r) => setTimeout(r, 1500));
    await bastion.restart();
    const run = await running;
    if (process.env.DEBUG_TUNNEL) console.log(run.events.filter((e) => e.type !== 'progress' && e.type !== 'latency'));
    expect(run.message).toBeUndefined();
    expect(run.outcome).toBe('done');
    const states = run.events.filter((e) => e.type === 'tunnel').map((e) => (e.type === 'tunnel' ? e.state : ''));
    expect(states).toContain('down');
    expect(states.lastIndexOf('up')).toBeGreaterThan(states.indexOf('down'));
    expect(run.events.some((e) => e.type === 'source-stage' && e.stage === 'reconnecting')).toBe(true);
    // Nothing lost, nothing duplicated: every key once, the redone page counted as unchanged.
    expect(Number(await target.cli('-n', '2', 'DBSIZE'))).toBe(many);
    expect(run.counts.written + run.counts.unchanged).toBeGreaterThanOrEqual(many);
    if (process.env.DEBUG_TUNNEL) console.log('verifying');
    const check = await verify(j, 1000, { tunnels: choices() });
    if (process.env.DEBUG_TUNNEL) console.log('verified', check);
    expect(check.compared).toBe(many);
    expect(totalDifferences(check)).toBe(0);
  }, 150_000);
});

describe('a network that goes quiet', () => {
  it('keepalives notice a frozen sshd (no reset), the tunnel comes back when it wakes, and the run completes', async () => {
    await target.cli('-n', '3', 'FLUSHDB');
    const many = 30_000;
    const conn = await connectTo(source.port, 3);
    for (let i = 0; i < many; i += 5000) await sendAll(conn, Array.from({ length: 5000 }, (_, n) => ['SET', `quiet:${i + n}`, `v${i + n}`]));
    conn.close();
    const j = jobFromYaml(
      [
        'name: quiet',
        'tunnels:',
        tunnelYaml('idc', { host: '127.0.0.1', port: bastion.port, user: 'root', identityFile: key.privateKeyPath, knownHosts, keepaliveMs: 300 }),
        'sources:',
        `  - { name: legacy, url: "${source.url}/3", via: idc }`,
        `target: { url: "${target.url}/3" }`,
        'options: { maxKeysPerSec: 10000 }',
      ].join('\n'),
    );
    const running = migrate(j, false, { tunnels: choices(), checkpointEveryMs: 200 });
    await waitFor(async () => Number(await target.cli('-n', '3', 'DBSIZE')) > 5000);
    bastion.freeze();
    try {
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      bastion.thaw();
    }
    const run = await running;
    expect(run.message).toBeUndefined();
    expect(run.outcome).toBe('done');
    const down = run.events.find((e) => e.type === 'tunnel' && e.state === 'down');
    expect(down && down.type === 'tunnel' ? down.message : '').toMatch(/keepalive/i);
    expect(Number(await target.cli('-n', '3', 'DBSIZE'))).toBe(many);
    const check = await verify(j, 1000, { tunnels: choices() });
    expect(check.compared).toBe(many);
    expect(totalDifferences(check)).toBe(0);
  }, 90_000);
});

function fingerprint(pubFile: string): string {
  return execFileSync('ssh-keygen', ['-lf', pubFile, '-E', 'sha256'], { encoding: 'utf8' }).split(' ')[1]!;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
