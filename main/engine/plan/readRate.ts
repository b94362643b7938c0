import type { Endpoint } from '../endpoints/endpoint.js';

/**
 * Keys/s at which a source gives up its keys the way `ferry run` reads them (PTTL + DUMP,
 * pipelined), measured on a sample of its keys: read-only. Null when there is nothing to measure.
 */
export async function measureReadRate(source: Endpoint, sample: Array<{ db: number; key: Buffer }>): Promise<number | null> {
  if (sample.length < 50) return null;
  let best = 0;
  // Twice, keeping the better: the first pass also warms the connections.
  for (let round = 0; round < 2; round++) {
    const started = performance.now();
    await new Promise<void>((resolve) => {
      let left = sample.length * 2;
      const arrived = () => --left === 0 && resolve();
      for (const { db, key } of sample) {
        source.send(db, key, ['PTTL', key], arrived);
        source.send(db, key, ['DUMP', key], arrived);
      }
    });
    const seconds = (performance.now() - started) / 1000;
    best = Math.max(best, sample.length / Math.max(seconds, 1e-6));
  }
  return Math.round(best);
}
