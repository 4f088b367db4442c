// The call guard: wraps every method of a service implementation, inside
// withCallBoundary (which converts and meters what it throws), and is the one
// place that
//   - admits the call or refuses it (call-limits.ts: concurrency, shutdown)
//     and arms its deadline and idle-stream timers;
//   - charges the data chunks of streams to the in-flight byte budget
//     (stream-budget.ts), so readers and writers wait instead of buffering;
//   - counts the payload bytes in and out and logs one line per call
//     (call-log.ts).
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectError, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { nextOrAbort } from "../next-or-abort.js";
import { type AdmittedCall, type CallLimits } from "./call-limits.js";
import { type CallRecord, logCall, payloadBytes, REQUEST_ID_HEADER, referencesOf, requestIdOf } from "./call-log.js";
import { toConnectError } from "./error-boundary.js";
import { READ_FRAMING } from "./raw-store-service.js";
import type { StreamBudget } from "./stream-budget.js";

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
          try {
            call = limits.admit(ctx, true);
            const it = (fn(req, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
            try {
              for (;;) {
                // Reserve a whole chunk before pulling it, so a waiting
                // reader holds no bytes; keep what the chunk really is until
                // the transport has sent it and asks for the next message.
                const reserved = await takeBudget(budget, READ_FRAMING.maxBytes, ctx.signal, call);
                let next: IteratorResult<unknown>;
                try {
                  next = await it.next();
                } catch (err) {
                  budget.release(reserved);
                  throw err;
                }
                if (next.done === true) {
                  budget.release(reserved);
                  return;
                }
                const size = payloadBytes(next.value);
                const held = Math.min(size, reserved);
                budget.release(reserved - held);
                record.bytesOut += size;
                call.touch();
                try {
                  yield next.value;
                } finally {
                  budget.release(held);
                }
                call.touch();
              }
            } finally {
              await it.return?.();
            }
          } catch (err) {
            error = call?.boundReason ?? toConnectError(err, ctx.signal);
            throw call?.boundReason ?? err;
          } finally {
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
          try {
            call = limits.admit(ctx, streaming);
            const response = await fn(streaming ? guardRequests(input as AsyncIterable<unknown>, ctx, call, record, budget) : input, ctx);
            record.bytesOut = payloadBytes(response);
            return response;
          } catch (err) {
            error = call?.boundReason ?? toConnectError(err, ctx.signal);
            throw call?.boundReason ?? err;
          } finally {
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
 * charged to the budget from arrival until the service asks for the next
 * one; waiting for the budget stops reading, which backpressures the client.
 * It stops at once when the call is aborted, even if the transport's stream
 * would wait for a client that sends nothing.
 */
async function* guardRequests(requests: AsyncIterable<unknown>, ctx: HandlerContext, call: AdmittedCall, record: CallRecord, budget: StreamBudget): AsyncGenerator<unknown> {
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
      const held = await takeBudget(budget, size, ctx.signal, call);
      try {
        yield next.value;
      } finally {
        budget.release(held);
      }
    }
  } finally {
    // Not awaited: after an abort the transport's iterator may still be
    // waiting for a message that never comes.
    if (!ended) void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

async function takeBudget(budget: StreamBudget, bytes: number, signal: AbortSignal, call: AdmittedCall): Promise<number> {
  if (budget.limitBytes <= 0) return 0;
  call.setWaitingForBudget(true);
  try {
    return await budget.acquire(bytes, signal);
  } finally {
    call.setWaitingForBudget(false);
  }
}
