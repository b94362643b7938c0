import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RedisConnection } from '../resp/connection.js';

/** redis-server is not installed: says exactly how to get it. */
export class RedisServerMissingError extends Error {
  constructor(binary: string) {
    super(
      `${binary} was not found. The sandbox starts local Redis servers and needs it installed:\n` +
        '  Debian/Ubuntu:  sudo apt-get install -y redis-server redis-tools\n' +
        '  Fedora/RHEL:    sudo dnf install -y redis\n' +
        '  macOS:          brew install redis\n' +
        'or set FERRY_REDIS_SERVER to the path of a redis-server binary.',
    );
  }
}

/** A redis-server started by Ferry on 127.0.0.1 in a directory of its own. */
export interface RedisProcess {
  port: number;
  pid: number;
  dir: string;
  url: string;
  stop(): Promise<void>;
}

export function redisServerBinary(binary = process.env.FERRY_REDIS_SERVER || 'redis-server'): string {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new RedisServerMissingError(binary);
  return binary;
}

/** A free loopback port; with `clusterBus`, port + 10000 is free as well. */
export async function freePort(clusterBus = false): Promise<number> {
  for (;;) {
    const port = await listenAndClose(0);
    if (!clusterBus) return port;
    if (port + 10000 <= 65535 && (await listenAndClose(port + 10000).then(() => true, () => false))) return port;
  }
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: chosen } = server.address() as net.AddressInfo;
      server.close(() => resolve(chosen));
    });
  });
}

export interface StartRedisOptions {
  dir: string;
  port?: number;
  cluster?: boolean;
  password?: string;
  /** Keep running after this process exits (the sandbox's --keep). */
  detached?: boolean;
  extraArgs?: string[];
  /** The redis-server to run; default redisServerBinary(). */
  binary?: string;
}

export async function startRedisProcess(opts: StartRedisOptions): Promise<RedisProcess> {
  const binary = redisServerBinary(opts.binary);
  const port = opts.port ?? (await freePort(opts.cluster));
  fs.mkdirSync(opts.dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', opts.dir, '--repl-diskless-sync-delay', '0'];
  if (opts.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000');
  if (opts.password) args.push('--requirepass', opts.password);
  args.push(...(opts.extraArgs ?? []));
  const logFile = path.join(opts.dir, 'redis.log');
  const log = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', log, log], detached: Boolean(opts.detached) });
  fs.closeSync(log);
  if (opts.detached) child.unref();
  const url = `redis://${opts.password ? `:${opts.password}@` : ''}127.0.0.1:${port}`;
  await waitForPing(port, opts.password, child, logFile);
  return {
    port,
    pid: child.pid!,
    dir: opts.dir,
    url,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function waitForPing(port: number, password: string | undefined, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited at start: ${fs.readFileSync(logFile, 'utf8').slice(-500)}`);
    try {
      const conn = await RedisConnection.connect({ host: '127.0.0.1', port, label: `redis-server :${port}`, connectTimeoutMs: 1000 });
      try {
        if (password) await conn.call('AUTH', password);
        await conn.call('PING');
        return;
      } finally {
        conn.close();
      }
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
