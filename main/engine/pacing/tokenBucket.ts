import { performance } from 'node:perf_hooks';

export interface TokenBucketOptions {
  /** Keys per second; 0 or absent = unlimited. */
  keysPerSec?: number;
  /** Bytes per second; 0 or absent = unlimited. */
  bytesPerSec?: number;
  /** The largest burst, as time at the full rate (default 100 ms: at 10,000 keys/s, 1,000 keys at once). */
  burstMs?: number;
  /** The clock in ms (tests inject one); default `performance.now`. */
  now?: () => number;
}

/** One limited dimension (keys or bytes). `tokens` may go negative: that is the reserved debt. */
interface Lane {
  ratePerSec: number;
  tokens: number;
}

/**
 * A token bucket for keys/s and bytes/s, with a non-blocking API for a callback-driven pipeline:
 * `take(keys, bytes)` reserves the tokens at once and returns 0 when the caller may go now, else
 * the ms to wait before it goes (it schedules a timer, and then goes without calling `take` again:
 * the tokens are already its own). Waiting callers queue up behind each other's debt, so the
 * long-run rate is exact however the calls are sized; a call bigger than the burst simply waits
 * for its whole size at the rate.
 *
 * Bursts are at most `burstMs` worth of the rate (100 ms by default): an idle bucket fills up to
 * that and no further. `setScale(f)` multiplies both rates by f in (0, 1] (the latency guard's
 * factor); an unlimited dimension stays unlimited.
 */
export class TokenBucket {
  private readonly lanes: { keys: Lane | null; bytes: Lane | null };
  private readonly burstMs: number;
  private readonly now: () => number;
  private last: number;
  private scale = 1;

  constructor(opts: TokenBucketOptions = {}) {
    this.burstMs = opts.burstMs ?? 100;
    this.now = opts.now ?? (() => performance.now());
    this.last = this.now();
    this.lanes = { keys: lane(opts.keysPerSec, this.burstMs), bytes: lane(opts.bytesPerSec, this.burstMs) };
  }

  /** No limit at all: `take` always returns 0. */
  get unlimited(): boolean {
    return this.lanes.keys === null && this.lanes.bytes === null;
  }

  /** The effective rates now (Infinity = unlimited). */
  get rates(): { keysPerSec: number; bytesPerSec: number } {
    return {
      keysPerSec: this.lanes.keys ? this.lanes.keys.ratePerSec * this.scale : Infinity,
      bytesPerSec: this.lanes.bytes ? this.lanes.bytes.ratePerSec * this.scale : Infinity,
    };
  }

  /**
   * Reserves `keys` keys and `bytes` bytes. Returns 0 when the caller may go now, else the ms after
   * which it may go (the reservation stands: do not call `take` again for the same work).
   */
  take(keys: number, bytes: number): number {
    if (this.unlimited) return 0;
    this.refill();
    let waitMs = 0;
    for (const [lane, amount] of [[this.lanes.keys, keys], [this.lanes.bytes, bytes]] as const) {
      if (!lane || amount <= 0) continue;
      lane.tokens -= amount;
      if (lane.tokens < 0) waitMs = Math.max(waitMs, (-lane.tokens / (lane.ratePerSec * this.scale)) * 1000);
    }
    return waitMs;
  }

  /** Multiplies the rates by `factor` in (0, 1] from now on (tokens earned so far keep their rate). */
  setScale(factor: number): void {
    const next = Math.min(1, Math.max(factor, 1e-6));
    if (next === this.scale) return;
    this.refill();
    this.scale = next;
    // The burst shrinks with the rate: a slowed-down bucket must not keep a full-speed burst.
    for (const lane of [this.lanes.keys, this.lanes.bytes]) {
      if (lane) lane.tokens = Math.min(lane.tokens, this.capacity(lane));
    }
  }

  get currentScale(): number {
    return this.scale;
  }

  private capacity(lane: Lane): number {
    return (lane.ratePerSec * this.scale * this.burstMs) / 1000;
  }

  private refill(): void {
    const now = this.now();
    const elapsedMs = now - this.last;
    this.last = now;
    if (elapsedMs <= 0) return;
    for (const lane of [this.lanes.keys, this.lanes.bytes]) {
      if (!lane) continue;
      lane.tokens = Math.min(this.capacity(lane), lane.tokens + (lane.ratePerSec * this.scale * elapsedMs) / 1000);
    }
  }
}

function lane(ratePerSec: number | undefined, burstMs: number): Lane | null {
  if (!ratePerSec || !(ratePerSec > 0) || !Number.isFinite(ratePerSec)) return null;
  // Starts full: the first burst may go at once.
  return { ratePerSec, tokens: (ratePerSec * burstMs) / 1000 };
}
