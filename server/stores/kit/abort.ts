// Cancellation for stores: every call takes an AbortSignal (client cancel,
// deadline, shutdown). Stores turn an abort into a StowdError so callers see
// one error type, and race body iteration against the signal so a stalled
// client cannot keep a write open after it was cancelled.
import { Code, ConnectError } from "@connectrpc/connect";
import { StowdError } from "../../../common/errors.js";
import { nextOrAbort } from "../../next-or-abort.js";

function isDeadline(reason: unknown): boolean {
  if (reason instanceof ConnectError) return reason.code === Code.DeadlineExceeded;
  return reason instanceof Error && reason.name === "TimeoutError";
}

/** The error a store throws when `signal` has aborted while it worked on `reference`. */
export function abortError(signal: AbortSignal, reference: string): StowdError {
  const reason = signal.reason as unknown;
  return isDeadline(reason)
    ? new StowdError("DEADLINE_EXCEEDED", `the call on ${reference} ran out of time; nothing was changed`, { reference, cause: reason })
    : new StowdError("CANCELLED", `the call on ${reference} was cancelled; nothing was changed`, { reference, cause: reason });
}

export function throwIfAborted(signal: AbortSignal, reference: string): void {
  if (signal.aborted) throw abortError(signal, reference);
}

/**
 * Yields what `source` yields until the signal aborts, then throws at once,
 * even when `source` is blocked waiting for the next chunk.
 */
export async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal, reference: string): AsyncGenerator<T> {
  throwIfAborted(signal, reference);
  const it = source[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const next = await nextOrAbort(it, signal, () => abortError(signal, reference));
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Release the source without waiting: after an abort it may be stuck in next().
    if (!done) void it.return?.()?.catch(() => {});
  }
}
