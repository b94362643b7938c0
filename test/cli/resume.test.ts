// `ferry run` killed with SIGKILL in the middle of a big copy, then `--resume`: the target ends up
// equal to the source, and the resumed run never takes its own earlier writes for conflicts.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redisServers.js';
import { pipe, resp, type Arg } from '../support/redisPipe.js';
import { parseEvents, runFerry, spawnFerry, stackTraceLines, tmpDir, writeJob, type FerryResult } from '../support/cli.js';
import { rng } from '../../main/engine/sandbox/sandboxData.js';

const work = tmpDir('ferry-cli-resume-');
const servers: RedisServer[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  fs.rmSync(work, { recursive: true, force: true });
});

async function server(): Promise<RedisServer> {
  const s = await startRedis();
  servers.push(s);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Filling a source fast: RESP sent through `redis-cli --pipe` (test/support/redisPipe.ts).
// ---------------------------------------------------------------------------------------------

const HOUR = 3_600_000;


/**
 * ~`strings` plain strings (a fifth with a TTL of hours) plus hashes, lists, sets, zsets, binary
 * keys, and streams with a consumer group and pending entries. Returns the number of keys.
 */
async function fillSource(port: number, strings: number): Promise<number> {
  const rand = rng(42);
  const cmds: Buffer[] = [];
  let keys = 0;
  const filler = 'v'.repeat(60);
  for (let n = 0; n < strings; n++) {
    const args: Arg[] = ['SET', `str:${n}`, `${filler}${n}`];
    if (n % 5 === 0) args.push('PX', Math.floor(2 * HOUR + rand() * HOUR));
    cmds.push(resp(args));
  }
  keys += strings;
  for (let n = 0; n < 3_000; n++) {
    const fields: Arg[] = [];
    for (let f = 0; f < 3 + (n % 8); f++) fields.push(`field-${f}`, `value-${Math.floor(rand() * 1e6)}`);
    cmds.push(resp(['HSET', `hash:${n}`, ...fields]));
    cmds.push(resp(['RPUSH', `list:${n}`, ...Array.from({ length: 2 + (n % 10) }, (_, i) => `item-${i}-${n}`)]));
    cmds.push(resp(['SADD', `set:${n}`, ...Array.from({ length: 2 + (n % 7) }, (_, i) => `member-${i * 7}`)]));
    const scored: Arg[] = [];
    for (let i = 0; i < 3 + (n % 9); i++) scored.push((rand() * 1000 - 200).toFixed(n % 4), `player-${i}`);
    cmds.push(resp(['ZADD', `zset:${n}`, ...scored]));
    if (n % 10 === 0) cmds.push(resp(['PEXPIRE', `hash:${n}`, Math.floor(3 * HOUR + rand() * HOUR)]));
  }
  keys += 12_000;
  // A big hash and a big list (more elements than the default bigKey.elements).
  for (let c = 0; c < 4; c++) {
    const fields: Arg[] = [];
    for (let f = 0; f < 5_000; f++) fields.push(`sku-${c * 5000 + f}`, `price-${f}`);
    cmds.push(resp(['HSET', 'big:hash', ...fields]));
    cmds.push(resp(['RPUSH', 'big:list', ...Array.from({ length: 5_000 }, (_, i) => `entry-${c * 5000 + i}`)]));
  }
  keys += 2;
  // Streams with a consumer group, some entries read (pending), one acknowledged.
  for (let n = 0; n < 30; n++) {
    const key = `stream:${n}`;
    for (let e = 1; e <= 40; e++) cmds.push(resp(['XADD', key, `${1546300800000 + n * 1000 + e}-0`, 'kind', `k${e % 4}`, 'n', e]));
    cmds.push(resp(['XGROUP', 'CREATE', key, 'billing', '0']));
    cmds.push(resp(['XREADGROUP', 'GROUP', 'billing', `worker-${n % 3}`, 'COUNT', 10, 'STREAMS', key, '>']));
    cmds.push(resp(['XACK', key, 'billing', `${1546300800000 + n * 1000 + 1}-0`]));
    if (n % 3 === 0) cmds.push(resp(['XGROUP', 'CREATE', key, 'audit', '$']));
  }
  keys += 30;
  // Keys that are not text.
  for (let n = 0; n < 200; n++) {
    const key = Buffer.from([0x00, 0xff, n, 0x0d, 0x0a, Math.floor(rand() * 256), 0x80, 0x00]);
    cmds.push(resp(['SET', Buffer.concat([Buffer.from('bin:'), key]), Buffer.from([0xff, 0x00, n, 0x80])]));
  }
  keys += 200;
  cmds.push(resp(['SET', 'empty', '']), resp(['SET', 'ключ:東京:🚀', 'значение ✓']));
  keys += 2;
  // In batches, so no single write to redis-cli is enormous.
  for (let i = 0; i < cmds.length; i += 100_000) await pipe(port, cmds.slice(i, i + 100_000));
  return keys;
}

// ---------------------------------------------------------------------------------------------

function jobYaml(source: RedisServer, target: RedisServer, options = ''): string {
  return `name: big-move\nsources:\n  - { name: legacy, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n${options ? `options: ${options}\n` : ''}`;
}

const output = (r: FerryResult) => `${r.stdout}\n${r.stderr}`;

interface Checkpoint {
  finished: boolean;
  selection: string;
  sources: Record<string, { shards: Record<string, { cursor: string; complete: boolean }> }>;
}

interface Killed {
  /** The last progress event seen before the kill. */
  written: number;
  total: number;
  events: number;
}

/**
 * Starts `ferry run --json`, waits for a progress event with more than `fraction` of the keys
 * written, then SIGKILLs it. Rejects if the run ends first (then the source needs more keys).
 */
function runAndKill(args: string[], env: Record<string, string>, fraction: number): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const child = spawnFerry(args, { env });
    let buffered = '';
    let stderr = '';
    let seen: Killed | null = null;
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no progress past ${fraction} within 40 s; stderr: ${stderr}`));
    }, 40_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (killed) return;
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const event of parseEvents(lines.join('\n'))) {
        if (event.type === 'run-finished') {
          killed = true;
          clearTimeout(timer);
          reject(new Error(`the run finished before it could be killed (${JSON.stringify(event.counts)}): give the source more keys`));
          return;
        }
        if (event.type !== 'progress') continue;
        const counts = event.counts as { written: number };
        const total = event.total as number;
        seen = { written: counts.written, total, events: (seen?.events ?? 0) + 1 };
        if (counts.written > fraction * total) {
          killed = true;
          child.kill('SIGKILL');
          return;
        }
      }
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && seen) resolve(seen);
      else reject(new Error(`ferry ended by itself (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

describe('ferry run, killed with SIGKILL, then --resume', () => {
  let source: RedisServer;
  let target: RedisServer;
  let keys: number;
  let jobFile: string;
  const stateDir = path.join(work, 'state');
  const env = { FERRY_STATE_DIR: stateDir };
  let killed: Killed;
  let targetKeysAfterKill: number;

  beforeAll(async () => {
    [source, target] = await Promise.all([server(), server()]);
    const started = Date.now();
    keys = await fillSource(source.port, 300_000);
    expect(Number(await source.cli('DBSIZE'))).toBe(keys);
    console.log(`filled ${keys} keys in ${Date.now() - started} ms`);
    jobFile = writeJob(work, jobYaml(source, target));
  }, 60_000);

  it('--resume with no checkpoint: exit 2, says there is nothing to resume from', async () => {
    const empty = path.join(work, 'empty-state');
    const r = await runFerry(['run', jobFile, '--resume', '--state-dir', empty], { env: { FERRY_STATE_DIR: empty } });
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toMatch(/no checkpoint/);
    expect(r.stderr).toContain(empty);
    expect(r.stderr).toMatch(/without --resume/);
    expect(stackTraceLines(output(r))).toEqual([]);
    expect(await target.cli('DBSIZE')).toBe('0');
  });

  it('a run killed with SIGKILL after >20% of the keys leaves partial data and a checkpoint', async () => {
    const started = Date.now();
    killed = await runAndKill(['run', jobFile, '--json', '--state-dir', stateDir], env, 0.2);
    console.log(`killed after ${Date.now() - started} ms at ${killed.written}/${killed.total} written (${killed.events} progress events)`);
    expect(killed.total).toBe(keys);
    targetKeysAfterKill = Number(await target.cli('DBSIZE'));
    expect(targetKeysAfterKill).toBeGreaterThanOrEqual(killed.written);
    expect(targetKeysAfterKill).toBeLessThan(keys);
    const checkpoint = JSON.parse(fs.readFileSync(path.join(stateDir, 'checkpoint.json'), 'utf8')) as Checkpoint;
    expect(checkpoint.finished).toBe(false);
    expect(checkpoint.sources.legacy).toBeDefined();
  });

  it('--resume after the include filter changed: exit 2, explains the selection changed, writes nothing', async () => {
    const changed = writeJob(path.join(work, 'changed'), jobYaml(source, target, '{ include: ["str:*"] }'));
    const r = await runFerry(['run', changed, '--resume', '--state-dir', stateDir], { env });
    expect(r.code, output(r)).toBe(2);
    expect(r.stderr).toMatch(/changed since the checkpoint/);
    expect(r.stderr).toMatch(/filters/);
    expect(r.stderr).toMatch(/without --resume/);
    expect(stackTraceLines(output(r))).toEqual([]);
    expect(Number(await target.cli('DBSIZE'))).toBe(targetKeysAfterKill);
    const checkpoint = JSON.parse(fs.readFileSync(path.join(stateDir, 'checkpoint.json'), 'utf8')) as Checkpoint;
    expect(checkpoint.finished).toBe(false);
  });

  it('--resume finishes the copy: exit 0, no conflicts with its own earlier writes', async () => {
    const r = await runFerry(['run', jobFile, '--resume', '--state-dir', stateDir], { env, timeoutMs: 55_000 });
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toMatch(/^Resuming job big-move/m);
    expect(r.stdout).toMatch(/^Done in /m);
    expect(output(r)).not.toMatch(/already exists on the target/);
    expect(stackTraceLines(output(r))).toEqual([]);
    const report = JSON.parse(fs.readFileSync(path.join(stateDir, 'run-report.json'), 'utf8')) as {
      outcome: string;
      counts: Record<string, number>;
    };
    console.log(`resume report: ${JSON.stringify(report.counts)}`);
    expect(report.outcome).toBe('done');
    expect(report.counts.errors).toBe(0);
    expect(report.counts.skipped).toBe(0);
    // Every key was written by one run or the other (the killed run's last writes were seen again).
    expect(report.counts.written + report.counts.unchanged).toBeGreaterThanOrEqual(keys);
    expect(Number(await target.cli('DBSIZE'))).toBe(Number(await source.cli('DBSIZE')));
  }, 60_000);

  it('ferry verify passes with 0 differences', async () => {
    const r = await runFerry(['verify', jobFile, '--state-dir', stateDir], { env, timeoutMs: 55_000 });
    expect(r.code, output(r)).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Compared ${keys.toLocaleString('en-US')} keys in [\\d.]+ s: ${keys.toLocaleString('en-US')} equal, 0 differ`));
    expect(r.stdout).toMatch(/Verify passed/);
    expect(Number(await target.cli('DBSIZE'))).toBe(keys);
  }, 60_000);

  it('the copy holds the streams consumer groups, pending entries and TTLs', async () => {
    for (const db of [source, target]) {
      expect(await db.cli('XPENDING', 'stream:7', 'billing')).toMatch(/^9\n/);
    }
    expect(await target.cli('XINFO', 'GROUPS', 'stream:9')).toBe(await source.cli('XINFO', 'GROUPS', 'stream:9'));
    const ttl = Number(await target.cli('PTTL', 'str:10'));
    expect(ttl).toBeGreaterThan(HOUR);
    expect(Math.abs(ttl - Number(await source.cli('PTTL', 'str:10')))).toBeLessThan(5_000);
    expect(await target.cli('PTTL', 'str:11')).toBe('-1');
  });

  it('--resume after the run finished: exit 0, says there is nothing to resume', async () => {
    const before = await target.cli('DBSIZE');
    const r = await runFerry(['run', jobFile, '--resume', '--state-dir', stateDir], { env });
    expect(r.code, output(r)).toBe(0);
    expect(output(r)).toMatch(/already finished; nothing to resume/);
    expect(stackTraceLines(output(r))).toEqual([]);
    expect(await target.cli('DBSIZE')).toBe(before);
  });
});

describe('Ctrl-C (SIGINT) during a run, then --resume', () => {
  let source: RedisServer;
  let target: RedisServer;
  let keys: number;
  let jobFile: string;
  let stopped: FerryResult;
  const stateDir = path.join(work, 'sigint-state');
  const env = { FERRY_STATE_DIR: stateDir };

  beforeAll(async () => {
    [source, target] = await Promise.all([server(), server()]);
    keys = await fillSource(source.port, 150_000);
    jobFile = writeJob(path.join(work, 'sigint'), jobYaml(source, target));
  }, 60_000);

  it('stops cleanly: keys in flight written, checkpoint saved, a non-zero exit, "Stopped"', async () => {
    const child = spawnFerry(['run', jobFile, '--state-dir', stateDir], { env });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
    let ended = false;
    void closed.then(() => (ended = true));
    const deadline = Date.now() + 30_000;
    // Interrupt once the copy is well under way (polling the target, no fixed sleep).
    while (Number(await target.cli('DBSIZE')) < 10_000) {
      if (ended) throw new Error(`the run ended before it could be interrupted:\n${stdout}\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`no copy progress within 30 s:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const { code, signal } = await closed;
    stopped = { code, signal, stdout, stderr };
    expect(signal, output(stopped)).toBeNull();
    expect(code, output(stopped)).not.toBe(0);
    expect(stderr).toMatch(/Stopping after the keys in flight/);
    expect(stdout).toMatch(/^Stopped in /m);
    expect(stackTraceLines(output(stopped))).toEqual([]);
    const checkpoint = JSON.parse(fs.readFileSync(path.join(stateDir, 'checkpoint.json'), 'utf8')) as Checkpoint;
    expect(checkpoint.finished).toBe(false);
    expect(Number(await target.cli('DBSIZE'))).toBeLessThan(keys);
  }, 45_000);

  it('the stop message says how to continue: this job file with --resume', () => {
    expect(stopped.stdout).toMatch(/--resume/);
    // The job file is ${work}/sigint/job.yaml; the job's name (big-move) is not a file name.
    expect(stopped.stdout).toContain(jobFile);
  });

  it('--resume completes the copy and verify passes', async () => {
    const r = await runFerry(['run', jobFile, '--resume', '--state-dir', stateDir], { env, timeoutMs: 55_000 });
    expect(r.code, output(r)).toBe(0);
    expect(output(r)).not.toMatch(/already exists on the target/);
    expect(Number(await target.cli('DBSIZE'))).toBe(keys);
    const v = await runFerry(['verify', jobFile, '--state-dir', stateDir], { env, timeoutMs: 55_000 });
    expect(v.code, output(v)).toBe(0);
    expect(v.stdout).toMatch(/ 0 differ/);
  }, 60_000);
});

describe('--resume after a conflict stopped the run', () => {
  it('copies the conflicting key once it is deleted on the target, as the message says', async () => {
    const [source, target] = await Promise.all([server(), server()]);
    const cmds: Buffer[] = [];
    for (let n = 0; n < 2_000; n++) cmds.push(resp(['SET', `k:${n}`, `value-${n}`]));
    await pipe(source.port, cmds);
    await target.cli('SET', 'k:777', 'the target had this already');
    const dir = path.join(work, 'conflict');
    const file = writeJob(dir, jobYaml(source, target));
    const stateDir = path.join(dir, 'state');
    const env = { FERRY_STATE_DIR: stateDir };

    const first = await runFerry(['run', file, '--state-dir', stateDir], { env });
    expect(first.code, output(first)).toBe(1);
    expect(output(first)).toMatch(/key "k:777" \(db 0\) from source legacy already exists on the target/);
    expect(output(first)).toMatch(/--resume/);
    expect(await target.cli('GET', 'k:777')).toBe('the target had this already');

    await target.cli('DEL', 'k:777');
    const resumed = await runFerry(['run', file, '--resume', '--state-dir', stateDir], { env });
    expect(resumed.code, output(resumed)).toBe(0);
    expect(await target.cli('GET', 'k:777')).toBe('value-777');
    expect(await target.cli('DBSIZE')).toBe('2000');
    const v = await runFerry(['verify', file, '--state-dir', stateDir], { env });
    expect(v.code, output(v)).toBe(0);
  });
});
