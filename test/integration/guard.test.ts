import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEventOf } from '../../shared/events.js';
import { connectTo } from '../support/dataset.js';
import { jobFromYaml, migrate } from '../support/engineRun.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';

let source: RedisServer;
let target: RedisServer;

beforeAll(async () => {
  [source, target] = await Promise.all([startRedis({ args: ['--enable-debug-command', 'local'] }), startRedis({ args: ['--enable-debug-command', 'local'] })]);
  await source.cli('DEBUG', 'POPULATE', '1500000', 'k', '64');
}, 60_000);
afterAll(async () => {
  await Promise.all([source.stop(), target.stop()]);
});

describe('the latency guard', () => {
  it('slows the copy down while the target is slow, and speeds up again', async () => {
    const job = jobFromYaml(`name: g\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\noptions: { latencyBudgetMs: 10 }\n`);
    // Another client makes the target slow: 30 ms of DEBUG SLEEP every 150 ms, from 2 s to 6 s.
    const slow = await connectTo(target.port);
    let bursts = 0;
    const start = Date.now();
    const timer = setInterval(() => {
      const t = Date.now() - start;
      if (t > 2000 && t < 6000) {
        bursts++;
        void slow.call('DEBUG', 'SLEEP', '0.03');
      }
    }, 150);
    const run = await migrate(job);
    clearInterval(timer);
    slow.close();
    expect(run.outcome).toBe('done');
    expect(bursts).toBeGreaterThan(10);
    const latency = run.events.filter((e): e is EngineEventOf<'latency'> => e.type === 'latency' && e.endpoint === 'target');
    const progress = run.events.filter((e): e is EngineEventOf<'progress'> => e.type === 'progress');
    // Keys/s before the bursts (guard at 1) against the seconds while the guard held its factor low.
    const rateBetween = (from: number, to: number) => {
      const inside = progress.filter((p) => p.at >= from && p.at <= to);
      if (inside.length < 2) return null;
      const [a, b] = [inside[0], inside[inside.length - 1]];
      return (b.counts.scanned - a.counts.scanned) / ((b.at - a.at) / 1000);
    };
    const low = latency.filter((l) => l.paceFactor <= 0.25);
    expect(low.length, 'the guard never backed off').toBeGreaterThan(0);
    const before = rateBetween(start + 300, start + 1900);
    const braked = rateBetween(low[0].at, low[low.length - 1].at);
    expect(before).not.toBeNull();
    expect(braked).not.toBeNull();
    // The bursts alone take 20 % of the target's time; the guard takes far more than that off.
    expect(braked!).toBeLessThan(before! * 0.5);
    // After the bursts the factor climbs back from its lowest point.
    const lowest = Math.min(...latency.map((l) => l.paceFactor));
    const after = latency.filter((l) => l.at > start + 6500);
    expect(after.length, 'the run ended with the bursts').toBeGreaterThan(0);
    expect(Math.max(...after.map((l) => l.paceFactor))).toBeGreaterThan(lowest);
  }, 120_000);
});
