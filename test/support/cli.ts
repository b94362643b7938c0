// Runs the real `ferry` command line as a child process, the way a user runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/support/cli.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The `ferry` entry point. */
export const FERRY_BIN = path.join(REPO_ROOT, 'main', 'cli', 'bin.js');

export interface FerryResult {
  code: number | null;
  /** The signal that ended the process, if one did. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunFerryOptions {
  /** Extra environment variables (added to this process's environment). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** The process is killed (SIGKILL) after this long; the promise then rejects. Default 60 s. */
  timeoutMs?: number;
}

/**
 * A state directory for one test, so no test touches ~/.local/state. Also the default for
 * FERRY_STATE_DIR in every child this module starts.
 */
export function tmpDir(prefix = 'ferry-cli-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A fallback state root for children that are not given --state-dir (a safety net). */
const FALLBACK_STATE_ROOT = tmpDir('ferry-cli-state-');

function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_STATE_DIR: FALLBACK_STATE_ROOT, FERRY_DEBUG: undefined, ...extra };
  // Never let a CI-provided FERRY_DEBUG turn on stack traces that the tests say must not appear.
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Starts `ferry ARGS` and returns the child (for tests that watch or kill it while it runs). */
export function spawnFerry(args: string[], opts: Omit<RunFerryOptions, 'timeoutMs'> = {}): ChildProcess {
  return spawn(process.execPath, [FERRY_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: childEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `ferry ARGS` to the end and collects its exit code and output. */
export function runFerry(args: string[], opts: RunFerryOptions = {}): Promise<FerryResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawnFerry(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ferry ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Writes a job file into `dir` (named job.yaml, or job-2.yaml… if that exists) and returns its path. */
export function writeJob(dir: string, yamlText: string, name?: string): string {
  fs.mkdirSync(dir, { recursive: true });
  let file = path.join(dir, name ?? 'job.yaml');
  for (let i = 2; !name && fs.existsSync(file); i++) file = path.join(dir, `job-${i}.yaml`);
  fs.writeFileSync(file, yamlText);
  return file;
}

/** Lines that look like a JavaScript stack trace frame ("    at foo (file:1:2)"). */
export function stackTraceLines(text: string): string[] {
  return text.split('\n').filter((line) => /^\s+at\s/.test(line));
}

/** Parses NDJSON output (`ferry run --json`) into objects; lines that are not JSON are skipped. */
export function parseEvents(stdout: string): Array<Record<string, unknown> & { type: string }> {
  const out: Array<Record<string, unknown> & { type: string }> = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object' && 'type' in v) out.push(v as Record<string, unknown> & { type: string });
    } catch {
      /* not an event */
    }
  }
  return out;
}

/** Runs `work` over `items` in batches of `size` at a time (each CLI start costs ~0.5 s). */
export async function inBatches<T, R>(items: readonly T[], size: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await Promise.all(items.slice(i, i + size).map((item, j) => work(item, i + j)))));
  }
  return out;
}
