// The real `ferry run --live` and `ferry cutover` processes: follow a source, stop with Ctrl-C,
// continue with --live --resume (a partial resync from the saved offset), switch over; and the
// failures a user can cause, each with a clear message and a non-zero exit.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redisServers.js';
import { runFerry, spawnFerry, stackTraceLines, tmpDir, writeJob } from '../support/cli.js';
import { connectTo } from '../support/dataset.js';

const work = tmpDir('ferry-cli-live-');
let source: RedisServer;
let target: RedisServer;

beforeAll(async () => {
  [source, target] = await Promise.all([startRedis({ args: ['--repl-diskless-sync-delay', '0'] }), startRedis()]);
  for (let i = 0; i < 2000; i++) await source.cli('SET', `k:${i}`, `v${i}`).catch(() => undefined);
}, 120_000);

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  fs.rmSync(work, { recursive: true, force: true });
});

/** Starts `ferry run --live`, collecting its output; resolves once it prints that it streams. */
function startLive(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null>; streaming: Promise<void> } {
  const child = spawnFerry(['run', ...args, '--live']);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const streaming = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (/: streaming/.test(out)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    void exited.then(() => {
      clearInterval(timer);
      reject(new Error(`ferry run --live exited before streaming:\n${out}`));
    });
  });
  return { child, output: () => out, exited, streaming };
}

describe('ferry run --live, Ctrl-C, --live --resume, ferry cutover', () => {
  it('follows, stops on SIGINT with exit 0, resumes from the saved offset (partial resync), and cutover says safe to switch', async () => {
    const stateDir = path.join(work, 'state');
    const job = writeJob(work, `name: live-cli\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n`);
    const first = startLive([job, '--state-dir', stateDir]);
    await first.streaming;
    await source.cli('SET', 'during:first', 'one');
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('--live --resume');
    expect(stackTraceLines(first.output())).toEqual([]);

    // Written while no Ferry runs: the source's backlog holds it.
    for (let i = 0; i < 100; i++) await source.cli('SET', `between:${i}`, `b${i}`);
    const second = startLive([job, '--resume', '--state-dir', stateDir]);
    await second.streaming;
    expect(second.output()).toMatch(/streaming \(partial resync\)/);
    expect(second.output()).not.toMatch(/full-sync/);
    await source.cli('DEL', 'k:7');

    const cut = await runFerry(['cutover', job, '--state-dir', stateDir, '--timeout', '60'], { timeoutMs: 90_000 });
    expect(cut.stdout).toContain('Safe to switch');
    expect(cut.code).toBe(0);
    expect(await target.cli('GET', 'between:99')).toBe('b99');
    expect(await target.cli('EXISTS', 'k:7')).toBe('0');
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('while the application keeps writing: cutover without a pause is NOT safe; with --pause-writes it is, and the writes go on after', async () => {
    const dir = path.join(work, 'busy');
    const stateDir = path.join(dir, 'state');
    const job = writeJob(dir, `name: live-busy\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\noptions: { onConflict: replace }\n`);
    const live = startLive([job, '--state-dir', stateDir]);
    await live.streaming;
    // The application: a write every few ms, through its own connection, for the whole test.
    const app = await connectTo(source.port, 0);
    let writing = true;
    let n = 0;
    const loop = (async () => {
      while (writing) {
        await app.call('SET', `app:${n % 200}`, `w${n}`);
        n++;
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    try {
      const busy = await runFerry(['cutover', job, '--state-dir', stateDir, '--timeout', '20'], { timeoutMs: 60_000 });
      expect(busy.code).toBe(1);
      expect(busy.stdout).toContain('NOT safe to switch');
      const paused = await runFerry(['cutover', job, '--state-dir', stateDir, '--pause-writes', '30'], { timeoutMs: 60_000 });
      expect(paused.stdout).toContain('Safe to switch');
      expect(paused.code).toBe(0);
      const before = n;
      await new Promise((r) => setTimeout(r, 300));
      expect(n).toBeGreaterThan(before);
    } finally {
      writing = false;
      await loop;
      app.close();
      live.child.kill('SIGINT');
      await live.exited;
    }
  }, 120_000);

  it('cutover with no live run: exit 1, says how to start one', async () => {
    const dir = path.join(work, 'none');
    const job = writeJob(dir, `name: not-live\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n`);
    const r = await runFerry(['cutover', job, '--state-dir', path.join(dir, 'state')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no live run of it is running');
    expect(r.stderr).toContain('ferry run JOB --live');
    expect(stackTraceLines(r.stderr)).toEqual([]);
  }, 30_000);

  it('--live with an RDB file source: exit 2, names the field; --live --resume with no live checkpoint: exit 2', async () => {
    const dir = path.join(work, 'bad');
    const rdbJob = writeJob(dir, `name: live-rdb\nsources:\n  - { name: dump, rdb: ./dump.rdb }\ntarget: { url: "${target.url}" }\n`);
    const r1 = await runFerry(['run', rdbJob, '--live', '--state-dir', path.join(dir, 's1')]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('sources[0].rdb');
    const liveJob = writeJob(dir, `name: live-new\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n`);
    const r2 = await runFerry(['run', liveJob, '--live', '--resume', '--state-dir', path.join(dir, 's2')]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('no live checkpoint');
  }, 30_000);

  it('a source that refuses SYNC, PSYNC and CONFIG with notifications off: exit 1, names the source and the exact setting to ask for', async () => {
    const locked = await startRedis({ args: ['--rename-command', 'PSYNC', '', '--rename-command', 'SYNC', '', '--rename-command', 'CONFIG', ''] });
    try {
      const dir = path.join(work, 'refused');
      const job = writeJob(dir, `name: refused\nsources:\n  - { name: managed, url: "${locked.url}" }\ntarget: { url: "${target.url}" }\n`);
      const r = await runFerry(['run', job, '--live', '--state-dir', path.join(dir, 'state')], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toContain('managed');
      expect(r.stdout + r.stderr).toMatch(/refuses SYNC and PSYNC/);
      expect(r.stdout + r.stderr).toMatch(/notify-keyspace-events to "K/);
      expect(stackTraceLines(r.stdout + r.stderr)).toEqual([]);
    } finally {
      await locked.stop();
    }
  }, 40_000);
});
