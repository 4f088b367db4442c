// The request gate (request-gate.ts) on the gRPC port, as a grpc-js server
// interceptor. grpc-js reads a call's body only when the handler asks for a
// message (startRead), so a call refused at its headers never has a body
// byte read: its handler gets an empty request instead, which the call
// pipeline's authorization refuses with the gate's error, so the denial is
// logged, counted and answered like any other.
import type * as http2 from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import type { ServerInterceptingCallInterface } from "@grpc/grpc-js";
import { identityOfCertificate } from "../security/peer-identity.js";
import {
  countRefusedStream,
  isSingleMessageRequest,
  maxRequestBytes,
  SMALL_REQUEST_BYTES,
  type GateAuthentication,
  type RequestGate,
} from "./request-gate.js";

type CallListener = Parameters<ServerInterceptingCallInterface["start"]>[0];

/** Why a request still waiting for the budget stops waiting (nobody sees it: grpc-js has told the handler). */
const CALL_ENDED = new Error("the call ended");
/** The signal of a take that cannot wait. */
const NEVER_ABORTED = new AbortController().signal;

/**
 * The gate's verdict on each call, by the call's metadata: grpc-js hands the
 * handler the metadata object the interceptor passed on (grpc-service.ts
 * reads it back). Were that to change, the lookup misses and authorization
 * authenticates the call itself.
 */
const authentications = new WeakMap<grpc.Metadata, NonNullable<GateAuthentication>>();

/** What the gate found when it authenticated the call with this metadata, if auth is on. */
export function gateAuthenticationOf(metadata: grpc.Metadata): GateAuthentication {
  return authentications.get(metadata);
}

/** An interceptor applying `gate` to the calls of `methods` (by path); other services (health, reflection) only get the small-request cap. */
export function grpcRequestGate(gate: RequestGate, methods: ReadonlyMap<string, DescMethod>): grpc.ServerInterceptor {
  // grpc-js types an interceptor's result as its own class, but uses only the interface.
  return (descriptor, call) => new GatedCall(call, methods.get(descriptor.path), gate) as unknown as grpc.ServerInterceptingCall;
}

class GatedCall implements ServerInterceptingCallInterface {
  private listener: CallListener | undefined;
  private refused = false;
  private deliveredRefusal = false;
  /** Budget bytes the request holds until the call ends. */
  private held = 0;
  private ended = false;
  /** Made when a request message waits for the budget: most calls never need one. */
  private cancelled: AbortController | undefined;
  /** Keeps a charged request's message and the half-close in order while the message waits for the budget. */
  private delivery: Promise<void> = Promise.resolve();

  constructor(
    /** Named as grpc-js names it, so code looking for the HTTP/2 stream can walk down to the base call. */
    readonly nextCall: ServerInterceptingCallInterface,
    private readonly method: DescMethod | undefined,
    private readonly gate: RequestGate,
  ) {
    limitRequestMessages(nextCall, method === undefined ? SMALL_REQUEST_BYTES : maxRequestBytes(method, gate.maxMessageBytes));
  }

  start(listener: CallListener): void {
    this.listener = listener;
    const charged = this.method !== undefined && isSingleMessageRequest(this.method) && this.gate.budget.limitBytes > 0;
    this.nextCall.start({
      onReceiveMetadata: (metadata) => {
        if (this.method !== undefined) {
          const authorization = metadata.get("authorization")[0];
          const peer = identityOfCertificate(this.nextCall.getAuthContext()?.sslPeerCertificate);
          const authentication = this.gate.authenticate(typeof authorization === "string" ? authorization : null, peer);
          if (authentication !== undefined) authentications.set(metadata, authentication);
          this.refused = authentication instanceof Error;
          if (this.refused) {
            const stream = (baseCallOf(this.nextCall) as { stream?: http2.ServerHttp2Stream } | undefined)?.stream;
            if (stream !== undefined) countRefusedStream(stream);
          }
        }
        listener.onReceiveMetadata(metadata);
      },
      onReceiveMessage: (message: Buffer) => {
        // Streamed messages are charged by the call guard, one by one: hand them on as they come.
        if (!charged) return listener.onReceiveMessage(message);
        // The call's one message: within the reserve it is granted at once, so only a larger one needs a way to stop waiting.
        const waits = message.length > this.gate.budget.reserveBytes;
        const signal = waits ? (this.cancelled ??= new AbortController()).signal : NEVER_ABORTED;
        const taken = this.gate.budget.acquire(message.length, signal, this);
        this.delivery = this.delivery
          .then(() => taken)
          .then(
            (bytes) => {
              this.held += bytes;
              if (this.ended) this.release();
              else listener.onReceiveMessage(message);
            },
            () => undefined, // cancelled while waiting: grpc-js has told the handler
          );
      },
      // After the request's message, which may still be waiting for the budget.
      onReceiveHalfClose: () => {
        if (charged) this.delivery = this.delivery.then(() => listener.onReceiveHalfClose());
        else listener.onReceiveHalfClose();
      },
      onCancel: () => {
        this.end();
        listener.onCancel();
      },
    });
  }

