/**
 * How long one plain RESTORE of a key blocks the target, estimated from measurements on Redis 7.0
 * (2-core VM): a 256 MB string ~300 ms (~1.2 ms per MB), a 2,000,000-member zset ~1.15 s
 * (~0.55 µs per element on top of its bytes). An estimate, not a promise: faster CPUs stall less.
 */
const MS_PER_MB = 1.2;
const MS_PER_ELEMENT = 0.00055;

export function restoreStallMs(type: string, bytes: number, elements: number): number {
  const perElement = type === 'string' ? 0 : elements * MS_PER_ELEMENT;
  return Math.round(((bytes / (1024 * 1024)) * MS_PER_MB + perElement) * 10) / 10;
}
