import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { emptyCounts, type KeyCounts } from '../../../shared/events.js';
import type { Job } from '../../../shared/job.js';
import { writeFileAtomic } from './stateDir.js';

export interface ShardCheckpoint {
  /** The SCAN cursor up to which every key has been written. */
  cursor: string;
  complete: boolean;
}

export interface Checkpoint {
  version: 1;
  job: string;
  /** A hash of what the job selects; a resume with another selection is refused. */
  selection: string;
  startedAt: number;
  updatedAt: number;
  finished: boolean;
  sources: Record<string, SourceCheckpoint>;
}

export interface SourceCheckpoint {
  /** A live source: per shard, the SCAN cursor. An RDB file: one shard `file`, whose cursor is the number of keys settled in file order. */
  shards: Record<string, ShardCheckpoint>;
  counts: KeyCounts;
  /** An RDB file source: the file's size and modification time, so a resume notices another file. */
  file?: { size: number; mtimeMs: number };
}

export const CHECKPOINT_FILE = 'checkpoint.json';

/** What decides which keys a run copies where. Hashed: URLs may hold passwords. */
export function selectionHash(job: Job): string {
  const o = job.options;
  const what = {
    sources: job.sources.map((s) => [s.name, s.url ?? null, s.rdb ?? null]),
    target: job.target.url,
    dbs: o.dbs,
    include: o.include,
    exclude: o.exclude,
    types: o.types,
  };
  return crypto.createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

export function newCheckpoint(job: Job): Checkpoint {
  const now = Date.now();
  return {
    version: 1,
    job: job.name,
    selection: selectionHash(job),
    startedAt: now,
    updatedAt: now,
    finished: false,
    sources: Object.fromEntries(job.sources.map((s) => [s.name, { shards: {}, counts: emptyCounts() }])),
  };
}

export function loadCheckpoint(dir: string): Checkpoint | null {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!fs.existsSync(file)) return null;
  const data = JSON.parse(fs.readFileSync(file, 'utf8')) as Checkpoint;
  if (data.version !== 1) throw new Error(`${file}: unknown checkpoint version ${String(data.version)}`);
  return data;
}

export function saveCheckpoint(dir: string, checkpoint: Checkpoint): void {
  checkpoint.updatedAt = Date.now();
  writeFileAtomic(path.join(dir, CHECKPOINT_FILE), `${JSON.stringify(checkpoint, null, 1)}\n`);
}
