import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
import { JobFileError, loadJobFile } from '../engine/job/loadJob.js';
import { ResumeError } from '../engine/run/migration.js';
import { UnsupportedError } from '../engine/run/openEndpoints.js';
import { cutoverCommand, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, planCommand, runCommand, verifyCommand } from './commands.js';
import { runDemo } from './demo.js';
import { formatRdbSummary } from './rdbSummary.js';
import { inspectRdb } from '../engine/rdb/inspect.js';
import { RdbError } from '../engine/rdb/rdbErrors.js';
import type { TunnelChoices } from '../engine/tunnels/tunnelSet.js';
import { ensureRendererBuilt } from '../serve/rendererBuild.js';
import { startServer } from '../serve/server.js';

const USAGE = `Ferry moves Redis data between servers, data centers and clouds.

Usage:
  ferry plan JOB [--json FILE] [--html FILE] [--sample N] [--accept-new-host-keys]
      The dry run: read every endpoint and every selected key, write nothing, and report
      what will happen, how long it takes, what will hurt and what cannot work.
      Exit 0 when the plan has no blocker, 1 when it has one.
      --sample N   analyse N keys per source db instead of every key (labelled as a sample)
  ferry run JOB [--live] [--resume] [--json] [--latency] [--state-dir DIR] [--accept-new-host-keys]
      Copy every selected key of every source in the job file into the target.
      --live       follow each source's replication stream (a full sync, then every write)
                   until stopped with Ctrl-C; switch over with ferry cutover
      --resume     continue from the last checkpoint of this job (with --live: from each
                   source's saved replication offset)
      --json       print engine events as NDJSON instead of progress bars
      --latency    print each endpoint's latency (PING probe) once a second
      --accept-new-host-keys  trust SSH host keys seen for the first time and record them
                   in Ferry's own known_hosts (~/.config/ferry/known_hosts); a changed
                   key is always refused
  ferry verify JOB [--json] [--ttl-tolerance MS] [--state-dir DIR] [--accept-new-host-keys]
      Compare every selected source key with the target (type, value, TTL).
      --ttl-tolerance  TTLs may differ by this many ms (default 1000)
  ferry cutover JOB [--pause-writes S] [--timeout S] [--ttl-tolerance MS] [--json] [--state-dir DIR]
      With ferry run JOB --live running: wait until every source's stream is applied on the
      target (stop the application's writes first), verify every key, and say whether it is
      safe to switch. Exit 0 when safe, 1 when not (what differs, or what is behind).
      --pause-writes S  pause the sources' client writes (CLIENT PAUSE WRITE, Redis 6.2+),
                   S seconds or less, while catching up and verifying, instead of stopping
                   the application; the pause ends when the verify does
      --timeout S  give up waiting for the lag to reach 0 after S seconds (default 600)
  ferry rdb inspect FILE [--json] [--top N]
      Read an RDB file (Redis 2.4 to 8.0) once and report what is in it: the RDB and Redis
      versions, aux fields, functions, keys per db and per type (and encoding), TTLs, the
      biggest keys and an estimate of the memory the data takes in Redis. Writes nothing.
      Exit 0 when the file reads to its end, 1 when it is damaged (the offset is named).
      --json       print the inspection as JSON instead of tables
      --top N      list the N biggest keys (default 10)
  ferry demo [--keep] [--json]
      Start a local sandbox (3 legacy sources, a 3-node cluster target), migrate, verify.
      --keep       leave the sandbox servers running and print how to reach them
  ferry serve [--port N] [--work-dir DIR]
      The workbench in your browser: serves it on 127.0.0.1 only and prints its address, which
      carries a one-time access token. Ctrl-C stops it (and any run it started; a paused run's
      checkpoint stays). Secrets set in the workbench are kept in memory only.
      --port N       listen on port N (default: a free port)
      --work-dir DIR job state and the sandbox (default $FERRY_STATE_DIR/workbench,
                     else ~/.local/state/ferry/workbench)
  ferry help

Exit codes: 0 success, 1 failed or differences found, 2 bad input.
State (checkpoints, skipped-key journal, reports): $FERRY_STATE_DIR, else ~/.local/state/ferry.`;

