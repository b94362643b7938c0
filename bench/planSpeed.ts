/**
 * Planner speed: the 1,000,000-key bench dataset (see dataset.ts) planned by `ferry plan`, against
 * the baseline `redis-cli --memkeys` (SCAN + TYPE + MEMORY USAGE, the usual way to size a keyspace)
 * on the same data in the same run. Prints keys/s of both and the ratio. Target: ≥ 150,000 keys/s.
 *
 *   npm run bench:plan       (FERRY_BENCH_KEYS=200000 for a quicker look)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseJobText } from '../main/engine/job/loadJob.js';
import { planJob } from '../main/engine/plan/planner.js';
import { RedisConnection } from '../main/engine/resp/connection.js';
import { startRedisProcess } from '../main/engine/sandbox/redisProcess.js';
import { fillBenchDataset } from './dataset.js';

const KEYS = Number(process.env.FERRY_BENCH_KEYS ?? 1_000_000);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-plan-'));
const run = promisify(execFile);

async function main(): Promise<void> {
  const source = await startRedisProcess({ dir: path.join(work, 'source') });
  const target = await startRedisProcess({ dir: path.join(work, 'target') });
  try {
    const conn = await RedisConnection.connect({ host: '127.0.0.1', port: source.port, label: 'source' });
    process.stdout.write(`Filling the source with ${KEYS.toLocaleString('en-US')} keys...\n`);
    await fillBenchDataset(conn, KEYS);
    conn.close();

    let started = performance.now();
    await run('redis-cli', ['-p', String(source.port), '--memkeys'], { maxBuffer: 64 * 1024 * 1024 });
    const baseline = KEYS / ((performance.now() - started) / 1000);
    process.stdout.write(`baseline redis-cli --memkeys: ${Math.round(baseline).toLocaleString('en-US')} keys/s\n`);

    const job = parseJobText(`name: bench-plan\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n`, { baseDir: work });
    started = performance.now();
    const plan = await planJob(job, { sample: null });
    const ours = plan.totals.keys / ((performance.now() - started) / 1000);
    process.stdout.write(`ferry plan: ${Math.round(ours).toLocaleString('en-US')} keys/s (${plan.totals.keys.toLocaleString('en-US')} keys, ${plan.verdicts.length} verdicts)\n`);
    process.stdout.write(`ratio ferry/baseline: ${(ours / baseline).toFixed(2)}; target >= 150,000 keys/s: ${ours >= 150_000 ? 'met' : 'NOT met'}\n`);
    if (plan.totals.keys !== KEYS) throw new Error(`the plan counted ${plan.totals.keys} keys, the source has ${KEYS}`);
  } finally {
    await source.stop();
    await target.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
