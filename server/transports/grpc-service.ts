// Serves a protobuf-es service implementation (the same object connect-node
// serves) on a grpc-js server. Requests arrive as raw bytes and are parsed
// here, so malformed protobuf is INVALID_ARGUMENT rather than grpc-js's
// INTERNAL; responses are encoded with toBinary.
import type { PeerCertificate } from "node:tls";
import { create, fromBinary, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { GATE_AUTHENTICATION } from "../security/authorize.js";
import { identityOfCertificate, PEER_IDENTITY } from "../security/peer-identity.js";
import { toConnectError } from "../calls/error-boundary.js";
import { REQUEST_END, type RequestEndProof } from "../calls/request-end.js";
import { encodeChunkMessage, readRawChunk } from "./chunk-encoding.js";
import { baseCallOf, gateAuthenticationOf } from "./grpc-request-gate.js";
import { GrpcCallContext, OpenCalls } from "./grpc-call-context.js";
import { toGrpcStatus } from "./grpc-status.js";
import { readRequests, writeAll } from "./grpc-streams.js";
import { createHttp2RequestEnd, unprovableRequestEnd, type RequestStream } from "./http2-request-end.js";

type Handler = (...args: never[]) => unknown;

export interface GrpcService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

/** Builds the grpc-js definition and handlers for one service. */
export function createGrpcService<S extends DescService>(service: S, impl: ServiceImpl<S>, shutdownSignal: AbortSignal): GrpcService {
  const definition: Record<string, grpc.MethodDefinition<Buffer, object>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  const methods = impl as unknown as Record<string, Handler>;
  const openCalls = new OpenCalls(shutdownSignal);
  for (const method of service.methods) {
    const fn = methods[method.localName];
    if (fn === undefined) throw new Error(`${service.typeName} implementation lacks ${method.name}`);
    const flags = {
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    };
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      ...flags,
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (value: object) => serializeResponse(method, value),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      originalName: method.localName,
    };
    implementation[method.name] = createHandler(service, method, fn, openCalls, flags) as grpc.UntypedHandleCall;
  }
  return { definition, implementation };
}

function serializeResponse(method: DescMethod, value: object): Buffer {
  const chunk = readRawChunk(method, value);
  if (chunk !== undefined) return encodeChunkMessage(chunk);
  const bytes = toBinary(method.output, create(method.output, value as never));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function parse(method: DescMethod, bytes: Buffer): unknown {
  try {
    return fromBinary(method.input, bytes);
  } catch (err) {
    throw new ConnectError(`the request is not a valid ${method.input.typeName} message: ${(err as Error).message}`, Code.InvalidArgument);
  }
}

interface AnyCall {
  metadata: grpc.Metadata;
  getDeadline(): grpc.Deadline;
  getPath(): string;
  on(event: "cancelled", listener: () => void): unknown;
  getAuthContext(): { sslPeerCertificate?: PeerCertificate | undefined } | null;
}

function contextFor(service: DescService, method: DescMethod, call: AnyCall, openCalls: OpenCalls): GrpcCallContext {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const values = createContextValues()
    // grpc-js reports a client certificate only when the client CA verified it.
    .set(PEER_IDENTITY, identityOfCertificate(call.getAuthContext()?.sslPeerCertificate))
    .set(GATE_AUTHENTICATION, gateAuthenticationOf(call.metadata));
  if (method.methodKind === "client_streaming") values.set(REQUEST_END, requestEndOfCall(call));
  const ctx = new GrpcCallContext(
    service,
    method,
    call.getPath(),
    call.metadata,
    values,
    openCalls,
    Number.isFinite(deadlineMs) ? deadlineMs : undefined,
  );
  // grpc-js emits 'cancelled' after every call, answered or not: only one still running was cancelled.
  call.on("cancelled", () => {
    if (!ctx.ended) ctx.abort(new ConnectError("the client cancelled the call", Code.Canceled));
  });
  return ctx;
}

/**
 * grpc-js ends a call's messages on the HTTP/2 stream's 'end' and reports a
 * reset only later ('cancelled'), so the proof reads the node:http2 stream
 * itself. grpc-js keeps it where it does not export it: the handler's call
 * (ServerReadableStreamImpl) holds `call`, the chain of server interceptors
 * (each holding `nextCall`) down to grpc-js's BaseServerInterceptingCall,
 * which holds `stream`. grpc-js is pinned; if a new version moves it,
 * uploads of unknown size fail with INTERNAL instead of risking a commit,
 * and test/service/cancelled-upload.test.ts says so.
 */
function requestEndOfCall(call: AnyCall): RequestEndProof {
  const stream = (baseCallOf((call as { call?: unknown }).call) as { stream?: unknown } | undefined)?.stream;
  return isRequestStream(stream)
    ? createHttp2RequestEnd(stream)
    : unprovableRequestEnd("grpc-js no longer exposes the call's HTTP/2 stream at call.call(.nextCall…).stream");
}

function isRequestStream(value: unknown): value is RequestStream {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return typeof s.aborted === "boolean" && typeof s.closed === "boolean" && typeof s.destroyed === "boolean" && "session" in s;
}

/** A grpc-js call of any kind as the handler uses it: a unary or server-streaming call carries its request message. */
type GrpcCall = AnyCall & { request?: Buffer };

/**
 * The grpc-js handler of one method: its request is one message or a stream
 * of them (client streaming), and so is its response (server streaming) —
 * the flags the method's definition carries.
 */
function createHandler(
  service: DescService,
  method: DescMethod,
  fn: Handler,
  openCalls: OpenCalls,
  flags: { requestStream: boolean; responseStream: boolean },
) {
  if (method.methodKind === "bidi_streaming") throw new Error(`bidi_streaming methods are not served over grpc-js (${method.name})`);
  const invoke = fn as (input: unknown, ctx: HandlerContext) => unknown;
  const { requestStream, responseStream } = flags;
  return (call: GrpcCall, callback?: grpc.sendUnaryData<unknown>) => {
    const ctx = contextFor(service, method, call, openCalls);
    const writable = call as unknown as grpc.ServerWritableStream<Buffer, unknown>;
    Promise.resolve()
      .then(() => {
        const input = requestStream
          ? readRequests(call as unknown as AsyncIterable<Buffer>, (bytes) => parse(method, bytes), ctx.signal)
          : parse(method, call.request as Buffer);
        const output = invoke(input, ctx);
        return responseStream ? writeAll(writable, output as AsyncIterable<unknown>, ctx.signal) : output;
      })
      // The context ends before the answer goes out, so the 'cancelled' grpc-js emits after it is no cancel.
      .then(
        (response) => {
          ctx.end();
          if (responseStream) writable.end();
          else callback?.(null, response);
        },
        (err: unknown) => {
          const status = toGrpcStatus(toConnectError(err, ctx.signal));
          ctx.end();
          if (responseStream) writable.emit("error", status);
          else callback?.(status);
        },
      );
  };
}
