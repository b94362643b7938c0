import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A real redis-server started for a test, on a free loopback port, in its own directory. */
export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** Runs redis-cli against it and returns stdout (trimmed). */
  cli(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export interface RedisCluster {
  nodes: RedisServer[];
  /** URL of the first node: enough for Ferry to discover the others. */
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10000 > 65535) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port + 10000, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (bus) return port;
  }
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startRedis(opts: { args?: string[]; port?: number; password?: string } = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-redis-${port}-`));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--repl-diskless-sync-delay', '0', ...(opts.args ?? [])];
  if (opts.password) args.push('--requirepass', opts.password);
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const auth = opts.password ? ['-a', opts.password, '--no-auth-warning'] : [];
  const cli = async (...cmd: string[]) => {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...auth, ...cmd], { maxBuffer: 256 * 1024 * 1024 });
    return stdout.trim();
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited: ${output}`);
    try {
      if ((await cli('PING')) === 'PONG') break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 30));
  }
  return {
    port,
    dir,
    url: opts.password ? `redis://:${opts.password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    cli,
    stop: async () => {
      // A process killed by a signal has exitCode null and signalCode set: it is gone already.
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      running.delete(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A cluster of `masters` nodes with no replicas, all slots assigned, state ok. */
export async function startCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i++) {
    const port = await freeClusterPort();
    nodes.push(
      await startRedis({ port, args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000'] }),
    );
  }
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(nodes.map((n) => n.cli('CLUSTER', 'INFO')));
    if (states.every((s) => s.includes('cluster_state:ok'))) break;
    if (Date.now() > deadline) throw new Error('cluster did not reach state ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    nodes,
    url: nodes[0].url,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
