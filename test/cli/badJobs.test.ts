// `ferry run` / `ferry verify` with bad job files and bad command lines: exit 2, a message that
// names the problem, no stack trace, no password. Runs the real CLI as a child process.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { badJobs, UNSET_ENV_VAR, type BadJob } from '../support/badJobs.js';
import { inBatches, runFerry, stackTraceLines, tmpDir, writeJob, type FerryResult } from '../support/cli.js';

const BATCH = 6;
const work = tmpDir('ferry-cli-badjobs-');
const stateDir = path.join(work, 'state');

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Runs `ferry <command> <job file of bad>` for a bad job, in its own directory. */
function runBad(command: 'run' | 'verify', bad: BadJob, i: number, extra: string[] = []): Promise<FerryResult> {
  const file = writeJob(path.join(work, `${command}-${i}`), bad.yaml);
  return runFerry([command, file, ...extra, '--state-dir', stateDir], { env: { ...bad.env, FERRY_STATE_DIR: stateDir } });
}

function expectRefused(result: FerryResult, bad: BadJob): void {
  const output = `${result.stdout}\n${result.stderr}`;
  expect(result.code, `exit code; stderr:\n${result.stderr}`).toBe(2);
  for (const fragment of bad.expect) expect(result.stderr).toContain(fragment);
  for (const secret of bad.mustNotContain ?? []) expect(output).not.toContain(secret);
  expect(stackTraceLines(output)).toEqual([]);
  // The message comes on stderr; nothing was started, so nothing on stdout.
  expect(result.stdout.trim()).toBe('');
}

describe('ferry run with a bad job file', () => {
  const results: FerryResult[] = [];

  beforeAll(async () => {
    expect(process.env[UNSET_ENV_VAR]).toBeUndefined();
    results.push(...(await inBatches(badJobs, BATCH, (bad, i) => runBad('run', bad, i))));
  }, 120_000);

  it('has cases to run', () => expect(badJobs.length).toBeGreaterThanOrEqual(20));

  it.each(badJobs.map((bad, i) => [bad.title, i] as const))('%s: exit 2 with the message', (_title, i) => {
    expectRefused(results[i], badJobs[i]);
    // The heading names the job file.
    expect(results[i].stderr).toMatch(/^ferry: job file \S+job\.yaml: \d+ problems?$/m);
  });

  it('writes no state for a job it refused', () => {
    expect(fs.existsSync(path.join(stateDir, 'checkpoint.json'))).toBe(false);
  });
});

describe('ferry verify with a bad job file', () => {
  const picked = [
    badJobs.find((b) => b.title.startsWith('not YAML')),
    badJobs.find((b) => b.title.startsWith('url with a port out of range')),
    badJobs.find((b) => b.title.startsWith('password from the environment in a bad url')),
    badJobs.find((b) => b.title.startsWith('several problems')),
  ].filter((b): b is BadJob => b !== undefined);

  it('found the picked cases', () => expect(picked.length).toBe(4));

  it('refuses each with exit 2 and the same message as run', async () => {
    const results = await inBatches(picked, BATCH, (bad, i) => runBad('verify', bad, i, ['--ttl-tolerance', '500']));
    results.forEach((r, i) => expectRefused(r, picked[i]));
  });
});

describe('command line errors', () => {
  const goodJob = writeJob(
    path.join(work, 'good'),
    'name: t\nsources:\n  - { name: a, url: "redis://127.0.0.1:1" }\ntarget: { url: "redis://127.0.0.1:2" }\n',
  );
  const missing = path.join(work, 'no-such-dir', 'nope.yaml');

  interface Case {
    title: string;
    args: string[];
    code: number;
    /** Regexps the output (stdout + stderr) must match. */
    says: RegExp[];
  }
  const cases: Case[] = [
    { title: 'unknown command', args: ['frobnicate', goodJob], code: 2, says: [/unknown command "frobnicate"/, /ferry help/] },
    { title: 'run without a job', args: ['run', '--state-dir', stateDir], code: 2, says: [/give one job file/] },
    { title: 'verify without a job', args: ['verify', '--state-dir', stateDir], code: 2, says: [/give one job file/] },
    { title: 'run with two jobs', args: ['run', goodJob, goodJob, '--state-dir', stateDir], code: 2, says: [/give one job file/] },
    { title: 'unknown flag on run', args: ['run', goodJob, '--fast', '--state-dir', stateDir], code: 2, says: [/--fast/, /ferry help/] },
    { title: 'unknown flag on verify', args: ['verify', goodJob, '--resume', '--state-dir', stateDir], code: 2, says: [/--resume/, /ferry help/] },
    { title: '--state-dir without a value', args: ['run', goodJob, '--state-dir'], code: 2, says: [/--state-dir/] },
    {
      title: '--ttl-tolerance abc',
      args: ['verify', goodJob, '--ttl-tolerance', 'abc', '--state-dir', stateDir],
      code: 2,
      says: [/--ttl-tolerance must be a number of milliseconds/, /"abc"/],
    },
    {
      // Number('') is 0: an empty value must not silently mean "no tolerance at all".
      title: '--ttl-tolerance with an empty value',
      args: ['verify', goodJob, '--ttl-tolerance', '', '--state-dir', stateDir],
      code: 2,
      says: [/--ttl-tolerance must be a number of milliseconds/],
    },
    {
      title: '--ttl-tolerance -5',
      args: ['verify', goodJob, '--ttl-tolerance=-5', '--state-dir', stateDir],
      code: 2,
      says: [/--ttl-tolerance must be a number of milliseconds >= 0/],
    },
    { title: 'a job file that does not exist (run)', args: ['run', missing, '--state-dir', stateDir], code: 2, says: [new RegExp(escape(missing)), /no such file/i] },
    { title: 'a job file that does not exist (verify)', args: ['verify', missing, '--state-dir', stateDir], code: 2, says: [new RegExp(escape(missing)), /no such file/i] },
    { title: 'a directory as the job file', args: ['run', work, '--state-dir', stateDir], code: 2, says: [new RegExp(escape(work))] },
    { title: 'demo with an argument', args: ['demo', 'extra'], code: 2, says: [/unexpected argument "extra"/] },
    { title: 'help', args: ['help'], code: 0, says: [/Usage:/, /ferry run JOB/, /ferry verify JOB/, /Exit codes/] },
    { title: '--help', args: ['--help'], code: 0, says: [/Usage:/] },
    { title: 'no command at all', args: [], code: 2, says: [/Usage:/] },
  ];

  const results: FerryResult[] = [];
  beforeAll(async () => {
    results.push(...(await inBatches(cases, BATCH, (c) => runFerry(c.args, { env: { FERRY_STATE_DIR: stateDir } }))));
  }, 60_000);

  it.each(cases.map((c, i) => [c.title, i] as const))('%s', (_title, i) => {
    const c = cases[i];
    const r = results[i];
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.code, `exit code; output:\n${output}`).toBe(c.code);
    for (const re of c.says) expect(output).toMatch(re);
    expect(stackTraceLines(output)).toEqual([]);
    if (c.code === 2 && c.args.length > 0) {
      // An error is on stderr, prefixed like every ferry message.
      expect(r.stderr).toMatch(/^ferry: /);
    }
    if (c.code === 0) expect(r.stderr).toBe('');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
