import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTo, sendAll } from '../support/dataset.js';
import { jobFromYaml, migrate, totalDifferences, verify } from '../support/engineRun.js';
import { freePort, startRedis, type RedisServer } from '../support/redisServers.js';
import { makeCertificates } from '../support/certificates.js';

let dir: string;
let certs: { ca: string; cert: string; key: string };
let tlsTarget: RedisServer;
let tlsPort: number;
let source: RedisServer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-tls-'));
  certs = makeCertificates(dir);
  tlsPort = await freePort();
  [tlsTarget, source] = await Promise.all([
    startRedis({ args: ['--tls-port', String(tlsPort), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no'] }),
    startRedis(),
  ]);
  const src = await connectTo(source.port);
  await sendAll(src, [...Array.from({ length: 500 }, (_, i) => ['SET', `tls:${i}`, `v${i}`]), ['HSET', 'h', 'a', '1'], ['SET', 'ttl', 'x', 'PX', 600_000]]);
  src.close();
  // An ACL user that may do what a migration needs on the target, and nothing administrative.
  await tlsTarget.cli('ACL', 'SETUSER', 'mover', 'on', '>s3cret-Pw', '~*', '+@all', '-@admin', '-flushall', '+info');
});
afterAll(async () => {
  await Promise.all([tlsTarget.stop(), source.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('TLS and ACL users', () => {
  it('copies into a TLS target as an ACL user, checking the certificate against the given CA', async () => {
    const j = jobFromYaml(
      `name: tls\nsources:\n  - { name: plain, url: "${source.url}" }\ntarget: { url: "rediss://mover:s3cret-Pw@127.0.0.1:${tlsPort}?ca=${certs.ca}" }\n`,
    );
    const run = await migrate(j);
    expect(run.message).toBeUndefined();
    expect(run.counts.written).toBe(502);
    expect(totalDifferences(await verify(j))).toBe(0);
  });

  it('refuses a certificate it cannot verify, naming the target', async () => {
    const j = jobFromYaml(`name: tls\nsources:\n  - { name: plain, url: "${source.url}" }\ntarget: { url: "rediss://127.0.0.1:${tlsPort}" }\n`);
    await expect(migrate(j)).rejects.toThrow(/target \(127\.0\.0\.1:\d+\): cannot connect .*(certificate|self[- ]signed)/i);
  });

  it('says which ACL user was refused, without the password', async () => {
    const j = jobFromYaml(
      `name: tls\nsources:\n  - { name: plain, url: "${source.url}" }\ntarget: { url: "rediss://mover:wrong-Pw@127.0.0.1:${tlsPort}?ca=${certs.ca}" }\n`,
    );
    const err = (await migrate(j).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/target .*authentication failed/);
    expect(err.message).not.toContain('wrong-Pw');
  });
});
