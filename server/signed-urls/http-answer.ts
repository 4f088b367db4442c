// Every failure of a signed-URL request as one HTTP answer: the status, the
// `x-stowd-reason` header (the URL refusal's reason or the StowdError's), and
// a text/plain body with the message. The one place StowdErrors map to HTTP.
import { isStowdError, type ErrorReason } from "../../common/errors.js";
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
  if (isStowdError(err)) {
    const status = err.reason === "LIMIT_EXCEEDED" && method === "PUT" ? 413 : STATUS_OF_REASON[err.reason];
    const headers: Record<string, string> = {};
    // RFC 9110: a 416 names the current size, so the client can ask again.
    if (err.reason === "OUT_OF_RANGE" && err.facts.size !== undefined) headers["content-range"] = `bytes */${err.facts.size}`;
    if (err.facts.retryAfterMs !== undefined) headers["retry-after"] = String(Math.ceil(err.facts.retryAfterMs / 1000));
    return { status, reason: err.reason, message: err.message, headers };
  }
  return {
    status: 500,
    reason: "INTERNAL",
    message: "internal error serving the signed URL; the daemon's log has the details",
    headers: {},
  };
}
