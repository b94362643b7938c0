import { describe, expect, it } from 'vitest';
import { validateJob } from '../../shared/job.js';
import { LatencyGuard } from '../../main/engine/pacing/latencyGuard.js';
import { createPace } from '../../main/engine/pacing/pace.js';
import { TokenBucket } from '../../main/engine/pacing/tokenBucket.js';
import { describeLatency, ProgressView } from '../../main/cli/progressView.js';
import { emptyCounts, type EngineEvent, type EngineEventOf } from '../../shared/events.js';

/** A clock the test moves by hand. */
function fakeClock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms), get t() {
    return t;
  } };
}

/**
 * A greedy caller: takes `keys`/`bytes` per step, waits exactly what the bucket says, repeats for
 * `durationMs` of simulated time. Returns what went through.
 */
function drive(bucket: TokenBucket, clock: ReturnType<typeof fakeClock>, durationMs: number, keys: number, bytes: number) {
  const end = clock.t + durationMs;
  let sentKeys = 0;
  let sentBytes = 0;
  while (clock.t < end) {
    const wait = bucket.take(keys, bytes);
    clock.advance(wait);
    if (clock.t > end) break;
    sentKeys += keys;
    sentBytes += bytes;
  }
  return { sentKeys, sentBytes };
}

describe('TokenBucket', () => {
  it('is unlimited without rates (0 or absent)', () => {
    const bucket = new TokenBucket({ keysPerSec: 0 });
    expect(bucket.unlimited).toBe(true);
    for (let i = 0; i < 1000; i++) expect(bucket.take(1000, 1 << 20)).toBe(0);
  });

  it('lets a burst of ~100 ms go at once, then makes callers wait', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ keysPerSec: 1000, now: clock.now });
    expect(bucket.take(100, 0)).toBe(0); // 100 ms worth at 1000 keys/s
    expect(bucket.take(1, 0)).toBeCloseTo(1, 6);
    // Reserved: the next caller queues behind the first one's debt.
    expect(bucket.take(10, 0)).toBeCloseTo(11, 6);
    clock.advance(11);
    expect(bucket.take(1, 0)).toBeCloseTo(1, 6);
  });

  it('holds a keys/s rate over simulated time, whatever the step size', () => {
    for (const step of [1, 7, 250]) {
      const clock = fakeClock();
      const bucket = new TokenBucket({ keysPerSec: 5000, now: clock.now });
      const { sentKeys } = drive(bucket, clock, 10_000, step, 0);
      // 10 s at 5000/s plus the initial burst of 500 (100 ms), within one step.
      expect(sentKeys).toBeGreaterThanOrEqual(50_500 - 2 * step);
      expect(sentKeys).toBeLessThanOrEqual(50_500 + step);
    }
  });

  it('holds a bytes/s rate, and a take bigger than the burst waits for its size', () => {
    const clock = fakeClock();
    const mb = 1024 * 1024;
    const bucket = new TokenBucket({ bytesPerSec: mb, now: clock.now });
    // 4 MB on a full bucket (0.1 MB): 3.9 s before it may go.
    expect(bucket.take(1, 4 * mb)).toBeCloseTo(3900, 3);
    clock.advance(3900);
    const { sentBytes } = drive(bucket, clock, 20_000, 1, 64 * 1024);
    expect(sentBytes / 20).toBeGreaterThan(0.98 * mb);
    expect(sentBytes / 20).toBeLessThan(1.02 * mb);
  });

  it('applies the stricter of both limits', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ keysPerSec: 100_000, bytesPerSec: 1000, now: clock.now });
    const { sentKeys, sentBytes } = drive(bucket, clock, 10_000, 1, 100);
    expect(sentBytes).toBeGreaterThanOrEqual(9_900);
    expect(sentBytes).toBeLessThanOrEqual(10_200);
    expect(sentKeys).toBeLessThan(110);
  });

  it('does not bank more than the burst while idle', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ keysPerSec: 1000, now: clock.now });
    clock.advance(60_000);
    let immediate = 0;
    while (bucket.take(1, 0) === 0) immediate++;
    expect(immediate).toBe(100);
  });

  it('follows a scale factor (the latency guard), burst included', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ keysPerSec: 2000, now: clock.now });
    bucket.setScale(0.25);
    expect(bucket.rates.keysPerSec).toBe(500);
    let immediate = 0;
    while (bucket.take(1, 0) === 0) immediate++;
    expect(immediate).toBe(50); // 100 ms at 500/s
    clock.advance(bucket.take(0, 0));
    const { sentKeys } = drive(bucket, clock, 10_000, 5, 0);
    expect(sentKeys).toBeGreaterThanOrEqual(4_950);
    expect(sentKeys).toBeLessThanOrEqual(5_060);
  });
});

