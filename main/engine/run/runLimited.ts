/**
 * Runs `work` over `items`, at most `limit` at a time, in order. The first failure rejects the
 * whole; no new item is started after it (items already running finish).
 */
export async function runLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failed) {
      try {
        await work(items[next++]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  });
  await Promise.all(lanes);
}
