// Asserting that a call fails, and how: the store level (StowdError and its
// reason), the SDK level (StowdClientError) and plain synchronous throws.
import { expect } from "vitest";
import { StowdClientError } from "../../client/index.js";
import { isStowdError, type ErrorReason, type StowdError } from "../../common/errors.js";

/** What `promise` rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail, but it succeeded");
    },
    (err: unknown) => err,
  );
}

/** The StowdError `promise` rejects with; fails the test on success or any other error. */
export async function stowdRejection(promise: Promise<unknown>): Promise<StowdError> {
  const err = await rejection(promise);
  if (!isStowdError(err)) throw new Error(`expected a StowdError, got ${String(err)}`, { cause: err });
  return err;
}

/** Expects `promise` to reject with a StowdError of one of `reasons`, and returns it. */
export async function expectReason(promise: Promise<unknown>, ...reasons: ErrorReason[]): Promise<StowdError> {
  const err = await stowdRejection(promise);
  expect(reasons, err.message).toContain(err.reason);
  return err;
}

/** The StowdClientError an SDK call rejects with; fails the test on success or any other error. */
export async function clientRejection(promise: Promise<unknown>): Promise<StowdClientError> {
  const err = await promise.then(
    () => expect.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StowdClientError);
  return err as StowdClientError;
}

/** What `fn` throws; fails the test when it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}