describe('LatencyGuard', () => {
  const budgetMs = 2;

  it('backs off multiplicatively, once per second however many nodes report, down to 1/64', () => {
    const guard = new LatencyGuard({ budgetMs });
    expect(guard.factor).toBe(1);
    expect(guard.observe('target a', 1.0, 1000)).toBe(1);
    expect(guard.observe('target a', 5, 2000)).toBe(0.5);
    // Another node of the same bad second: no second halving.
    expect(guard.observe('target b', 9, 2100)).toBe(0.5);
    expect(guard.observe('target a', 5, 3000)).toBe(0.25);
    for (let t = 4000; t < 20_000; t += 1000) guard.observe('target a', 50, t);
    expect(guard.factor).toBe(1 / 64);
  });

  it('climbs back additively after a couple of calm seconds on every endpoint', () => {
    const guard = new LatencyGuard({ budgetMs });
    for (let t = 1000; t <= 8000; t += 1000) guard.observe('target', 10, t);
    expect(guard.factor).toBe(1 / 64);
    const factors: number[] = [];
    for (let t = 9000; t <= 20_000; t += 1000) factors.push(guard.observe('target', 0.5, t));
    // First calm second: waits; second: +1/8; then +1/8 a second up to 1.
    expect(factors[0]).toBe(1 / 64);
    expect(factors[1]).toBeCloseTo(1 / 64 + 1 / 8, 9);
    expect(factors[2]).toBeCloseTo(1 / 64 + 2 / 8, 9);
    for (let i = 1; i < factors.length; i++) expect(factors[i]).toBeGreaterThanOrEqual(factors[i - 1]);
    expect(factors.at(-1)).toBe(1);
  });

  it('holds between 80 % and 100 % of the budget', () => {
    const guard = new LatencyGuard({ budgetMs });
    guard.observe('target', 3, 1000);
    for (let t = 2000; t <= 10_000; t += 1000) guard.observe('target', 1.8, t);
    expect(guard.factor).toBe(0.5);
  });

  it('climbs only when every watched endpoint is calm; a stale one is ignored', () => {
    const guard = new LatencyGuard({ budgetMs, staleMs: 3000 });
    guard.observe('target', 3, 1000);
    guard.observe('source a', 1.9, 1000);
    for (let t = 2000; t <= 3000; t += 1000) guard.observe('target', 0.2, t);
    expect(guard.factor).toBe(0.5); // source a is not calm (1.9 >= 1.6)
    // source a stops reporting (its probe is down): after 3 s it no longer holds the guard back.
    for (let t = 4000; t <= 8000; t += 1000) guard.observe('target', 0.2, t);
    expect(guard.factor).toBeGreaterThan(0.5);
  });

  it('a calm stretch is broken by any second over 80 %', () => {
    const guard = new LatencyGuard({ budgetMs });
    guard.observe('target', 3, 1000);
    guard.observe('target', 0.2, 2000);
    guard.observe('target', 1.7, 3000);
    guard.observe('target', 0.2, 4000);
    expect(guard.factor).toBe(0.5);
    guard.observe('target', 0.2, 5000);
    expect(guard.factor).toBe(0.625);
  });

  it('is fed per-second p99, so a lone idle spike (VM noise) in max does not back off', () => {
    // A second as an idle probe on a shared 2-core VM sees it: 199 round trips ~0.1 ms, one of 8 ms.
    const samples = [...Array.from({ length: 199 }, () => 0.1), 8];
    samples.sort((a, b) => a - b);
    const p99 = samples[Math.ceil(0.99 * samples.length) - 1];
    const guard = new LatencyGuard({ budgetMs });
    expect(guard.observe('target', p99, 1000)).toBe(1);
  });

  it('tells listeners about changes, and unsubscribes', () => {
    const guard = new LatencyGuard({ budgetMs });
    const seen: Array<[number, number]> = [];
    const off = guard.onChange((f, prev) => seen.push([f, prev]));
    guard.observe('target', 3, 1000);
    guard.observe('target', 3, 1500); // same second: no change
    guard.observe('target', 3, 2000);
    off();
    guard.observe('target', 3, 3000);
    expect(seen).toEqual([
      [0.5, 1],
      [0.25, 0.5],
    ]);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new LatencyGuard({ budgetMs: 0 })).toThrow(/budget/);
  });
});

