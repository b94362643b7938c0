import type { Job } from '../../../shared/job.js';
import { LatencyGuard } from './latencyGuard.js';
import { TokenBucket } from './tokenBucket.js';

/**
 * How fast the copy may go, for the readers and writers:
 * - `guard.factor` in (0, 1] multiplies the pipeline depth (keys in flight) and chunk sizes; it
 *   falls when a probed endpoint's per-second p99 goes over `options.latencyBudgetMs` and climbs
 *   back when they are calm (`guard.onChange` tells when it moves);
 * - `bucket.take(keys, bytes)` returns 0 to go now, else the ms to wait (the tokens are reserved),
 *   for `options.maxKeysPerSec` / `options.maxBytesPerSec`. Its rates follow the guard's factor.
 */
export interface Pace {
  guard: LatencyGuard;
  bucket: TokenBucket;
}

export function createPace(job: Job, now?: () => number): Pace {
  const guard = new LatencyGuard({ budgetMs: job.options.latencyBudgetMs });
  const bucket = new TokenBucket({ keysPerSec: job.options.maxKeysPerSec, bytesPerSec: job.options.maxBytesPerSec, now });
  guard.onChange((factor) => bucket.setScale(factor));
  return { guard, bucket };
}
