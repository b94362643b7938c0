import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatBytes } from '../../../shared/format.js';
import { RedisServerMissingError } from '../sandbox/redisProcess.js';

/** The version a redis-server binary reports (`redis-server --version` prints `v=7.0.15`). */
export function redisServerVersion(binary: string): string {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new RedisServerMissingError(binary);
  const m = /\bv=(\d+\.\d+\.\d+)/.exec(probe.stdout);
  if (!m) throw new Error(`${binary} --version printed no version: ${probe.stdout.trim()}`);
  return m[1];
}

export interface StagingFitOptions {
  source: string;
  node: string;
  /** The source's redis_version. */
  sourceVersion: string;
  /** The source's used_memory: the replica holds as much, and its RDB lands on disk first. */
  sourceUsedMemory: number;
  binary: string;
  binaryVersion: string;
  /** The staging directory; need not exist yet. */
  dir: string;
  /** Free space in dir's filesystem; measured when absent. */
  freeDiskBytes?: number;
  /** Free RAM; os.freemem() when absent. */
  freeMemoryBytes?: number;
}

// Room for the replica's own overhead and for writes arriving during the sync.
const HEADROOM = 1.1;

/** Problems that would make a staging replica of this source fail; empty when it fits. */
export function checkStagingFits(opts: StagingFitOptions): string[] {
  const label = `source ${opts.source} (${opts.node})`;
  const problems: string[] = [];

  // A replica cannot load the RDB of a newer Redis (unknown RDB version or types).
  if (compareVersions(opts.binaryVersion, opts.sourceVersion) < 0) {
    problems.push(
      `${label} runs Redis ${opts.sourceVersion} but the local redis-server (${opts.binary}) is ${opts.binaryVersion}, ` +
        'and a replica cannot load the data of a newer Redis. Install redis-server ' +
        `${opts.sourceVersion} or newer and set options.redisServer to it, or set stage: direct for this source.`,
    );
  }

  const need = opts.sourceUsedMemory * HEADROOM;
  const needText = `about ${formatBytes(need)} (used_memory ${formatBytes(opts.sourceUsedMemory)} + 10%)`;
  const freeMemory = opts.freeMemoryBytes ?? os.freemem();
  if (need > freeMemory) {
    problems.push(
      `${label}: its staging replica needs ${needText} of RAM but only ${formatBytes(freeMemory)} is free. ` +
        'Free some memory, stage fewer sources at once (options.parallel.staging), or set stage: direct for this source.',
    );
  }

  const freeDisk = opts.freeDiskBytes ?? freeDiskOf(opts.dir);
  if (freeDisk !== null && need > freeDisk) {
    problems.push(
      `${label}: its staging replica needs ${needText} of disk in ${opts.dir} but only ${formatBytes(freeDisk)} is free there. ` +
        'Free some space, turn options.keepStaging off (kept copies stay on disk), stage fewer sources at once (options.parallel.staging), ' +
        'or set stage: direct for this source.',
    );
  }
  return problems;
}

/** Free bytes for an unprivileged user in the filesystem dir is (or will be) on; null when it cannot be read. */
function freeDiskOf(dir: string): number | null {
  let at = path.resolve(dir);
  while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  try {
    const stat = fs.statfsSync(at);
    return stat.bavail * stat.bsize;
  } catch {
    return null;
  }
}

/** Compares major.minor.patch; suffixes such as `-rc1` are ignored. */
export function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

function versionParts(v: string): number[] {
  const parts = v.split('.').map((p) => Number.parseInt(p, 10) || 0);
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}
