// Bounded concurrency for a backend's fan-out (per-key HEADs, deletes, part
// uploads): at most `limit` calls in flight, so one request cannot open
// hundreds of backend connections.

/** Runs `fn` over `items` with at most `limit` calls at a time; results keep the order of `items`. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}
