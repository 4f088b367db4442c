// Waits for an iterator's next value, or for a signal, whichever comes
// first. The abort promise is made per call and dropped after it: racing
// every value against one long-lived promise keeps each value reachable
// until the stream ends (measured: an upload then held the whole object in
// memory).
export function nextOrAbort<T>(
  iterator: AsyncIterator<T>,
  signal: AbortSignal,
  abortError: () => unknown = () => signal.reason,
): Promise<IteratorResult<T>> {
  if (signal.aborted) return Promise.reject(abortError());
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError());
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([iterator.next(), aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}