  startRead(): void {
    if (!this.refused) return this.nextCall.startRead();
    if (this.deliveredRefusal || this.listener === undefined || this.method === undefined) return;
    this.deliveredRefusal = true;
    const listener = this.listener;
    const single = isSingleMessageRequest(this.method);
    queueMicrotask(() => {
      if (single) listener.onReceiveMessage(Buffer.alloc(0));
      listener.onReceiveHalfClose();
    });
  }

  private release(): void {
    this.gate.budget.release(this.held);
    this.held = 0;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelled?.abort(CALL_ENDED); // a shared reason: aborting without one builds a DOMException every call
    this.release();
  }

  sendStatus(status: Parameters<ServerInterceptingCallInterface["sendStatus"]>[0]): void {
    this.end();
    this.nextCall.sendStatus(this.method === undefined ? status : explainTooLarge(status, this.method, this.gate.maxMessageBytes));
  }

  sendMetadata(metadata: grpc.Metadata): void {
    this.nextCall.sendMetadata(metadata);
  }

  sendMessage(message: unknown, callback: () => void): void {
    this.nextCall.sendMessage(message, callback);
  }

  getPeer(): string {
    return this.nextCall.getPeer();
  }

  getDeadline(): grpc.Deadline {
    return this.nextCall.getDeadline();
  }

  getHost(): string {
    return this.nextCall.getHost();
  }

  getAuthContext(): ReturnType<ServerInterceptingCallInterface["getAuthContext"]> {
    return this.nextCall.getAuthContext();
  }

  getConnectionInfo(): ReturnType<ServerInterceptingCallInterface["getConnectionInfo"]> {
    return this.nextCall.getConnectionInfo();
  }

  getMetricsRecorder(): ReturnType<ServerInterceptingCallInterface["getMetricsRecorder"]> {
    return this.nextCall.getMetricsRecorder();
  }
}

/** grpc-js's words for a message over the limit, which name neither the RPC nor what to change. */
const TOO_LARGE = /^Received message larger than max \((\d+) vs (\d+)\)$/;

function explainTooLarge<S extends { code: number; details?: string }>(status: S, method: DescMethod, maxMessageBytes: number): S {
  const m = TOO_LARGE.exec(status.details ?? "");
  if (m === null) return status;
  const rpc = `${method.parent.typeName}/${method.name}`;
  const limit = Number(m[2]);
  const why =
    limit < maxMessageBytes
      ? `${rpc} takes requests of at most ${limit} bytes (a reference and its options; only WriteProtobuf and the chunks of streamed uploads may use server.maxMessageMBs)`
      : `messages are limited to ${limit} bytes (server.maxMessageMBs); send data in smaller chunks or raise server.maxMessageMBs`;
  return { ...status, details: `the request message is ${m[1]} bytes, too large: ${why}` };
}

/**
 * Lowers grpc-js's receive limit for one call. grpc-js takes the limit from
 * the server options only, and checks it against each message's length
 * prefix before buffering the message; its base call keeps that limit in
 * `maxReceiveMessageSize` and in its decoder's `maxReadMessageLength`.
 * grpc-js is pinned; test/ops/pre-auth-memory.test.ts fails if a new version
 * moves them.
 */
function limitRequestMessages(call: ServerInterceptingCallInterface, bytes: number): void {
  const base = baseCallOf(call) as { maxReceiveMessageSize?: number; decoder?: { maxReadMessageLength?: number } } | undefined;
  if (base === undefined) return;
  // -1 is grpc-js's "unlimited".
  const lower = (limit: number) => (limit < 0 ? bytes : Math.min(limit, bytes));
  if (typeof base.maxReceiveMessageSize === "number") base.maxReceiveMessageSize = lower(base.maxReceiveMessageSize);
  if (base.decoder !== undefined && typeof base.decoder.maxReadMessageLength === "number") {
    base.decoder.maxReadMessageLength = lower(base.decoder.maxReadMessageLength);
  }
}

/** grpc-js's BaseServerInterceptingCall under any interceptors: the one holding the HTTP/2 stream. */
export function baseCallOf(call: unknown): object | undefined {
  let at = call as { stream?: unknown; nextCall?: unknown } | undefined;
  for (let depth = 0; at !== undefined && at !== null && depth < 8; depth++) {
    if (at.stream !== undefined) return at;
    at = at.nextCall as typeof at;
  }
  return undefined;
}
