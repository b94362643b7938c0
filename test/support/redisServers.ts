import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort as enginePort, startRedisProcess } from '../../main/engine/sandbox/redisProcess.js';

const run = promisify(execFile);

/** A real redis-server started for a test, on a free loopback port, in its own directory. */
export interface RedisServer {
  port: number;
  pid: number;
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

export const freePort = (): Promise<number> => enginePort();

// A test that dies before its afterAll must not leave servers behind.
const running = new Set<number>();
process.on('exit', () => {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/**
 * Starts redis-server the way the sandbox does (Ferry's own launcher), in a temp directory that
 * `stop()` removes. `redis-cli` stays the independent way for tests to look at the server.
 */
export async function startRedis(opts: { args?: string[]; port?: number; password?: string; cluster?: boolean } = {}): Promise<RedisServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-redis-'));
  const server = await startRedisProcess({ dir, port: opts.port, cluster: opts.cluster, password: opts.password, extraArgs: opts.args });
  running.add(server.pid);
  const auth = opts.password ? ['-a', opts.password, '--no-auth-warning'] : [];
  return {
    port: server.port,
    pid: server.pid,
    dir,
    url: server.url,
    cli: async (...cmd: string[]) => {
      const { stdout } = await run('redis-cli', ['-p', String(server.port), ...auth, ...cmd], { maxBuffer: 256 * 1024 * 1024 });
      return stdout.trim();
    },
    stop: async () => {
      await server.stop();
      running.delete(server.pid);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A cluster of `masters` nodes with no replicas, made by `redis-cli --cluster create`, state ok. */
export async function startCluster(masters = 3): Promise<RedisCluster> {
  const nodes = await Promise.all(Array.from({ length: masters }, () => startRedis({ cluster: true })));
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
