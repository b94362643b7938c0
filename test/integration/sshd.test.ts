// The SSH test harness's own check: real sshds for the tunnel tests, driven with the ssh2 client.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKeyPair, SSH_PASSWORD_USER, startSshd, type KeyPair, type Sshd } from '../support/sshd.js';

let dir: string;
let clientKey: KeyPair;
let echo: net.Server;
let echoPort: number;
/** The echo server's side of every forwarded connection: stop() must close these too. */
const echoSockets: net.Socket[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-sshd-test-'));
  clientKey = makeKeyPair(dir, 'client');
  echo = net.createServer((s) => {
    echoSockets.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const s of echoSockets) s.destroy();
  await new Promise((r) => echo.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

function connect(sshd: Sshd, config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port: sshd.port, readyTimeout: 10_000, ...config });
  });
}

const withKey = (extra: ConnectConfig = {}): ConnectConfig => ({ username: 'root', privateKey: fs.readFileSync(clientKey.privateKeyPath), ...extra });

function forwardToEcho(client: Client): Promise<ClientChannel> {
  return new Promise((resolve, reject) => client.forwardOut('127.0.0.1', 0, '127.0.0.1', echoPort, (err, ch) => (err ? reject(err) : resolve(ch))));
}

function roundTrip(channel: ClientChannel, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    channel.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) resolve(got);
    });
    channel.write(text);
  });
}

describe('test/support/sshd', () => {
  it('accepts a key as root and forwards a TCP connection', async () => {
    const sshd = await startSshd({ authorizedKeys: [clientKey] });
    try {
      expect(sshd.knownHostsLine()).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 AAAA\\S+$`));
      const client = await connect(sshd, withKey());
      const channel = await forwardToEcho(client);
      expect(await roundTrip(channel, 'hello through the tunnel')).toBe('hello through the tunnel');
      client.end();
    } finally {
      await sshd.cleanup();
    }
  });

  it('logs SSH_PASSWORD_USER in with its password and refuses a wrong one', async () => {
    const sshd = await startSshd({ passwordAuth: true });
    try {
      const client = await connect(sshd, { username: SSH_PASSWORD_USER.name, password: SSH_PASSWORD_USER.password });
      expect(await roundTrip(await forwardToEcho(client), 'pw')).toBe('pw');
      client.end();
      const refused = await connect(sshd, { username: SSH_PASSWORD_USER.name, password: 'not-the-password' }).then(
        () => null,
        (e: Error & { level?: string }) => e,
      );
      expect(refused?.level).toBe('client-authentication');
    } finally {
      await sshd.cleanup();
    }
  });

  it('stop() drops open forwarded connections; restart() serves the same port and host key', async () => {
    const sshd = await startSshd({ authorizedKeys: [clientKey] });
    try {
      const hostKeyBase64 = sshd.hostKey.publicKeyLine.split(/\s+/)[1];
      const seenKeys: string[] = [];
      const hostVerifier = (key: Buffer) => {
        seenKeys.push(key.toString('base64'));
        return true;
      };
      const client = await connect(sshd, withKey({ hostVerifier }));
      const channel = await forwardToEcho(client);
      expect(await roundTrip(channel, 'before')).toBe('before');
      const targetSide = echoSockets.at(-1)!;
      const targetClosed = new Promise((r) => (targetSide.closed ? r(null) : targetSide.once('close', r)));
      const clientClosed = new Promise<void>((r) => client.once('close', () => r()));
      client.on('error', () => {}); // the reset that stop() causes

      await sshd.stop();
      await Promise.all([targetClosed, clientClosed]);
      await expect(connect(sshd, withKey())).rejects.toThrow();

      await sshd.restart();
      const again = await connect(sshd, withKey({ hostVerifier }));
      expect(await roundTrip(await forwardToEcho(again), 'after')).toBe('after');
      again.end();
      expect(seenKeys).toEqual([hostKeyBase64, hostKeyBase64]);
    } finally {
      await sshd.cleanup();
    }
  });
});
