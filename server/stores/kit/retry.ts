// Retries and timeouts for backend calls. Every attempt runs under its own
// timeout inside one total deadline, so a backend that accepts a connection
// and never answers fails the call in bounded time instead of hanging it.
// Only idempotent operations are retried, with capped, jittered backoff.
import { setTimeout as sleep } from "node:timers/promises";
import { StowdError, isStowdError } from "../../../common/errors.js";

export interface RetryPolicy {
  /** Attempts in all, including the first; 1 = no retries. */
  attempts: number;
  /** First backoff; doubles per retry, with full jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Limit for one attempt (for streams: until the backend starts answering). */
  attemptTimeoutMs: number;
  /** Limit for all attempts and backoffs together. */
  totalTimeoutMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 50,
  maxDelayMs: 2_000,
  attemptTimeoutMs: 30_000,
  totalTimeoutMs: 120_000,
};

export interface RetryOptions {
  policy: RetryPolicy;
  /** The caller's signal (client cancel, call deadline, shutdown). */
  signal: AbortSignal;
  /** Safe to repeat? Writes without preconditions that already sent bytes are not. */
  idempotent: boolean;
  /** Is this failure worth another attempt (throttling, 5xx, connection reset)? */
  isRetryable: (err: unknown) => boolean;
  /** Backend kind, for the error. */
  backend: string;
  /** What was attempted, e.g. "HEAD s3://bucket/key", for the error. */
  operation: string;
}

/** Runs `attempt` until it succeeds, fails for good, or time runs out. */
export async function withRetries<T>(attempt: (signal: AbortSignal) => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, signal, backend, operation } = options;
  const total = AbortSignal.timeout(policy.totalTimeoutMs);
  const maxAttempts = options.idempotent ? Math.max(1, policy.attempts) : 1;
  for (let n = 1; ; n++) {
    const attemptTimeout = AbortSignal.timeout(policy.attemptTimeoutMs);
    const attemptSignal = AbortSignal.any([signal, total, attemptTimeout]);
    try {
      return await attempt(attemptSignal);
    } catch (err) {
      signal.throwIfAborted();
      if (total.aborted || attemptTimeout.aborted) {
        if (n < maxAttempts && !total.aborted) continue;
        throw new StowdError(
          "DEADLINE_EXCEEDED",
          `${operation}: the ${backend} backend did not answer in time (${n} attempt${n > 1 ? "s" : ""})`,
          {
            backend,
            cause: err,
          },
        );
      }
      if (isStowdError(err) || n >= maxAttempts || !options.isRetryable(err)) throw err;
      const delay = Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
      await sleep(delay, undefined, { signal: AbortSignal.any([signal, total]) }).catch(() => {
        signal.throwIfAborted();
        throw new StowdError("DEADLINE_EXCEEDED", `${operation}: the ${backend} backend did not answer in time`, { backend, cause: err });
      });
    }
  }
}
