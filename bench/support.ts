/** What the benchmarks share: connecting to a local server, and running the real `ferry` CLI. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisConnection } from '../main/engine/resp/connection.js';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ferryBin = path.join(repo, 'main/cli/bin.js');

/** CPU seconds a process has used so far (user + system), from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function connect(port: number): Promise<RedisConnection> {
  return RedisConnection.connect({ host: '127.0.0.1', port, label: `:${port}` });
}

/**
 * bin.js rebuilds its bundle when a source is newer than it: done once here, so a timed run does
 * not include the build.
 */
export function warmFerryBundle(): void {
  const result = spawnSync(process.execPath, [ferryBin, 'help'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ferry help exited ${result.status} (does main/ build?): ${result.stderr.slice(-2000)}`);
}

export interface FerryRun {
  written: number;
  /** Ferry's own copy time (its run-finished event) and the wall time of the whole process. */
  elapsedSeconds: number;
  wallSeconds: number;
  keysPerSec: number;
  wallKeysPerSec: number;
  peakRssMb: number;
  cpuSeconds: number;
}

/** Runs `ferry run JOB --json` as its own process; its keys/s, and peak RSS and CPU from /proc. */
export async function runFerry(jobPath: string, stateDir: string): Promise<FerryRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [ferryBin, 'run', jobPath, '--json', '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let peakKb = 0;
  let cpu = 0;
  const poll = setInterval(() => {
    try {
      cpu = cpuSeconds(child.pid!);
      const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    } catch {
      /* exited */
    }
  }, 50);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(poll);
  const wallSeconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`ferry run exited ${code}: ${out.slice(-2000)}`);
  const finished = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; elapsedMs?: number; counts?: { written: number } })
    .find((e) => e.type === 'run-finished');
  if (!finished) throw new Error(`ferry run printed no run-finished event: ${out.slice(-2000)}`);
  const written = finished.counts!.written;
  const elapsedSeconds = finished.elapsedMs! / 1000;
  return { written, elapsedSeconds, wallSeconds, keysPerSec: written / elapsedSeconds, wallKeysPerSec: written / wallSeconds, peakRssMb: peakKb / 1024, cpuSeconds: cpu };
}