/** Bad command line or job: exit 2. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return cmdRun(rest);
    case 'verify':
      return cmdVerify(rest);
    case 'cutover':
      return cmdCutover(rest);
    case 'demo':
      return cmdDemo(rest);
    case 'plan':
      return cmdPlan(rest);
    case 'serve':
      return cmdServe(rest);
    case 'rdb':
      return cmdRdb(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? EXIT_BAD_INPUT : EXIT_OK;
    default:
      throw new UsageError(`unknown command "${command}"; try: ferry help`);
  }
}

function parse(args: string[], options: ParseArgsOptionsConfig, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; try: ferry help`);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(positionals === 1 ? 'give one job file, e.g. ferry run job.yaml' : `unexpected argument "${parsed.positionals[0]}"`);
  }
  return parsed;
}

/** SSH host keys are never accepted silently: a new one only with this flag, and it is recorded. */
const HOST_KEY_FLAG: ParseArgsOptionsConfig = { 'accept-new-host-keys': { type: 'boolean' } };

function tunnelChoices(values: Record<string, unknown>): TunnelChoices {
  return { acceptNewHostKeys: Boolean(values['accept-new-host-keys']) };
}

async function cmdRun(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { live: { type: 'boolean' }, resume: { type: 'boolean' }, json: { type: 'boolean' }, latency: { type: 'boolean' }, 'state-dir': { type: 'string' }, ...HOST_KEY_FLAG },
    1,
  );
  const loaded = await loadJobFile(positionals[0]);
  return runCommand(loaded, {
    tunnels: tunnelChoices(values),
    live: Boolean(values.live),
    resume: Boolean(values.resume),
    json: Boolean(values.json),
    latency: Boolean(values.latency),
    stateDir: values['state-dir'] as string | undefined,
  });
}

async function cmdVerify(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, 'ttl-tolerance': { type: 'string' }, 'state-dir': { type: 'string' }, ...HOST_KEY_FLAG },
    1,
  );
  const loaded = await loadJobFile(positionals[0]);
  return verifyCommand(loaded, { json: Boolean(values.json), ttlToleranceMs: ttlTolerance(values), stateDir: values['state-dir'] as string | undefined, tunnels: tunnelChoices(values) });
}

function ttlTolerance(values: Record<string, unknown>): number {
  const given = values['ttl-tolerance'] as string | undefined;
  const tolerance = given === undefined ? 1000 : given.trim() === '' ? NaN : Number(given);
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new UsageError(`--ttl-tolerance must be a number of milliseconds >= 0, got "${String(given)}"`);
  return tolerance;
}

async function cmdCutover(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, timeout: { type: 'string' }, 'pause-writes': { type: 'string' }, 'ttl-tolerance': { type: 'string' }, 'state-dir': { type: 'string' }, ...HOST_KEY_FLAG },
    1,
  );
  const timeout = seconds(values.timeout as string | undefined, '--timeout') ?? 600;
  const pause = seconds(values['pause-writes'] as string | undefined, '--pause-writes');
  const tolerance = ttlTolerance(values);
  const loaded = await loadJobFile(positionals[0]);
  return cutoverCommand(loaded, {
    json: Boolean(values.json),
    timeoutMs: timeout * 1000,
    ...(pause !== null && { pauseWritesMs: pause * 1000 }),
    ttlToleranceMs: tolerance,
    stateDir: values['state-dir'] as string | undefined,
    tunnels: tunnelChoices(values),
  });
}

