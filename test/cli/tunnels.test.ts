// The command line with SSH tunnels and staging replicas: host keys refused, then accepted with
// the flag and remembered; plan through a tunnel; staging shown and refusals explained.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFerry, stackTraceLines, tmpDir, writeJob } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';
import { makeKeyPair, startSshd, type KeyPair, type Sshd } from '../support/sshd.js';

const work = tmpDir('ferry-cli-tunnels-');
// A home of its own: no ~/.ssh/known_hosts, no ~/.ssh/config, Ferry's known_hosts in here.
const home = path.join(work, 'home');
const configDir = path.join(work, 'config');
let key: KeyPair;
let sshd: Sshd;
let source: RedisServer;
let target: RedisServer;

beforeAll(async () => {
  fs.mkdirSync(home, { recursive: true });
  key = makeKeyPair(work, 'id_ed25519');
  [sshd, source, target] = await Promise.all([startSshd({ authorizedKeys: [key] }), startRedis(), startRedis()]);
  await source.cli('MSET', 'a', '1', 'b', '2', 'c', '3');
});

afterAll(async () => {
  await Promise.all([sshd?.cleanup(), source?.stop(), target?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

function ferry(args: string[]) {
  return runFerry(args, { env: { HOME: home, FERRY_CONFIG_DIR: configDir, SSH_AUTH_SOCK: undefined }, timeoutMs: 45_000 });
}

function tunnelJob(name: string, extraSource = ''): string {
  return writeJob(
    path.join(work, name),
    [
      `name: ${name}`,
      'tunnels:',
      `  idc: { host: 127.0.0.1, port: ${sshd.port}, user: root, identityFile: "${key.privateKeyPath}" }`,
      'sources:',
      `  - { name: legacy, url: "${source.url}", via: idc${extraSource} }`,
      `target: { url: "${target.url}" }`,
    ].join('\n'),
  );
}

describe('host keys on the command line', () => {
  it('an unknown key fails the run (exit 1, nothing written); --accept-new-host-keys records it; later runs know it', async () => {
    const file = tunnelJob('hostkeys');
    const refused = await ferry(['run', file, '--state-dir', path.join(work, 'state-1')]);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/^ferry: tunnel idc \(/);
    expect(refused.stderr).toContain('--accept-new-host-keys');
    expect(refused.stderr).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
    expect(stackTraceLines(refused.stderr)).toEqual([]);
    expect(await target.cli('DBSIZE')).toBe('0');
    expect(fs.existsSync(path.join(configDir, 'known_hosts'))).toBe(false);

    const accepted = await ferry(['run', file, '--state-dir', path.join(work, 'state-2'), '--accept-new-host-keys']);
    expect(accepted.code, accepted.stderr + accepted.stdout).toBe(0);
    expect(`${accepted.stdout}${accepted.stderr}`).toMatch(/new host key ssh-ed25519 SHA256:\S+ accepted/);
    expect(`${accepted.stdout}${accepted.stderr}`).toContain('tunnel idc: up');
    expect(await target.cli('DBSIZE')).toBe('3');
    expect(fs.readFileSync(path.join(configDir, 'known_hosts'), 'utf8')).toMatch(/^\|1\|\S+ ssh-ed25519 /);

    // Known now: verify and plan go through without the flag.
    const verified = await ferry(['verify', file, '--state-dir', path.join(work, 'state-2')]);
    expect(verified.code, verified.stderr).toBe(0);
    const planned = await ferry(['plan', file]);
    expect(planned.code, planned.stderr + planned.stdout).toBe(0);
    expect(planned.stdout).toContain('legacy');
  });
});

describe('staging on the command line', () => {
  it('shows the staging replica syncing and detaching, and removes it', async () => {
    await target.cli('FLUSHALL');
    const known = path.join(work, 'known_hosts');
    fs.writeFileSync(known, `${sshd.knownHostsLine()}\n`);
    const file = writeJob(
      path.join(work, 'staged'),
      [
        'name: staged',
        'tunnels:',
        `  idc: { host: 127.0.0.1, port: ${sshd.port}, user: root, identityFile: "${key.privateKeyPath}", knownHosts: "${known}" }`,
        'sources:',
        `  - { name: legacy, url: "${source.url}", via: idc, stage: replica }`,
        `target: { url: "${target.url}" }`,
      ].join('\n'),
    );
    const stateDir = path.join(work, 'state-staged');
    const r = await ferry(['run', file, '--state-dir', stateDir]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toMatch(/staging legacy 127\.0\.0\.1:\d+: starting a local replica/);
    expect(out).toMatch(/staging legacy 127\.0\.0\.1:\d+: detached: a frozen copy to read from/);
    expect(out).toMatch(/[Vv]erified/);
    expect(await target.cli('DBSIZE')).toBe('3');
    expect(fs.readdirSync(path.join(stateDir, 'staging', 'legacy'))).toEqual([]);

    // The plan reads a staged source as the run does: from a copy synced for it, then removed.
    const planned = await ferry(['plan', file]);
    expect(planned.code, planned.stdout + planned.stderr).toBe(0);
    expect(planned.stderr).toMatch(/staging legacy 127\.0\.0\.1:\d+: detached/);
    expect(planned.stdout.replace(/\s+/g, ' ')).toMatch(/OK staging staging replicas of legacy synced and detached in/);
    expect(planned.stdout).toMatch(/db0 -> db0 +3 keys/);
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain('plan-staging');
  });

  it('a source that refuses SYNC: exit 1, the source named, stage: direct suggested, no stack trace', async () => {
    const locked = await startRedis({ args: ['--rename-command', 'SYNC', '', '--rename-command', 'PSYNC', ''] });
    try {
      const file = writeJob(path.join(work, 'locked'), ['name: locked', 'sources:', `  - { name: managed, url: "${locked.url}", stage: replica }`, `target: { url: "${target.url}" }`].join('\n'));
      const r = await ferry(['run', file, '--state-dir', path.join(work, 'state-locked')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/source managed \(127\.0\.0\.1:\d+\)/);
      expect(r.stderr).toContain('stage: direct');
      expect(stackTraceLines(r.stderr)).toEqual([]);
    } finally {
      await locked.stop();
    }
  });

  it('ferry plan names what would stop staging: a source refusing SYNC, a local redis-server too old', async () => {
    const locked = await startRedis({ args: ['--rename-command', 'SYNC', '', '--rename-command', 'PSYNC', ''] });
    const fake = path.join(work, 'old-redis-server');
    fs.writeFileSync(fake, '#!/bin/sh\necho "Redis server v=2.8.24 sha=00000000:0 malloc=libc bits=64 build=0"\n');
    fs.chmodSync(fake, 0o755);
    try {
      await locked.cli('SET', 'k', 'v');
      const file = writeJob(
        path.join(work, 'plan-staged'),
        ['name: plan-staged', 'sources:', `  - { name: managed, url: "${locked.url}", stage: replica }`, `target: { url: "${target.url}" }`, `options: { redisServer: "${fake}" }`].join('\n'),
      );
      const r = await ferry(['plan', file]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      // The summary wraps long verdicts: compare with the line breaks folded.
      const text = r.stdout.replace(/\s+/g, ' ');
      expect(text).toMatch(/BLOCKER staging source managed refuses SYNC and PSYNC, so stage: replica cannot sync a copy of it; set stage: direct/);
      expect(text).toMatch(/BLOCKER staging source managed \(127\.0\.0\.1:\d+\) runs Redis 7\.\d+\.\d+ but the local redis-server \(\S+\) is 2\.8\.24/);
    } finally {
      await locked.stop();
    }
  });
});
