export interface LatencyGuardOptions {
  /** The latency the watched endpoints may see from Ferry's load (options.latencyBudgetMs). */
  budgetMs: number;
  /** Multiplied into the factor on a second over budget (default 0.5). */
  backoff?: number;
  /** The lowest factor (default 1/64): Ferry slows down a lot, but never stops. */
  floor?: number;
  /** Added to the factor per calm second once calm long enough (default 1/8). */
  step?: number;
  /** A p99 under `calmRatio × budget` is calm (default 0.8). */
  calmRatio?: number;
  /** Seconds of calm on every watched endpoint before climbing starts (default 2). */
  calmSeconds?: number;
  /** A watched endpoint whose last sample is older than this is ignored (probe down), ms (default 3000). */
  staleMs?: number;
}

export type GuardListener = (factor: number, previous: number) => void;

interface Watched {
  p99Ms: number;
  at: number;
}

/**
 * The pacing controller: an AIMD loop over the per-second p99 round trip of the watched endpoints
 * (the target, and the sources). `factor` in (0, 1] is what the engine multiplies into its pipeline
 * depth (keys in flight), chunk sizes and rate.
 *
 * - A second in which any watched endpoint's p99 is over the budget halves the factor (at most
 *   once per second however many endpoints or nodes report it), down to a floor of 1/64.
 * - When every watched endpoint has been under 80 % of the budget for a couple of seconds, the
 *   factor climbs back additively (+1/8 per calm second) up to 1.
 * - Between 80 % and 100 % of the budget it holds.
 *
 * Why the p99 of a one-second window, not the max of single samples: on the shared two-core VMs
 * Ferry is tested on, a PING probe against an idle server sees lone spikes of up to ~8 ms
 * (scheduling noise of the VM, not the server); a controller fed single max samples would back off
 * on noise all the time. The p99 of the ~200 round trips of a second ignores a lone spike and
 * still shows a stall that lasts (a blocked server delays every PING sent while it is blocked).
 * Measured here, idle, 30 windows: median p99 0.2 ms, worst single round trip 5.5 ms, and one
 * window whose p99 was over 2 ms (4.6 ms) — so at the default 2 ms budget expect a lone halving
 * now and then on noise, recovered within a few seconds; DEBUG SLEEP 0.05 bursts give p99 50-100 ms.
 * What Redis itself was blocked by is in the latency events' `serverMaxMs` (LATENCY LATEST), for
 * the report; the guard reacts to what clients of the server feel.
 *
 * Pure: the samples come in through `observe` with their own timestamps (tests inject them).
 */
export class LatencyGuard {
  readonly budgetMs: number;
  private readonly backoff: number;
  private readonly floor: number;
  private readonly step: number;
  private readonly calmMs: number;
  private readonly calmRatio: number;
  private readonly staleMs: number;
  private readonly watched = new Map<string, Watched>();
  private readonly listeners = new Set<GuardListener>();
  private current = 1;
  /** Start of the calm stretch of every watched endpoint, or null while not calm. */
  private calmSince: number | null = null;
  private lastBackoffAt = -Infinity;
  private lastStepAt = -Infinity;

  constructor(opts: LatencyGuardOptions) {
    if (!(opts.budgetMs > 0)) throw new RangeError(`the latency budget must be > 0 ms, got ${opts.budgetMs}`);
    this.budgetMs = opts.budgetMs;
    this.backoff = opts.backoff ?? 0.5;
    this.floor = opts.floor ?? 1 / 64;
    this.step = opts.step ?? 1 / 8;
    this.calmRatio = opts.calmRatio ?? 0.8;
    this.calmMs = (opts.calmSeconds ?? 2) * 1000;
    this.staleMs = opts.staleMs ?? 3000;
  }

  /** In (0, 1]: 1 is full speed. */
  get factor(): number {
    return this.current;
  }

  /** Called with the new and the previous factor on every change; returns the unsubscribe function. */
  onChange(listener: GuardListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * One second of one watched endpoint (or cluster node): the p99 round trip of the window that
   * ended at `at` (ms, any clock as long as it is the same for every call). Returns the factor.
   */
  observe(watch: string, p99Ms: number, at: number): number {
    this.watched.set(watch, { p99Ms, at });
    if (p99Ms > this.budgetMs) {
      this.calmSince = null;
      // Several nodes reporting the same bad second back off once. 900, not 1000: windows jitter.
      if (at - this.lastBackoffAt >= 900) {
        this.lastBackoffAt = at;
        this.set(Math.max(this.floor, this.current * this.backoff));
      }
      return this.current;
    }
    if (!this.allCalm(at)) {
      this.calmSince = null;
      return this.current;
    }
    // The sample covers the second before `at`: calm since the start of that window.
    this.calmSince ??= at - 1000;
    if (this.current < 1 && at - this.calmSince >= this.calmMs && at - this.lastStepAt >= 900) {
      this.lastStepAt = at;
      this.set(Math.min(1, this.current + this.step));
    }
    return this.current;
  }

  /** Stops watching one endpoint (its probe stopped). */
  forget(watch: string): void {
    this.watched.delete(watch);
  }

  private allCalm(at: number): boolean {
    const calmBelow = this.budgetMs * this.calmRatio;
    for (const w of this.watched.values()) {
      if (at - w.at > this.staleMs) continue;
      if (w.p99Ms >= calmBelow) return false;
    }
    return true;
  }

  private set(next: number): void {
    const previous = this.current;
    if (next === previous) return;
    this.current = next;
    for (const listener of this.listeners) listener(next, previous);
  }
}
