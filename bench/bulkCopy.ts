/**
 * Bulk copy benchmark: 1,000,000 mixed keys, moved once by the baseline (SCAN-driven
 * `MIGRATE … COPY REPLACE KEYS` in batches of 1,000, all on the server side) and once by
 * `ferry run`, each into an empty target, in the same run on the same machine. Prints keys/s of
 * both, the ratio, and Ferry's peak RSS. Targets: ratio ≥ 1.8, peak RSS ≤ 300 MB.
 *
 *   npm run bench            (FERRY_BENCH_KEYS=200000 for a quicker look)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { replyArray, replyNumber, replyText } from '../main/engine/resp/reply.js';
import { startRedisProcess } from '../main/engine/sandbox/redisProcess.js';
import { fillBenchDataset } from './dataset.js';
import { connect, cpuSeconds, runFerry } from './support.js';

const KEYS = Number(process.env.FERRY_BENCH_KEYS ?? 1_000_000);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-'));

async function baseline(sourcePort: number, targetPort: number): Promise<number> {
  const conn = await connect(sourcePort);
  const started = performance.now();
  let cursor = '0';
  let moved = 0;
  do {
    const [next, keysReply] = replyArray(await conn.call('SCAN', cursor, 'COUNT', 1000));
    cursor = replyText(next);
    const keys = replyArray(keysReply) as Buffer[];
    if (keys.length) {
      await conn.call('MIGRATE', '127.0.0.1', targetPort, '', 0, 60_000, 'COPY', 'REPLACE', 'KEYS', ...keys);
      moved += keys.length;
    }
  } while (cursor !== '0');
  const seconds = (performance.now() - started) / 1000;
  conn.close();
  return moved / seconds;
}

/**
 * Runs `ferry run` as its own process; returns keys/s (its own copy time) and peak RSS from /proc.
 * The latency budget is set out of reach: this measures raw speed, and the baseline has no guard.
 */
async function ferry(sourcePort: number, targetPort: number): Promise<{ keysPerSec: number; wallKeysPerSec: number; peakRssMb: number; cpuSeconds: number }> {
  const jobPath = path.join(work, 'bench.yaml');
  fs.writeFileSync(jobPath, `name: bench\nsources:\n  - { name: src, url: "redis://127.0.0.1:${sourcePort}" }\ntarget: { url: "redis://127.0.0.1:${targetPort}" }\noptions: { onConflict: replace, latencyBudgetMs: 1000 }\n`);
  return runFerry(jobPath, path.join(work, 'state'));
}

async function main(): Promise<void> {
  const source = await startRedisProcess({ dir: path.join(work, 'source') });
  const target = await startRedisProcess({ dir: path.join(work, 'target') });
  try {
    const src = await connect(source.port);
    const tgt = await connect(target.port);
    process.stdout.write(`Filling the source with ${KEYS.toLocaleString('en-US')} keys...\n`);
    await fillBenchDataset(src, KEYS);
    const expected = replyNumber(await src.call('DBSIZE'));

    await tgt.call('FLUSHALL');
    const cpuBefore = [cpuSeconds(source.pid), cpuSeconds(target.pid)];
    const base = await baseline(source.port, target.port);
    const cpuBase = [cpuSeconds(source.pid) - cpuBefore[0], cpuSeconds(target.pid) - cpuBefore[1]];
    const baseCount = replyNumber(await tgt.call('DBSIZE'));
    process.stdout.write(`baseline MIGRATE COPY REPLACE KEYS x1000: ${Math.round(base).toLocaleString('en-US')} keys/s (${baseCount} keys on target; CPU s: source ${cpuBase[0].toFixed(1)}, target ${cpuBase[1].toFixed(1)})\n`);

    await tgt.call('FLUSHALL');
    const cpuBefore2 = [cpuSeconds(source.pid), cpuSeconds(target.pid)];
    const ours = await ferry(source.port, target.port);
    const cpuOurs = [cpuSeconds(source.pid) - cpuBefore2[0], cpuSeconds(target.pid) - cpuBefore2[1]];
    const ourCount = replyNumber(await tgt.call('DBSIZE'));
    process.stdout.write(
      `ferry run: ${Math.round(ours.keysPerSec).toLocaleString('en-US')} keys/s (${Math.round(ours.wallKeysPerSec).toLocaleString('en-US')} keys/s including process start; ${ourCount} keys on target; CPU s: source ${cpuOurs[0].toFixed(1)}, target ${cpuOurs[1].toFixed(1)}, ferry ${ours.cpuSeconds.toFixed(1)})\n`,
    );
    const ratio = ours.keysPerSec / base;
    process.stdout.write(`ratio ferry/baseline: ${ratio.toFixed(2)} (target >= 1.8)\n`);
    process.stdout.write(`ferry peak RSS: ${ours.peakRssMb.toFixed(0)} MB (target <= 300 MB)\n`);
    if (baseCount !== expected || ourCount !== expected) throw new Error(`key counts differ: source ${expected}, baseline ${baseCount}, ferry ${ourCount}`);
    src.close();
    tgt.close();
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
