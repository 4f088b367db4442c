// The call guard: wraps every method of a service implementation, inside
// withCallBoundary (which converts and meters what it throws), and is the one
// place that
//   - admits the call or refuses it (call-limits.ts: concurrency, shutdown)
//     and arms its deadline and idle-stream timers;
//   - charges the data chunks of streams to the in-flight byte budget
//     (stream-budget.ts), each stream to its own share: writers wait instead
//     of buffering, readers send smaller messages when it is contended;
//   - counts the payload bytes in and out and logs one line per call
//     (call-log.ts).
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectError, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { nextOrAbort } from "../next-or-abort.js";
import { type AdmittedCall, type CallLimits } from "./call-limits.js";
import { type CallRecord, logCall, payloadBytes, REQUEST_ID_HEADER, referencesOf, requestIdOf } from "./call-log.js";
import { toConnectError } from "./error-boundary.js";
import { splitChunkMessage } from "./read-framing.js";
import type { StreamShare } from "./stream-budget.js";

type AnyImpl = Record<string, (...args: never[]) => unknown>;

export function withCallGuard<S extends DescService>(service: S, impl: ServiceImpl<S>, limits: CallLimits): ServiceImpl<S> {
  const wrapped: Record<string, unknown> = {};
  const methods = impl as unknown as AnyImpl;
  const { budget } = limits;
  for (const method of service.methods) {
    const fn = methods[method.localName] as ((input: unknown, ctx: HandlerContext) => unknown) | undefined;
    if (fn === undefined) throw new Error(`${service.typeName} implementation lacks ${method.name}`);
    const op = `${service.typeName.replace(/^stowd\.v1\./, "")}/${method.name}`;
    const begin = (ctx: HandlerContext, request: unknown): CallRecord => {
      const requestId = requestIdOf(ctx);
      ctx.responseHeader.set(REQUEST_ID_HEADER, requestId);
      return { requestId, op, ...referencesOf(request), bytesIn: payloadBytes(request), bytesOut: 0, startedAt: performance.now() };
    };
    const end = (record: CallRecord, ctx: HandlerContext, call: AdmittedCall | undefined, error: ConnectError | undefined) => {
      call?.finish();
      // A stream the client abandoned ends without an error of its own.
      logCall(record, error ?? (ctx.signal.aborted ? toConnectError(undefined, ctx.signal) : undefined));
    };

    switch (method.methodKind) {
      case "server_streaming":
        wrapped[method.localName] = async function* (req: unknown, ctx: HandlerContext) {
          const record = begin(ctx, req);
          let call: AdmittedCall | undefined;
          let error: ConnectError | undefined;
          let share: StreamShare | undefined;
          try {
            call = limits.admit(ctx, true);
            share = budget.openStream();
            const it = (fn(req, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
            try {
              for (;;) {
                // The next message is pulled once the last one is sent, so a
                // stream holds at most one (a ReadRaw chunk: up to 1 MiB of
                // its store's read). It goes out in pieces of what the stream
                // may take from the budget now: the whole message when the
                // budget is free, its share or reserve when it is contended
                // (stream-budget.ts). A read never waits for the budget: a
                // header or a small chunk always fits the reserve, and many
                // readers each move in smaller pieces instead of taking turns.
                const next = await it.next();
                if (next.done === true) return;
                let rest: unknown = next.value;
                while (rest !== undefined) {
                  const size = payloadBytes(rest);
                  // At least 1 byte: the stream holds nothing here, and a
                  // stream holding nothing always gets its reserve.
                  const held = size === 0 ? 0 : share.takeUpTo(size);
                  const [piece, later] = splitChunkMessage(rest, held);
                  rest = later;
                  record.bytesOut += payloadBytes(piece);
                  call.touch();
                  try {
                    yield piece;
                  } finally {
                    share.release(held);
                  }
                  call.touch();
                }
              }
            } finally {
              await it.return?.();
            }
          } catch (err) {
            error = call?.boundReason ?? toConnectError(err, ctx.signal);
            throw call?.boundReason ?? err;
          } finally {
            share?.close();
            end(record, ctx, call, error);
          }
        };
        break;
      case "client_streaming":
      case "unary": {
        const streaming = method.methodKind === "client_streaming";
        wrapped[method.localName] = async (input: unknown, ctx: HandlerContext) => {
          const record = begin(ctx, streaming ? undefined : input);
          let call: AdmittedCall | undefined;
          let error: ConnectError | undefined;
          let share: StreamShare | undefined;
          try {
            call = limits.admit(ctx, streaming);
            if (streaming) share = budget.openStream();
            const response = await fn(share !== undefined ? guardRequests(input as AsyncIterable<unknown>, ctx, call, record, share) : input, ctx);
            record.bytesOut = payloadBytes(response);
            return response;
          } catch (err) {
            error = call?.boundReason ?? toConnectError(err, ctx.signal);
            throw call?.boundReason ?? err;
          } finally {
            share?.close();
            end(record, ctx, call, error);
          }
        };
        break;
      }
      default:
        throw new Error(`${method.methodKind} methods are not guarded (${method.name})`);
    }
  }
  return wrapped as ServiceImpl<S>;
}

/**
 * The request stream as the service sees it: each message's data bytes are
 * charged to the stream's share of the budget from arrival until the service
 * asks for the next one; waiting for the budget (a message larger than the
 * stream's reserve while the pool is used up) stops reading, which
 * backpressures the client. It stops at once when the call is aborted, even
 * if the transport's stream would wait for a client that sends nothing.
 */
async function* guardRequests(requests: AsyncIterable<unknown>, ctx: HandlerContext, call: AdmittedCall, record: CallRecord, share: StreamShare): AsyncGenerator<unknown> {
  const it = requests[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      const next = await nextOrAbort(it, ctx.signal);
      if (next.done === true) {
        ended = true;
        call.requestsEnded();
        return;
      }
      call.touch();
      if (record.reference === undefined) Object.assign(record, referencesOf(next.value));
      const size = payloadBytes(next.value);
      record.bytesIn += size;
      const held = await takeBudget(share, size, ctx.signal, call);
      try {
        yield next.value;
      } finally {
        share.release(held);
      }
    }
  } finally {
    // Not awaited: after an abort the transport's iterator may still be
    // waiting for a message that never comes.
    if (!ended) void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

/** Takes `bytes` for a message that has arrived, marking the call as waiting for the budget meanwhile (its idle timeout then says so). */
async function takeBudget(share: StreamShare, bytes: number, signal: AbortSignal, call: AdmittedCall): Promise<number> {
  call.setWaitingForBudget(true);
  try {
    return await share.take(bytes, signal);
  } finally {
    call.setWaitingForBudget(false);
  }
}
