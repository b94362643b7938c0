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
    const job = jobFromYaml(`name: g\nsources:\n  - { name: src, url: "${source.url}" }\ntarget: { url: "${target.url}" }\noptions: { latencyBudgetMs: 25 }\n`);
    // Another client makes the target slow: 60 ms of DEBUG SLEEP every 200 ms, from 2 s to 6 s.
    const slow = await connectTo(target.port);
    let bursts = 0;
    const start = Date.now();
    const timer = setInterval(() => {
      const t = Date.now() - start;
      if (t > 2000 && t < 6000) {
        bursts++;
        void slow.call('DEBUG', 'SLEEP', '0.06');
      }
    }, 200);
    const run = await migrate(job);
    clearInterval(timer);
    slow.close();
    expect(run.outcome).toBe('done');
    expect(bursts).toBeGreaterThan(10);
    const latency = run.events.filter((e): e is EngineEventOf<'latency'> => e.type === 'latency' && e.endpoint === 'target');
    const progress = run.events.filter((e): e is EngineEventOf<'progress'> => e.type === 'progress');
    // Keys/s between consecutive progress events, each with the guard's factor in force then.
    const factorAt = (t: number) => [...latency].reverse().find((l) => l.at <= t)?.paceFactor ?? 1;
    const steps = progress.slice(1).map((p, i) => ({
      rate: (p.counts.scanned - progress[i].counts.scanned) / ((p.at - progress[i].at) / 1000),
      factor: Math.min(factorAt(p.at), factorAt(progress[i].at)),
      at: p.at,
    }));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const full = steps.filter((x) => x.factor === 1 && x.at < start + 2000).map((x) => x.rate);
    const braked = steps.filter((x) => x.factor <= 0.25).map((x) => x.rate);
    const trace = JSON.stringify(steps.map((x) => [Math.round((x.at - start) / 100) / 10, Math.round(x.rate), x.factor]));
    expect(full.length, `no full-speed progress before the bursts: ${trace}`).toBeGreaterThan(0);
    expect(braked.length, 'the guard never backed off').toBeGreaterThan(0);
    // The bursts alone take 30 % of the target's time; the guard takes far more than that off.
    expect(mean(braked), trace).toBeLessThan(mean(full) * 0.5);
    // After the bursts the factor climbs back from its lowest point.
    const lowest = Math.min(...latency.map((l) => l.paceFactor));
    const after = latency.filter((l) => l.at > start + 6500);
    expect(after.length, 'the run ended with the bursts').toBeGreaterThan(0);
    expect(Math.max(...after.map((l) => l.paceFactor))).toBeGreaterThan(lowest);
  }, 120_000);
});
