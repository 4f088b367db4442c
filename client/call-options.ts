// Options every call takes, and the plumbing that lets the SDK cancel a call
// it started on the caller's behalf (an abandoned read) without owning the
// caller's signal.
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "../gen/stowd/v1/error_pb.js";
import { clientError } from "./client-error.js";

export interface CallOptions {
  /** Cancels the call; it then fails with code Canceled. */
  signal?: AbortSignal;
  /** Deadline for the whole call (including streaming) in milliseconds; overrides the client's default. */
  timeoutMs?: number;
}

/** A byte count or offset: a safe integer number, or a bigint (the generated int64 type). */
export type ByteCount = number | bigint;

/**
 * An AbortController that also aborts when `signal` does. Call `unlink()` once
 * the call is over so a long-lived caller signal does not keep it alive.
 */
export function linkedController(signal: AbortSignal | undefined): {
  controller: AbortController;
  unlink: () => void;
} {
  const controller = new AbortController();
  if (signal === undefined) {
    return { controller, unlink: () => {} };
  }
  if (signal.aborted) {
    controller.abort(signal.reason);
    return { controller, unlink: () => {} };
  }
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return { controller, unlink: () => signal.removeEventListener("abort", onAbort) };
}

/** Converts a caller's number to int64, rejecting what would be silently mangled. */
export function toInt64(value: ByteCount, field: string, reference: string): bigint {
  if (typeof value === "bigint") {
    return value;
  }
  if (!Number.isSafeInteger(value)) {
    throw clientError(Code.InvalidArgument, `${field} must be an integer, got ${value}`, reference, ErrorReason.INVALID_ARGUMENT);
  }
  return BigInt(value);
}

/** Adds `timeoutMs` only when there is one (exactOptionalPropertyTypes forbids `undefined`). */
export function withTimeout<T extends object>(options: T, timeoutMs: number | undefined): T & { timeoutMs?: number } {
  return timeoutMs === undefined ? options : { ...options, timeoutMs };
}
