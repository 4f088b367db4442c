// The call pipeline's tracing stage (call-pipeline.ts composes it first,
// once per method, and only when tracing is on): one SERVER span per call,
// named and described per the OpenTelemetry RPC conventions
// ("stowd.v1.RawStoreService/ReadRaw", rpc.system, rpc.service, rpc.method,
// rpc.grpc.status_code) plus the call's request id. Its parent is the
// caller's trace context (W3C traceparent/tracestate in the gRPC metadata or
// the HTTP headers). The span is the active context while the handler runs,
// so backend spans (decorators/traced-store.ts) become its children; a
// server stream's span ends when the stream does.
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from "@opentelemetry/api";
import { iterateWithin } from "../observability/tracing-context.js";
import { maskReference, REQUEST_ID_HEADER } from "./call-log.js";
import { requestHeaderOf } from "./request-header.js";

type Handler = (input: unknown, ctx: HandlerContext) => unknown;

/** The attribute carrying the call's request id (the call log's `requestId`, the `x-request-id` header). */
export const REQUEST_ID_ATTRIBUTE = "stowd.request_id";

/**
 * Codes that are the server's failure, not the caller's: the RPC
 * conventions leave a SERVER span's status unset for the others (NOT_FOUND,
 * INVALID_ARGUMENT, ... are answers, not faults).
 */
const SERVER_FAULTS = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

const requestHeaders: TextMapGetter<HandlerContext> = {
  get: (ctx, key) => requestHeaderOf(ctx, key) ?? undefined,
  keys: (ctx) => [...ctx.requestHeader.keys()],
};

/** `served` (the rest of the pipeline for `method`) inside a SERVER span per call. */
export function traceCalls(tracer: Tracer, method: DescMethod, served: Handler): Handler {
  const service = method.parent.typeName;
  const name = `${service}/${method.name}`;
  const attributes: Attributes = { "rpc.service": service, "rpc.method": method.name };
  const start = (ctx: HandlerContext): [Span, Context] => {
    const parent = propagation.extract(ROOT_CONTEXT, ctx, requestHeaders);
    const span = tracer.startSpan(
      name,
      // gRPC and gRPC-Web are gRPC; the HTTP port's Connect protocol is its own RPC system.
      { kind: SpanKind.SERVER, attributes: { "rpc.system": ctx.protocolName === "connect" ? "connect_rpc" : "grpc", ...attributes } },
      parent,
    );
    return [span, trace.setSpan(parent, span)];
  };

  if (method.methodKind === "server_streaming") {
    return async function* (request: unknown, ctx: HandlerContext) {
      const [span, active] = start(ctx);
      let error: unknown;
      try {
        yield* iterateWithin(active, served(request, ctx) as AsyncIterable<unknown>);
      } catch (err) {
        error = err;
        throw err;
      } finally {
        endSpan(span, ctx, error, true);
      }
    };
  }
  // Unary and client-streaming calls: one promise.
  return async (request: unknown, ctx: HandlerContext) => {
    const [span, active] = start(ctx);
    let error: unknown;
    try {
      return await context.with(active, served, undefined, request, ctx);
    } catch (err) {
      error = err;
      throw err;
    } finally {
      endSpan(span, ctx, error, false);
    }
  };
}

/** The call's code as its metrics count it: a server stream its client abandoned is CANCELLED. */
function endSpan(span: Span, ctx: HandlerContext, error: unknown, responseStream: boolean): void {
  const requestId = ctx.responseHeader.get(REQUEST_ID_HEADER);
  if (requestId !== null) span.setAttribute(REQUEST_ID_ATTRIBUTE, requestId);
  // What the pipeline throws is already the call's one ConnectError (error-boundary.ts).
  const failed = error === undefined ? undefined : ConnectError.from(error);
  const code = failed?.code ?? (responseStream && ctx.signal.aborted ? Code.Canceled : 0);
  span.setAttribute("rpc.grpc.status_code", code);
  if (failed !== undefined && SERVER_FAULTS.has(failed.code)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: maskReference(failed.rawMessage) });
  }
  span.end();
}
