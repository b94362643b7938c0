import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EngineEvent } from '../../shared/events.js';
import { EventBus } from '../../main/engine/events/eventBus.js';
import { parseJobText, type LoadedJob } from '../../main/engine/job/loadJob.js';
import { runMigration, type RunOptions, type RunResult } from '../../main/engine/run/migration.js';
import { verifyJob, type VerifyOptions, type VerifyResult } from '../../main/engine/verify/verifier.js';

/** A job from YAML text, as the CLI would load it, with a fresh state directory. */
export function jobFromYaml(yaml: string): { loaded: LoadedJob; stateDir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-job-'));
  const loaded = parseJobText(yaml, { baseDir: dir, fileName: 'job.yaml' });
  return { loaded, stateDir: path.join(dir, 'state') };
}

/** Runs the migration in this process; returns its result and every event it sent. */
export async function migrate(job: { loaded: LoadedJob; stateDir: string }, resume = false, extra: Partial<RunOptions> = {}): Promise<RunResult & { events: EngineEvent[] }> {
  fs.mkdirSync(job.stateDir, { recursive: true });
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.on((e) => events.push(e));
  const result = await runMigration(job.loaded, { resume, stateDir: job.stateDir, ...extra }, bus);
  return { ...result, events };
}

export async function verify(job: { loaded: LoadedJob; stateDir: string }, ttlToleranceMs = 1000, extra: Partial<VerifyOptions> = {}): Promise<VerifyResult & { events: EngineEvent[] }> {
  fs.mkdirSync(job.stateDir, { recursive: true });
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.on((e) => events.push(e));
  const result = await verifyJob(job.loaded, { stateDir: job.stateDir, ttlToleranceMs, ...extra }, bus);
  return { ...result, events };
}

export function totalDifferences(result: VerifyResult): number {
  const d = result.differences;
  return d.missing + d.type + d.value + d.ttl;
}