/** A flag's number of seconds (> 0), or null when not given. */
function seconds(given: string | undefined, flag: string): number | null {
  if (given === undefined) return null;
  const n = /^\d+(\.\d+)?$/.test(given.trim()) ? Number(given) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a number of seconds > 0, got "${given}"`);
  return n;
}

async function cmdPlan(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'string' }, html: { type: 'string' }, sample: { type: 'string' }, ...HOST_KEY_FLAG }, 1);
  const given = values.sample as string | undefined;
  const sample = given === undefined ? null : /^\d+$/.test(given.trim()) && Number(given) > 0 ? Number(given) : NaN;
  if (Number.isNaN(sample)) throw new UsageError(`--sample must be a whole number of keys > 0, got "${String(given)}"`);
  const loaded = await loadJobFile(positionals[0]);
  return planCommand(loaded, { jsonFile: values.json as string | undefined, htmlFile: values.html as string | undefined, sample, tunnels: tunnelChoices(values) });
}

async function cmdRdb(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'inspect') throw new UsageError(sub === undefined ? 'give a subcommand: ferry rdb inspect FILE' : `unknown rdb subcommand "${sub}"; try: ferry rdb inspect FILE`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { json: { type: 'boolean' }, top: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; try: ferry help`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give one RDB file, e.g. ferry rdb inspect dump.rdb' : `unexpected argument "${positionals[1]}"`);
  const given = values.top;
  const top = given === undefined ? 10 : /^\d+$/.test(given.trim()) ? Number(given) : NaN;
  if (Number.isNaN(top)) throw new UsageError(`--top must be a whole number of keys >= 0, got "${String(given)}"`);
  const file = positionals[0];
  let inspection;
  try {
    inspection = await inspectRdb(file, { top });
  } catch (err) {
    if (err instanceof RdbError) throw new Error(`the RDB file ${file} cannot be read: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`cannot read the RDB file ${file}: no such file`);
    if (code === 'EISDIR') throw new UsageError(`cannot read the RDB file ${file}: it is a directory, not a file`);
    if (code === 'EACCES' || code === 'EPERM') throw new UsageError(`cannot read the RDB file ${file}: permission denied`);
    if (code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP') throw new UsageError(`cannot read the RDB file ${file}: ${(err as Error).message}`);
    throw err;
  }
  process.stdout.write(values.json ? `${JSON.stringify(inspection, null, 2)}\n` : `${formatRdbSummary(inspection)}\n`);
  return EXIT_OK;
}

async function cmdDemo(args: string[]): Promise<number> {
  const { values } = parse(args, { keep: { type: 'boolean' }, json: { type: 'boolean' } }, 0);
  return runDemo({ keep: Boolean(values.keep), json: Boolean(values.json) });
}

/** The repository root: two levels up from both main/cli/main.ts and the bundle out/cli/ferry.mjs. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function cmdServe(args: string[]): Promise<number> {
  const { values } = parse(args, { port: { type: 'string' }, 'work-dir': { type: 'string' } }, 0);
  const given = values.port as string | undefined;
  const port = given === undefined ? undefined : /^\d+$/.test(given.trim()) && Number(given) <= 65535 ? Number(given) : NaN;
  if (Number.isNaN(port)) throw new UsageError(`--port must be a port number from 0 to 65535, got "${String(given)}"`);
  const stateRoot = process.env.FERRY_STATE_DIR;
  const workDir = path.resolve((values['work-dir'] as string | undefined) ?? (stateRoot ? path.join(stateRoot, 'workbench') : path.join(os.homedir(), '.local', 'state', 'ferry', 'workbench')));
  const staticDir = await ensureRendererBuilt(ROOT);
  const server = await startServer({ port, host: '127.0.0.1', staticDir, workDir });
  await new Promise<void>((resolve) => process.stdout.write(`Ferry workbench: ${server.url}\n`, () => resolve()));
  // First Ctrl-C stops cleanly (runs keep their checkpoints); a second one leaves at once.
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      process.once('SIGINT', () => process.exit(130));
      process.stderr.write('\nStopping the workbench (runs stop after the keys in flight; Ctrl-C again to quit now)...\n');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return EXIT_OK;
}

function exitCodeFor(err: unknown): number {
  return err instanceof JobFileError || err instanceof UsageError || err instanceof ResumeError || err instanceof UnsupportedError ? EXIT_BAD_INPUT : EXIT_FAILED;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`ferry: ${message}\n`);
    if (process.env.FERRY_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(exitCodeFor(err));
  },
);
