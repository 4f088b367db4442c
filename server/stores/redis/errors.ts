// The redis store's errors: Redis and connection failures converted once
// (fromRedisError, used by every call of connection.ts), which of them are
// worth another attempt, and the errors the store raises itself.
import { StowdError, isStowdError } from "../../../common/errors.js";
import { abortError } from "../kit/abort.js";
import { reportBackendFailure, withoutWhereabouts } from "../kit/backend-error-text.js";

export const KIND = "redis";

export function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "ReplyError";
}

/** The first word of a Redis error reply: "NOSCRIPT", "WRONGPASS", ... */
export function replyPrefix(err: Error): string {
  return /^[A-Z]+/.exec(err.message)?.[0] ?? "";
}

// Transient server states: loading, a busy script, a slot in migration, a
// cluster or failover in progress, a replica that was a master a moment ago.
const TRANSIENT_REPLIES = new Set(["LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY"]);
const AUTH_REPLIES = new Set(["NOAUTH", "WRONGPASS", "ERR AUTH"]);

/** Worth another attempt: transient replies and every connection-level failure. */
export function isRetryable(err: unknown): boolean {
  if (isStowdError(err)) return false;
  if (isReplyError(err)) return TRANSIENT_REPLIES.has(replyPrefix(err));
  return true;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const last = (err as { lastNodeError?: unknown }).lastNodeError;
  return last instanceof Error ? `${err.message} (${last.message})` : err.message;
}

/** What the converter needs of a failed call (a connection.ts RedisCall). */
interface FailedCall {
  operation: string;
  reference: string;
  signal: AbortSignal;
}

/** The StowdError for a failed `call` to the Redis at `address` (which goes to the log, not to the client). */
export function fromRedisError(err: unknown, call: FailedCall, address: string): StowdError {
  if (isStowdError(err)) return err;
  if (call.signal.aborted) return abortError(call.signal, call.reference);
  const facts = { reference: call.reference, backend: KIND, cause: err };
  // Clients learn what failed, not where Redis lives: the address goes to the log (backend-error-text.ts).
  const where = { backend: KIND, endpoint: address };
  const what = `${call.operation}: the redis backend`;
  const said = (text: string) => withoutWhereabouts(text, where);
  const report = (error: StowdError) => reportBackendFailure(error, where, { operation: call.operation, cause: err });
  if (isReplyError(err)) {
    const prefix = replyPrefix(err);
    if (AUTH_REPLIES.has(prefix) || /^ERR (AUTH|invalid password)/i.test(err.message)) {
      return report(new StowdError("UNAUTHENTICATED", `${what} refused the daemon's credentials: ${said(err.message)}`, facts));
    }
    if (prefix === "NOPERM") return report(new StowdError("PERMISSION_DENIED", `${what} refused the command: ${said(err.message)}`, facts));
    if (prefix === "OOM") {
      return report(
        new StowdError("LIMIT_EXCEEDED", `${what} is out of memory (maxmemory); nothing was changed: ${said(err.message)}`, facts),
      );
    }
    if (TRANSIENT_REPLIES.has(prefix))
      return report(new StowdError("BACKEND_UNAVAILABLE", `${what} is not serving requests: ${said(err.message)}`, facts));
    return report(new StowdError("INTERNAL", `${what} answered with an error: ${said(err.message)}`, facts));
  }
  return report(new StowdError("BACKEND_UNAVAILABLE", `${what} is unavailable: ${said(describe(err))}`, facts));
}

/** True when a failed commit may still have been applied (the reply never came). */
export function outcomeUnknown(err: unknown): boolean {
  return err instanceof StowdError && ["BACKEND_UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"].includes(err.reason);
}

export function notFound(reference: string): StowdError {
  return new StowdError("NOT_FOUND", `${reference} does not exist`, { reference, backend: KIND });
}

/** An object past maxObjectBytes. */
export function tooLarge(reference: string, size: number, limit: number): StowdError {
  return new StowdError(
    "LIMIT_EXCEEDED",
    `${reference} would be larger than the redis store's limit of ${limit} bytes (maxObjectBytes, below Redis's 512 MiB value cap); nothing was written`,
    { reference, size, limit, backend: KIND },
  );
}

/** A manifest this store cannot read. */
export function corrupt(reference: string, why: string): StowdError {
  return new StowdError("INTERNAL", `the redis manifest of ${reference} is damaged (${why}); rewrite or delete the object`, {
    reference,
    backend: KIND,
  });
}

/** A script answered something this store does not know. */
export function unexpectedReply(what: string, reference: string, reply: unknown): StowdError {
  return new StowdError("INTERNAL", `unexpected ${what} reply for ${reference}: ${JSON.stringify(reply)}`, { reference, backend: KIND });
}
