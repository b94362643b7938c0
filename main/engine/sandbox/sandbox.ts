import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisConnection } from '../resp/connection.js';
import { createCluster } from './clusterSetup.js';
import { fillSandboxSource, SANDBOX_SOURCES } from './sandboxData.js';
import { startRedisProcess, type RedisProcess } from './redisProcess.js';

export interface Sandbox {
  dir: string;
  jobPath: string;
  sources: Array<{ name: string; server: RedisProcess; keys: number }>;
  targetNodes: RedisProcess[];
  stop(): Promise<void>;
}

/**
 * Ferry's built-in sandbox: three "legacy" standalone sources full of realistic data and an empty
 * 3-master cluster as the target, all on 127.0.0.1, plus a job file that moves one into the other.
 * So the first minute with Ferry needs no servers of one's own.
 */
export async function startSandbox(opts: { keep?: boolean; dir?: string } = {}): Promise<Sandbox> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-sandbox-'));
  const started: RedisProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop()));
    if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const start = async (name: string, cluster: boolean) => {
      const server = await startRedisProcess({ dir: path.join(dir, name), cluster, detached: opts.keep });
      started.push(server);
      return server;
    };
    const targetNodes = await Promise.all([0, 1, 2].map((i) => start(`target-${i + 1}`, true)));
    const sourceServers = await Promise.all(SANDBOX_SOURCES.map((spec) => start(spec.name, false)));
    const [, sources] = await Promise.all([
      createCluster(targetNodes.map((n) => n.port)),
      Promise.all(SANDBOX_SOURCES.map((spec, i) => fill(spec, i, sourceServers[i]))),
    ]);
    const jobPath = path.join(dir, 'sandbox.yaml');
    fs.writeFileSync(jobPath, sandboxJob(sources.map((s) => ({ name: s.name, port: s.server.port })), targetNodes[0].port));
    return { dir, jobPath, sources, targetNodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function fill(spec: (typeof SANDBOX_SOURCES)[number], index: number, server: RedisProcess) {
  const conns = new Map<number, RedisConnection>();
  const connFor = (db: number) => {
    const conn = conns.get(db);
    if (!conn) throw new Error(`db ${db} not opened`);
    return conn;
  };
  for (const db of [0, spec.extraDb ?? 0]) {
    if (conns.has(db)) continue;
    const conn = await RedisConnection.connect({ host: '127.0.0.1', port: server.port, label: spec.name });
    await conn.call('SELECT', db);
    conns.set(db, conn);
  }
  try {
    const keys = await fillSandboxSource(spec, index, connFor);
    return { name: spec.name, server, keys };
  } finally {
    conns.forEach((c) => c.close());
  }
}

function sandboxJob(sources: Array<{ name: string; port: number }>, targetPort: number): string {
  return [
    '# Written by `ferry demo`: three legacy servers merged into one 3-node cluster.',
    'name: sandbox',
    'sources:',
    ...sources.map((s) => `  - { name: ${s.name}, url: "redis://127.0.0.1:${s.port}" }`),
    `target: { url: "redis://127.0.0.1:${targetPort}", cluster: true }`,
    'options:',
    '  # shared:config:* lives in two sources; keep the first value written, count the rest.',
    '  onConflict: skip',
    '  # A cluster has only db 0: the legacy servers\' other dbs are merged into it.',
    '  dbs: { "0": 0, "1": 0, "2": 0 }',
    '  ttl: { keep: true, extendMs: 0 }',
    '  # Low on purpose, so the sandbox shows its multi-megabyte keys as big-key warnings.',
    '  bigKey: { bytes: 1mb }',
    '  parallel: 3',
    '',
  ].join('\n');
}
