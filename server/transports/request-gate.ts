// What both listeners decide from a request's headers, before they read a
// byte of its body: whether the caller is authenticated (an unauthenticated
// request is answered at once, and its body is never read; the verdict
// travels with the call as GATE_AUTHENTICATION, so authorization does not
// authenticate it again), and how large a request message the method takes. Single-message requests (unary calls
// and the request of a server stream) are also charged to the in-flight
// byte budget while the call runs, so their bodies count like stream data.
import * as http2 from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import type { Principal } from "../security/authenticate.js";
import type { PeerIdentity } from "../security/peer-identity.js";
import type { StreamBudget } from "../calls/stream-budget.js";

/**
 * The largest request message of the RPCs whose request is a reference and a
 * few options: far above any reference a backend accepts, far below
 * server.maxMessageMBs, so an idle caller cannot make the daemon hold
 * megabytes per call.
 */
export const SMALL_REQUEST_BYTES = 64 * 1024;

/** RPCs whose single request message carries data, and so may use all of server.maxMessageMBs. */
const DATA_REQUESTS = new Set(["stowd.v1.ProtobufStoreService/WriteProtobuf"]);

export interface RequestGate {
  /**
   * Authenticates a request from its headers: the caller, the error to
   * answer it with without reading its body (UNAUTHENTICATED), or undefined
   * when auth is off.
   */
  authenticate(authorization: string | null, peer: PeerIdentity | undefined): GateAuthentication;
  /** The in-flight byte budget single-message requests are charged to. */
  budget: StreamBudget;
  /** server.maxMessageMBs in bytes. */
  maxMessageBytes: number;
}

/** The gate's verdict on a request: an Error means it is refused. */
export type GateAuthentication = Principal | Error | undefined;

/** Whether the method's request is one message (unary, server streaming) rather than a stream of them. */
export function isSingleMessageRequest(method: DescMethod): boolean {
  return method.methodKind === "unary" || method.methodKind === "server_streaming";
}

/** The largest request message `method` accepts. */
export function maxRequestBytes(method: DescMethod, maxMessageBytes: number): number {
  if (!isSingleMessageRequest(method) || DATA_REQUESTS.has(`${method.parent.typeName}/${method.name}`)) return maxMessageBytes;
  return Math.min(SMALL_REQUEST_BYTES, maxMessageBytes);
}

/**
 * Refused streams one HTTP/2 connection may have open at once. A refused
 * call's body is never read, but until its client ends the stream it keeps a
 * stream slot and up to a flow-control window of unread bytes; a connection
 * that opens more than this many is closed.
 */
export const REFUSED_STREAMS_PER_CONNECTION = 32;

const refusedOpen = new WeakMap<http2.Http2Session, number>();

/** Counts a refused stream against its connection's cap until it closes; closes the connection over the cap. */
export function countRefusedStream(stream: http2.Http2Stream): void {
  const session = stream.session;
  if (session === undefined) return;
  const open = (refusedOpen.get(session) ?? 0) + 1;
  refusedOpen.set(session, open);
  stream.once("close", () => refusedOpen.set(session, (refusedOpen.get(session) ?? 1) - 1));
  if (open > REFUSED_STREAMS_PER_CONNECTION) {
    session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    session.destroy();
  }
}
