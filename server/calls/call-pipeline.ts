// The one call pipeline: every call of every served service passes the same
// stages, in this order, on both listeners (the gRPC port's grpc-js adapter
// and the HTTP port's connect-node router serve what this returns):
//   0. tracing, when it is on (call-tracing.ts): the call's SERVER span,
//      active while the rest runs; when it is off the stage is not composed;
//   1. metrics: calls started, in flight, handled by code, and latency (call-metrics.ts);
//   2. the call guard: the call log line (call-log.ts), admission and the
//      deadline and idle timers (call-limits.ts), the in-flight byte budget
//      for stream data (call-guard.ts, stream-budget.ts);
//   3. authorization, when auth is on (server/security/authorize.ts):
//      authentication before anything is read, then the grants the request
//      needs;
//   4. the service's handler.
// What a call throws is converted once (error-boundary.ts), and that one
// status is what the client, the log line and the metrics see. The stages
// are composed here once per method at startup, with one switch on the
// method kind; a client stream (WriteRaw, Append: a header message, then
// chunk messages) is split into its header and chunks once, as it enters,
// so authorization and the service both get the parsed header.
import type { DescMessage, DescMethod, DescMethodClientStreaming, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { ConnectError, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { codeLabel, type Metrics } from "../observability/metrics.js";
import { guardRequests, guardResponses } from "./call-guard.js";
import type { AdmittedCall, CallLimits } from "./call-limits.js";
import { logCall, referencesOf, startCallRecord, type CallRecord, type IdentifyCaller } from "./call-log.js";
import { createRpcMeter, type RpcMeter } from "./call-metrics.js";
import { traceCalls } from "./call-tracing.js";
import { daemonTracer } from "../observability/tracing.js";
import {
  splitClientStream,
  type ClientStream,
  type FramedMessage,
  type HeaderOf,
  type SplitClientStream,
  type TrailerOf,
} from "./client-stream.js";
import { toConnectError } from "./error-boundary.js";
import { payloadBytes } from "./message-payload.js";
import type { StreamShare } from "./stream-budget.js";

/** A client-streaming handler: it gets the stream's header and its chunks, split by the pipeline. */
export type ClientStreamHandler<I extends DescMessage, O extends DescMessage> = (
  stream: ClientStream<HeaderOf<MessageShape<I>>, TrailerOf<MessageShape<I>>>,
  ctx: HandlerContext,
) => Promise<MessageInitShape<O>>;

/** A service's handlers as the pipeline calls them: connect's ServiceImpl, except that client streams arrive split. */
export type CallHandlers<S extends DescService> = {
  [K in keyof ServiceImpl<S>]: S["method"][K] extends DescMethodClientStreaming<infer I, infer O>
    ? ClientStreamHandler<I, O>
    : ServiceImpl<S>[K];
};

/** Authorization as the pipeline applies it (server/security/authorize.ts implements it). */
export interface Authorization {
  /** The checks of one RPC ("stowd.v1.RawStoreService/Head"), made once at startup; throws for an RPC it has no rules for. */
  forRpc(rpc: string): RpcAuthorization;
}

/** One RPC's checks. Both throw UNAUTHENTICATED or PERMISSION_DENIED, logging the denial. */
export interface RpcAuthorization<Caller = unknown> {
  /** Who is calling. */
  authenticate(ctx: HandlerContext): Caller;
  /** Whether `caller` may make `request` (for a client stream: its header). */
  authorize(caller: Caller, request: unknown): void;
}

export interface CallStages {
  metrics: Metrics;
  limits: CallLimits;
  /** Absent when auth is off. */
  authorization?: Authorization | undefined;
  /** Names the caller in the call's log line (server/security/caller-identity.ts); absent: no caller is logged. */
  identify?: IdentifyCaller | undefined;
}

type Handler = (input: unknown, ctx: HandlerContext) => unknown;

/** What the stages of one method keep from startup. */
interface MethodStages {
  meter: RpcMeter;
  /** The call log's op: "RawStoreService/Head". */
  op: string;
  limits: CallLimits;
  auth: RpcAuthorization | undefined;
  identify: IdentifyCaller | undefined;
}

/** The service served through the pipeline: what both listeners serve. */
export function createCallPipeline<S extends DescService>(service: S, handlers: CallHandlers<S>, stages: CallStages): ServiceImpl<S> {
  const served: Record<string, unknown> = {};
  const tracer = daemonTracer();
  for (const method of service.methods) {
    const handler = (handlers as unknown as Record<string, Handler | undefined>)[method.localName];
    if (handler === undefined) throw new Error(`${service.typeName} implementation lacks ${method.name}`);
    const rpc = `${service.typeName}/${method.name}`;
    const m: MethodStages = {
      meter: createRpcMeter(stages.metrics, method),
      op: `${service.typeName.replace(/^stowd\.v1\./, "")}/${method.name}`,
      limits: stages.limits,
      auth: stages.authorization?.forRpc(rpc),
      identify: stages.identify,
    };
    const pipeline = serve(method, handler, m);
    served[method.localName] = tracer === undefined ? pipeline : traceCalls(tracer, method, pipeline);
  }
  return served as ServiceImpl<S>;
}

function serve(method: DescMethod, handler: Handler, m: MethodStages): Handler {
  switch (method.methodKind) {
    case "unary":
      return serveUnary(handler, m);
    case "server_streaming":
      return serveServerStream(handler, m);
    case "client_streaming":
      return serveClientStream(handler, m, method.name);
    default:
      throw new Error(`${method.methodKind} methods are not served by the call pipeline (${method.name})`);
  }
}

function serveUnary(handler: Handler, m: MethodStages): Handler {
  return async (request: unknown, ctx: HandlerContext) => {
    m.meter.begin(ctx.protocolName);
    const record = startCallRecord(ctx, m.op, request);
    let call: AdmittedCall | undefined;
    let error: ConnectError | undefined;
    try {
      call = m.limits.admit(ctx, false);
      if (m.auth !== undefined) m.auth.authorize(m.auth.authenticate(ctx), request);
      const response = await handler(request, ctx);
      record.bytesOut = payloadBytes(response);
      return response;
    } catch (err) {
      error = call?.boundReason ?? toConnectError(err, ctx.signal);
      throw error;
    } finally {
      call?.finish();
      endCall(m, record, ctx, error, false);
    }
  };
}

function serveServerStream(handler: Handler, m: MethodStages): Handler {
  return async function* (request: unknown, ctx: HandlerContext) {
    m.meter.begin(ctx.protocolName);
    const record = startCallRecord(ctx, m.op, request);
    let call: AdmittedCall | undefined;
    let share: StreamShare | undefined;
    let error: ConnectError | undefined;
    try {
      call = m.limits.admit(ctx, true);
      share = m.limits.budget.openStream();
      if (m.auth !== undefined) m.auth.authorize(m.auth.authenticate(ctx), request);
      yield* guardResponses(handler(request, ctx) as AsyncIterable<unknown>, call, record, share);
    } catch (err) {
      error = call?.boundReason ?? toConnectError(err, ctx.signal);
      throw error;
    } finally {
      share?.close();
      call?.finish();
      endCall(m, record, ctx, error, true);
    }
  };
}

function serveClientStream(handler: Handler, m: MethodStages, rpcName: string): Handler {
  return async (requests: unknown, ctx: HandlerContext) => {
    m.meter.begin(ctx.protocolName);
    const record = startCallRecord(ctx, m.op, undefined);
    let call: AdmittedCall | undefined;
    let share: StreamShare | undefined;
    let stream: SplitClientStream<unknown, unknown> | undefined;
    let error: ConnectError | undefined;
    try {
      call = m.limits.admit(ctx, true);
      share = m.limits.budget.openStream();
      // Authenticated before a message is read.
      const caller = m.auth?.authenticate(ctx);
      const messages = guardRequests(requests as AsyncIterable<unknown>, ctx, call, record, share);
      stream = await splitClientStream(messages as AsyncIterable<FramedMessage<unknown, unknown>>, rpcName);
      Object.assign(record, referencesOf(stream.header));
      if (m.auth !== undefined) m.auth.authorize(caller, stream.header);
      const response = await handler(stream, ctx);
      record.bytesOut = payloadBytes(response);
      return response;
    } catch (err) {
      error = call?.boundReason ?? toConnectError(err, ctx.signal);
      throw error;
    } finally {
      // Stops reading a request stream the service left unread.
      await stream?.release();
      share?.close();
      call?.finish();
      endCall(m, record, ctx, error, false);
    }
  };
}

/**
 * The call's log line and metrics. A call its client abandoned (the signal
 * fired) ends without an error of its own: the log line says so, and so do
 * the metrics of a server stream; a unary or client-streaming call that
 * answered counts as answered.
 */
function endCall(m: MethodStages, record: CallRecord, ctx: HandlerContext, error: ConnectError | undefined, responseStream: boolean): void {
  const logged = error ?? (ctx.signal.aborted ? toConnectError(undefined, ctx.signal) : undefined);
  const code = codeLabel(logged);
  logCall(record, logged, code, m.identify?.(ctx));
  m.meter.end(ctx.protocolName, responseStream ? logged : error, (performance.now() - record.startedAt) / 1000);
}
