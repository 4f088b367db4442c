// Runs tasks N at a time. The first failure (or the caller's abort) stops
// new tasks from starting and aborts the running ones through the signal
// each task gets; once they have settled, that first failure is thrown.
export async function runParallel<T>(
  items: readonly T[],
  jobs: number,
  signal: AbortSignal,
  task: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!stop.signal.aborted && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item, stop.signal);
      } catch (error) {
        failure ??= { error };
        stop.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  if (signal.aborted) throw signal.reason;
  if (failure !== undefined) throw failure.error;
}
