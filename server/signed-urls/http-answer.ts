// Every failure of a signed-URL request as one HTTP answer: the status, the
// `x-stowd-reason` header (the URL refusal's reason, the StowdError's, or
// the call bound's), and a text/plain body with the message. The one place
// StowdErrors and call-bound refusals map to HTTP.
import { Code, ConnectError } from "@connectrpc/connect";
import { isStowdError, type ErrorReason, type StowdError } from "../../common/errors.js";
import { DEFAULT_UNAVAILABLE_RETRY_MS } from "../calls/error-boundary.js";
import { SignedUrlRefusal } from "./signed-url-refusal.js";

export interface HttpAnswer {
  status: number;
  reason: string;
  message: string;
  headers: Record<string, string>;
}

const STATUS_OF_REASON: Record<ErrorReason, number> = {
  NOT_FOUND: 404,
  // If-None-Match: * on a PUT lost: RFC 9110 answers 412 for every failed precondition.
  ALREADY_EXISTS: 412,
  PRECONDITION_FAILED: 412,
  // The download limit refuses the URL's access (403); the upload limit is 413, chosen by the method below.
  LIMIT_EXCEEDED: 403,
  INVALID_REFERENCE: 400,
  INVALID_ARGUMENT: 400,
  CONTAINER_NOT_ALLOWED: 403,
  UNSUPPORTED: 501,
  BACKEND_UNAVAILABLE: 503,
  OUT_OF_RANGE: 416,
  SIZE_MISMATCH: 400,
  CHECKSUM_MISMATCH: 400,
  TYPE_MISMATCH: 412,
  UNKNOWN_SCHEME: 400,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  DEADLINE_EXCEEDED: 504,
  // The client went away; nobody reads this answer, but a log line does.
  CANCELLED: 400,
  INTERNAL: 500,
  PATH_CONFLICT: 409,
};

/** The answer to a request (by its method) that failed with `err`. */
export function httpAnswerOf(err: unknown, method: string): HttpAnswer {
  if (err instanceof SignedUrlRefusal) return { status: err.status, reason: err.reason, message: err.message, headers: err.headers };
  if (isStowdError(err)) return stowdErrorAnswer(err, statusOfStowdError(err, method));
  if (err instanceof ConnectError) return callBoundAnswer(err, method);
  return internalAnswer();
}

function statusOfStowdError(err: StowdError, method: string): number {
  if (err.reason !== "LIMIT_EXCEEDED") return STATUS_OF_REASON[err.reason];
  // A limit with a retry hint is a busy daemon (server.maxConcurrentCalls), not a size: 429 Too Many Requests.
  if (err.facts.retryAfterMs !== undefined) return 429;
  return method === "PUT" ? 413 : STATUS_OF_REASON.LIMIT_EXCEEDED;
}

function stowdErrorAnswer(err: StowdError, status: number): HttpAnswer {
  const headers: Record<string, string> = {};
  // RFC 9110: a 416 names the current size, so the client can ask again.
  if (err.reason === "OUT_OF_RANGE" && err.facts.size !== undefined) headers["content-range"] = `bytes */${err.facts.size}`;
  if (err.facts.retryAfterMs !== undefined) headers["retry-after"] = retryAfterSeconds(err.facts.retryAfterMs);
  return { status, reason: err.reason, message: err.message, headers };
}

/**
 * What the call bounds (server/calls/call-limits.ts) end a request with: a
 * ConnectError, with the StowdError behind it for a deadline or the idle
 * timeout, and without one for shutdown (the refusal of a new call, the
 * cancel at the end of the grace period).
 */
function callBoundAnswer(err: ConnectError, method: string): HttpAnswer {
  const cause = err.cause;
  if (isStowdError(cause)) {
    // The idle timeout: an upload that stalled is 408 Request Timeout; a download whose store sent nothing in time, 504.
    if (cause.reason === "LIMIT_EXCEEDED" && cause.facts.retryAfterMs === undefined)
      return stowdErrorAnswer(cause, method === "PUT" ? 408 : 504);
    return stowdErrorAnswer(cause, statusOfStowdError(cause, method));
  }
  if (err.code === Code.Unavailable) {
    return {
      status: 503,
      reason: "UNAVAILABLE",
      message: err.rawMessage,
      headers: { "retry-after": retryAfterSeconds(DEFAULT_UNAVAILABLE_RETRY_MS) },
    };
  }
  return internalAnswer();
}

/** Retry-After is in whole seconds: rounded up, so the client never comes back early. */
function retryAfterSeconds(ms: number): string {
  return String(Math.ceil(ms / 1000));
}

function internalAnswer(): HttpAnswer {
  return {
    status: 500,
    reason: "INTERNAL",
    message: "internal error serving the signed URL; the daemon's log has the details",
    headers: {},
  };
}
