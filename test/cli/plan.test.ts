import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTo, everyTypeCommands, sendAll, EVERY_TYPE_KEYS } from '../support/dataset.js';
import { runFerry, stackTraceLines, tmpDir, writeJob } from '../support/cli.js';
import { freePort, startRedis, type RedisServer } from '../support/redisServers.js';

let source: RedisServer;
let target: RedisServer;
let dir: string;

beforeAll(async () => {
  [source, target] = await Promise.all([startRedis(), startRedis()]);
  const conn = await connectTo(source.port);
  await sendAll(conn, everyTypeCommands());
  conn.close();
  dir = tmpDir('ferry-plan-cli-');
});
afterAll(async () => {
  await Promise.all([source.stop(), target.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('ferry plan', () => {
  it('writes the plan as JSON and HTML, prints the summary, exits 0 without blockers, writes nothing', async () => {
    const job = writeJob(dir, `name: p\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n`);
    const json = path.join(dir, 'plan.json');
    const html = path.join(dir, 'plan.html');
    const result = await runFerry(['plan', job, '--json', json, '--html', html]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Totals:');
    const plan = JSON.parse(fs.readFileSync(json, 'utf8'));
    // The fixed paths other tools read.
    expect(plan.totals.keys).toBe(EVERY_TYPE_KEYS);
    expect(plan.totals.bytes).toBeGreaterThan(16 * 1024 * 1024);
    expect(plan.bigKeys.map((k: { key: string }) => k.key)).toEqual(['str:huge']);
    expect(Object.keys(plan.bigKeys[0]).sort()).toEqual(expect.arrayContaining(['source', 'db', 'key', 'type', 'bytes', 'elements']));
    expect(plan.collisions.betweenSources).toBe(0);
    expect(plan.collisions.withTarget).toBe(0);
    expect(plan.verdicts.every((v: { level: string }) => ['ok', 'warn', 'blocker'].includes(v.level))).toBe(true);
    const page = fs.readFileSync(html, 'utf8');
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).not.toMatch(/https?:\/\//);
    expect(await target.cli('DBSIZE')).toBe('0');
  });

  it('exits 1 with the blocker named when an endpoint cannot be reached, and still writes the plan', async () => {
    const port = await freePort();
    const job = writeJob(dir, `name: p\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "redis://127.0.0.1:${port}" }\n`);
    const json = path.join(dir, 'blocked.json');
    const result = await runFerry(['plan', job, '--json', json]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/BLOCKER\s+reachability\s+target \(127\.0\.0\.1:\d+\): cannot connect/);
    expect(JSON.parse(fs.readFileSync(json, 'utf8')).verdicts[0].level).toBe('blocker');
  });

  it('bad input exits 2 with a message and no stack trace', async () => {
    const job = writeJob(dir, `name: p\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n`);
    const bad = writeJob(dir, `name: p\nsources: []\ntarget: { url: "${target.url}" }\n`);
    for (const [args, expected] of [
      [['plan', bad], 'sources'],
      [['plan', job, '--sample', '0'], '--sample must be a whole number'],
      [['plan', job, '--sample', 'abc'], '--sample must be a whole number'],
      [['plan', job, '--json'], 'json'],
      [['plan'], 'give one job file'],
    ] as const) {
      const result = await runFerry([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(expected);
      expect(stackTraceLines(result.stderr)).toEqual([]);
    }
  });
});
