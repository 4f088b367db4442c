// A signed-URL request under the daemon's call bounds (server/calls/call-limits.ts),
// exactly as an RPC is: admitted against server.maxConcurrentCalls, refused
// while the daemon shuts down, cancelled by the deadline, the idle-stream
// timeout or the end of the grace period. Of a HandlerContext, admit reads
// only the signal, the client's deadline and abort(): a plain HTTP request
// sets no deadline (so server.defaultDeadline applies), and a bound fires by
// aborting the request's own controller, whose signal the store operation
// and the response's writes already watch.
import type { HandlerContext } from "@connectrpc/connect";
import type { AdmittedCall, CallLimits } from "../calls/call-limits.js";

/** Admits the request (throws the refusal: LIMIT_EXCEEDED with a retry hint, or UNAVAILABLE); `streaming` arms the idle timer. */
export function admitRequest(limits: CallLimits, controller: AbortController, streaming: boolean): AdmittedCall {
  const ctx: Pick<HandlerContext, "signal" | "timeoutMs"> & { abort(reason?: unknown): void } = {
    signal: controller.signal,
    timeoutMs: () => undefined,
    abort: (reason) => controller.abort(reason),
  };
  // What admit reads is all there is: nothing else of a HandlerContext has a meaning for a plain HTTP request.
  return limits.admit(ctx as unknown as HandlerContext, streaming);
}
