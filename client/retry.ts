// Retries for idempotent calls: exponential backoff with full jitter on
// UNAVAILABLE and RESOURCE_EXHAUSTED, waiting at least what the daemon's
// RetryInfo asks for, within the call's deadline, signal and attempt budget.
// Only calls that change nothing (or change it the same way twice) come
// here; a write is never retried, since its first attempt may have landed.
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "../gen/stowd/v1/error_pb.js";
import { type CallOptions, withTimeout } from "./call-options.js";
import { type StowdClientError, clientError, toStowdError } from "./client-error.js";

export interface RetryOptions {
  /** Attempts in all, the first included; 1 turns retries off. Default 4. */
  maxAttempts?: number;
  /** Backoff before the first retry is a random wait up to this; the bound doubles per retry. Default 100 ms. */
  initialDelayMs?: number;
  /**
   * Longest wait between attempts. A daemon asking (RetryInfo) for a longer
   * wait ends the retries: the error is then the caller's to act on. Default 5 s.
   */
  maxDelayMs?: number;
}

export type RetrySettings = Readonly<Required<RetryOptions>>;

export const DEFAULT_RETRY: RetrySettings = { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 5000 };

/** Resolves the client's `retry` option; `false` means one attempt. Rejects values that would misbehave. */
export function retrySettings(options: RetryOptions | false | undefined): RetrySettings {
  if (options === false) {
    return { ...DEFAULT_RETRY, maxAttempts: 1 };
  }
  const settings = { ...DEFAULT_RETRY, ...options };
  if (!Number.isSafeInteger(settings.maxAttempts) || settings.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be an integer of at least 1, got ${settings.maxAttempts}`);
  }
  for (const key of ["initialDelayMs", "maxDelayMs"] as const) {
    if (!Number.isFinite(settings[key]) || settings[key] < 0) {
      throw new RangeError(`retry.${key} must be a number of milliseconds of at least 0, got ${settings[key]}`);
    }
  }
  return settings;
}

/**
 * Whether the same idempotent call may succeed if made again. The download
 * limit (LIMIT_EXCEEDED without a retry hint) is permanent; a limit the
 * daemon expects to clear (busy) comes with a RetryInfo. connect reports a
 * connection lost mid-call (a daemon killed, a reset socket) as Canceled
 * (the stream is reset with its session) or Aborted (ECONNRESET): retried
 * unless the caller cancelled.
 */
export function isRetryable(error: StowdClientError, callerCancelled: boolean): boolean {
  switch (error.code) {
    case Code.Unavailable:
      return true;
    case Code.ResourceExhausted:
      return error.reason !== ErrorReason.LIMIT_EXCEEDED || error.retryDelayMs !== undefined;
    case Code.Canceled:
    case Code.Aborted:
      return !callerCancelled;
    default:
      return false;
  }
}

/** connect call options for one attempt. */
export interface AttemptOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The attempts of one logical call, sharing its deadline and signal. */
export interface Retrier {
  /** connect call options for the next attempt: the call's signal and the time left before its deadline. */
  attemptOptions(): AttemptOptions;
  /**
   * After a failed attempt: waits the backoff and resolves true when another
   * attempt should follow, false when `error` is final (not retryable, out of
   * attempts, or the wait would pass the deadline). Rejects with Canceled
   * when the signal aborts during the wait.
   */
  shouldRetry(error: StowdClientError): Promise<boolean>;
  /** Whether another attempt could succeed where this one failed with `error` (see isRetryable), budget aside. */
  retryable(error: StowdClientError): boolean;
  /** The call made progress (a resumed read received bytes): the attempt budget starts over. */
  progressed(): void;
}

export function createRetrier(settings: RetrySettings, reference: string, options: CallOptions): Retrier {
  const { signal, timeoutMs } = options;
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  let failures = 0;
  return {
    attemptOptions: () =>
      withTimeout(signal === undefined ? {} : { signal }, deadline === undefined ? undefined : Math.max(1, deadline - Date.now())),

    async shouldRetry(error) {
      failures += 1;
      if (failures >= settings.maxAttempts || !isRetryable(error, signal?.aborted === true)) {
        return false;
      }
      const hint = error.retryDelayMs;
      if (hint !== undefined && hint > settings.maxDelayMs) {
        return false;
      }
      const ceiling = Math.min(settings.maxDelayMs, settings.initialDelayMs * 2 ** (failures - 1));
      const delay = Math.max(hint ?? 0, Math.random() * ceiling);
      if (deadline !== undefined && Date.now() + delay >= deadline) {
        return false;
      }
      await sleep(delay, signal, reference);
      return true;
    },

    retryable: (error) => isRetryable(error, signal?.aborted === true),

    progressed() {
      failures = 0;
    },
  };
}

/**
 * Runs attempts of an idempotent call until one succeeds or the retrier
 * says stop; every failure surfaces as a StowdClientError.
 */
export async function retrying<T>(retrier: Retrier, reference: string, run: (attempt: AttemptOptions) => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await run(retrier.attemptOptions());
    } catch (e) {
      const error = toStowdError(e, reference);
      if (!(await retrier.shouldRetry(error))) {
        throw error;
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined, reference: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancelled = () => clientError(Code.Canceled, "the call was cancelled while waiting to retry it", reference);
    if (signal?.aborted === true) {
      reject(cancelled());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
