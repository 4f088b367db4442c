// The retry policy: bounded attempts, per-attempt timeouts inside a total
// deadline, and no retries for non-idempotent operations.
import { describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { withRetries, type RetryPolicy } from "../../server/stores/kit/retry.js";

const fast: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 100, totalTimeoutMs: 1_000 };
const base = { policy: fast, signal: new AbortController().signal, backend: "test", operation: "GET test://x", isRetryable: () => true };

/** An attempt that never settles unless its signal aborts, like a tarpit backend. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
}

describe("withRetries", () => {
  it("retries a retryable failure and returns the later success", async () => {
    let calls = 0;
    const result = await withRetries(
      async () => {
        calls++;
        if (calls < 3) throw new Error("503");
        return "ok";
      },
      { ...base, idempotent: true },
    );
    expect(result).toBe("ok");
    expect(calls).toBe(3);
  });

  it("does not retry a non-idempotent operation", async () => {
    let calls = 0;
    await expect(
      withRetries(
        async () => {
          calls++;
          throw new Error("503");
        },
        { ...base, idempotent: false },
      ),
    ).rejects.toThrow("503");
    expect(calls).toBe(1);
  });

  it("does not retry a failure that is not retryable", async () => {
    let calls = 0;
    await expect(
      withRetries(
        async () => {
          calls++;
          throw new Error("403");
        },
        { ...base, idempotent: true, isRetryable: () => false },
      ),
    ).rejects.toThrow("403");
    expect(calls).toBe(1);
  });

  it("fails a backend that never answers with DEADLINE_EXCEEDED after the attempts", async () => {
    let calls = 0;
    const started = Date.now();
    const err = await withRetries(
      (signal) => {
        calls++;
        return hang(signal);
      },
      { ...base, idempotent: true },
    ).catch((e: unknown) => e);
    expect(isStowdError(err, "DEADLINE_EXCEEDED")).toBe(true);
    expect(calls).toBe(3);
    expect(Date.now() - started).toBeLessThan(fast.totalTimeoutMs);
  });

  it("stops at the total deadline even with attempts left", async () => {
    const policy = { ...fast, attempts: 100, attemptTimeoutMs: 200, totalTimeoutMs: 300 };
    const started = Date.now();
    const err = await withRetries((signal) => hang(signal), { ...base, policy, idempotent: true }).catch((e: unknown) => e);
    expect(isStowdError(err, "DEADLINE_EXCEEDED")).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("gives up at once when the caller cancels", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("cancelled by caller")), 20);
    await expect(withRetries((signal) => hang(signal), { ...base, signal: controller.signal, idempotent: true })).rejects.toThrow(
      "cancelled by caller",
    );
  });
});