describe('createPace', () => {
  const job = (options: Record<string, unknown>) => {
    const v = validateJob({ name: 't', sources: [{ name: 'a', url: 'redis://127.0.0.1:1' }], target: { url: 'redis://127.0.0.1:2' }, options });
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    return v.job;
  };

  it('reads the limits from the job and scales the bucket with the guard', () => {
    const clock = fakeClock();
    const pace = createPace(job({ maxKeysPerSec: 1000, maxBytesPerSec: 0, latencyBudgetMs: 3 }), clock.now);
    expect(pace.guard.budgetMs).toBe(3);
    expect(pace.bucket.rates).toEqual({ keysPerSec: 1000, bytesPerSec: Infinity });
    pace.guard.observe('target', 10, 1000);
    expect(pace.bucket.rates.keysPerSec).toBe(500);
  });

  it('is unlimited by default', () => {
    const pace = createPace(job({}));
    expect(pace.bucket.unlimited).toBe(true);
    expect(pace.bucket.take(1e6, 1e12)).toBe(0);
  });

  it('refuses negative limits in the job file', () => {
    const v = validateJob({ name: 't', sources: [{ name: 'a', url: 'redis://127.0.0.1:1' }], target: { url: 'redis://127.0.0.1:2' }, options: { maxKeysPerSec: -1 } });
    expect(v.ok).toBe(false);
  });
});

describe('ferry run --latency output', () => {
  const event: EngineEventOf<'latency'> = {
    type: 'latency', endpoint: 'target', node: '127.0.0.1:7000', calls: 212, avgMs: 0.31, p50Ms: 0.2, p99Ms: 1.13, maxMs: 2.4, serverMaxMs: null, paceFactor: 1, at: 0,
  };
  const finished: EngineEvent = {
    type: 'run-finished', outcome: 'done', counts: emptyCounts(), perSource: {}, elapsedMs: 1,
    latency: [{ endpoint: 'target', nodes: ['127.0.0.1:7000'], seconds: 12, calls: 2400, avgMs: 0.3, maxMs: 8.24, worstP99Ms: 1.1, secondsOverBudget: 0, budgetMs: 2, serverMaxMs: null }],
    at: 0,
  };
  const capture = () => {
    const lines: string[] = [];
    const out = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    return { out, lines };
  };

  it('formats one line per endpoint node per second', () => {
    expect(describeLatency(event)).toBe('latency target 127.0.0.1:7000: 212 calls, avg 0.3 ms, p50 0.2, p99 1.1, max 2.4 ms, pace 1.00');
    expect(describeLatency({ ...event, serverMaxMs: 51, paceFactor: 0.25 })).toMatch(/pace 0\.25, server max 51\.0 ms$/);
  });

  it('prints latency events only with the flag, and the summary either way', () => {
    const off = capture();
    const quiet = new ProgressView(off.out, false, false);
    quiet.handle(event);
    quiet.handle(finished);
    expect(off.lines).toEqual(['latency target 127.0.0.1:7000: worst p99 1.1 ms, max 8.2 ms, 0 s over the 2 ms budget\n']);
    const on = capture();
    const loud = new ProgressView(on.out, false, true);
    loud.handle(event);
    expect(on.lines).toEqual([`${describeLatency(event)}\n`]);
  });
});
