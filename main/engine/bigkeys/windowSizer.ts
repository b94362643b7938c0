/**
 * Slows a copy down from outside: window sizes are multiplied by `factor` (0..1), read before every
 * window. 0 leaves the smallest window (1 element, 16 KB of a string): the copy crawls, never stops,
 * so its temp key's safety TTL keeps being renewed.
 */
export interface Pace {
  factor: number;
}

/** Server time one command (or one pipelined batch) may cost: the target's latency budget. */
export const COMMAND_BUDGET_MS = 1;

/**
 * An endpoint's round trip when the server has nothing to do (the smallest seen for cheap commands):
 * a window's round trip above it is taken as server time. Over a slow link the transfer of a big
 * window still counts as server time, which only makes the windows smaller than they need be.
 */
export class RoundTrip {
  private best = Infinity;

  note(ms: number): void {
    if (ms < this.best) this.best = ms;
  }

  get ms(): number {
    return Number.isFinite(this.best) ? this.best : 0;
  }
}

export interface WindowLimits {
  /** Elements or bytes of the first window: small, until the server has shown what a window costs. */
  initial: number;
  min: number;
  max: number;
  budgetMs?: number;
}

/**
 * The size of the next window (elements, or bytes for strings), adapted to measured command time:
 * doubled while a full window costs under half the budget, cut in proportion (at most to a quarter at
 * once, so one noisy spike of the VM does not collapse it) when one costs more than the budget.
 */
export class WindowSizer {
  private size: number;
  private readonly budget: number;

  constructor(private readonly limits: WindowLimits) {
    this.size = clamp(Math.round(limits.initial), limits.min, limits.max);
    this.budget = limits.budgetMs ?? COMMAND_BUDGET_MS;
  }

  /** The adapted size, scaled by the pace factor, at least `min`. */
  next(pace?: Pace): number {
    const factor = pace ? clamp(Number.isFinite(pace.factor) ? pace.factor : 1, 0, 1) : 1;
    return Math.max(this.limits.min, Math.floor(this.size * factor));
  }

  /** The window just done held `used` elements (bytes) and took `ms` round trip; `baseMs` is the idle round trip. */
  observe(used: number, ms: number, baseMs: number): void {
    if (used <= 0) return;
    const cost = Math.max(0, ms - baseMs);
    if (cost > this.budget) {
      const fits = (used * this.budget * 0.8) / cost;
      this.size = clamp(Math.floor(Math.max(fits, this.size / 4)), this.limits.min, this.size);
    } else if (cost < this.budget / 2 && used * 2 >= this.size) {
      this.size = clamp(this.size * 2, this.limits.min, this.limits.max);
    }
  }

  get current(): number {
    return this.size;
  }
}

/** Runs `work` and measures its round trip in ms. */
export async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const result = await work();
  return [result, Number(process.hrtime.bigint() - start) / 1e6];
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
