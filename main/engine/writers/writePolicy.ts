import type { Job } from '../../../shared/job.js';

/** What the job says about writing: conflict policy and TTL handling. */
export interface WritePolicy {
  onConflict: Job['options']['onConflict'];
  keepTtl: boolean;
  extendMs: number;
}

/**
 * The absolute expiry to write (local clock), or 0 for none, or -1 when the key has already expired.
 * `ttl.extendMs` is added to every TTL, so keys close to expiry survive a slow move.
 */
export function plannedExpiry(expireAt: number, policy: WritePolicy, now = Date.now()): number {
  if (!policy.keepTtl || expireAt === 0) return 0;
  const at = expireAt + policy.extendMs;
  return at <= now ? -1 : at;
}
