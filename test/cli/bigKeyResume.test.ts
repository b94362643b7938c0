import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTo, sendAll } from '../support/dataset.js';
import { parseEvents, runFerry, spawnFerry, tmpDir, writeJob } from '../support/cli.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';
import type { Arg } from '../../main/engine/resp/commandEncoder.js';

let source: RedisServer;
let target: RedisServer;
const MEMBERS = 1_000_000;

beforeAll(async () => {
  [source, target] = await Promise.all([startRedis(), startRedis()]);
  const conn = await connectTo(source.port);
  const commands: Arg[][] = [];
  for (let i = 0; i < MEMBERS; i += 1000) commands.push(['ZADD', 'board:big', ...Array.from({ length: 1000 }, (_, j) => [(i + j) / 3, `player-${i + j}`]).flat()]);
  for (let i = 0; i < 200; i++) commands.push(['SET', `small:${i}`, `v${i}`]);
  await sendAll(conn, commands);
  await conn.call('PEXPIRE', 'board:big', 3_600_000);
  conn.close();
}, 120_000);
afterAll(async () => {
  await Promise.all([source.stop(), target.stop()]);
});

async function targetKeys(): Promise<string[]> {
  return (await target.cli('--scan')).split('\n').filter(Boolean);
}

describe('a run killed inside a big key', () => {
  it('leaves no visible partial key, and --resume rebuilds it and removes the leftover temp key', async () => {
    const dir = tmpDir('ferry-bigkey-');
    const state = `${dir}/state`;
    const job = writeJob(dir, `name: big\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\n`);
    const child = spawnFerry(['run', job, '--json', '--state-dir', state]);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    // Wait until the zset is being built in its temp key, then kill the run without warning.
    const deadline = Date.now() + 60_000;
    let temp: string | undefined;
    while (!temp && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      if (!parseEvents(out).some((e) => e.type === 'warning')) continue;
      temp = (await targetKeys()).find((k) => k.includes(':ferry-tmp:'));
      if (temp && Number(await target.cli('ZCARD', temp)) < 10_000) temp = undefined; // let it get going
    }
    expect(temp, 'the temp key never appeared').toBeDefined();
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // The real key is not there half-built; the temp key carries a safety TTL.
    expect(await target.cli('EXISTS', 'board:big')).toBe('0');
    const partial = Number(await target.cli('ZCARD', temp!));
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(MEMBERS);
    expect(Number(await target.cli('PTTL', temp!))).toBeGreaterThan(0);

    const resumed = await runFerry(['run', job, '--resume', '--state-dir', state], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(await target.cli('ZCARD', 'board:big')).toBe(String(MEMBERS));
    expect((await targetKeys()).filter((k) => k.includes(':ferry-'))).toEqual([]);
    const verified = await runFerry(['verify', job, '--state-dir', state], { timeoutMs: 120_000 });
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).toContain('0 differ');
  }, 180_000);
});
