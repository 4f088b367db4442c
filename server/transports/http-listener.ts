// The HTTP port: connect-node serves the same service implementations as
// Connect (JSON or binary, so `curl` works), gRPC-Web and gRPC, plus plain
// endpoints such as /healthz; with server.cors (cors.ts), also to browser
// pages of other origins. One port speaks HTTP/1.1 and cleartext HTTP/2
// (h2c with prior knowledge): the first bytes of each connection decide.
// connect-node's router serves the RPCs through a small adapter of our own
// (instead of connectNodeAdapter) so that the request gate decides from the
// headers what happens to the body: a refused request's body is never read,
// and a single-message request's body is charged to the byte budget as it
// arrives.
import { setMaxListeners } from "node:events";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { JsonValue, Registry } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter, createContextValues } from "@connectrpc/connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { log } from "../observability/log.js";
import { GATE_AUTHENTICATION } from "../security/authorize.js";
import { PEER_IDENTITY, peerIdentityOf } from "../security/peer-identity.js";
import { REQUEST_END } from "../calls/request-end.js";
import type { StreamBudget } from "../calls/stream-budget.js";
import type { ServedService } from "./grpc-listener.js";
import { applySessionTimeouts, http1TimeoutOptions, sniffProtocol, type ConnectionTimeouts } from "./connection-timeouts.js";
import { answerCors, type CorsPolicy } from "./cors.js";
import type { HostGuard } from "./host-guard.js";
import { createNodeRequestEnd } from "./http2-request-end.js";
import { countRefusedStream, isSingleMessageRequest, maxRequestBytes, type RequestGate } from "./request-gate.js";

/** HTTP/2 flow-control windows: Node's 64 KiB default caps a stream near 450 MB/s. */
const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
const SESSION_WINDOW_BYTES = 32 * 1024 * 1024;

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;
export type PlainRoute = (req: NodeRequest, res: NodeResponse) => void;

export interface HttpListenerOptions {
  /** host:port; port 0 picks a free port. */
  address: string;
  services: ServedService[];
  maxMessageBytes: number;
  /** Message types Connect JSON can name in google.protobuf.Any and error details. */
  jsonRegistry: Registry;
  /** Non-RPC endpoints by path, e.g. "/healthz"; a path ending in "/" also serves every path under it (plainRouteFor). */
  plainRoutes: Record<string, PlainRoute>;
  /** TLS (server/security/reloadable-tls.ts); default cleartext. */
  tls?: HttpListenerTls;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection (server.maxStreamsPerConnection); default: Node's. */
  maxStreamsPerConnection?: number;
  /** What is decided from a request's headers before its body is read (request-gate.ts). */
  gate: RequestGate;
  /** server.headersTimeout and server.idleConnectionTimeout. */
  timeouts: ConnectionTimeouts;
  /** server.cors: browser origins allowed to call the RPCs (cors.ts); default none, no CORS headers. */
  cors?: CorsPolicy;
  /** Refuses requests addressed to other names (host-guard.ts); default: every Host is served. */
  hostGuard?: HostGuard;
}

/** What the listener needs of server/security/reloadable-tls.ts. */
export interface HttpListenerTls {
  /** Clients must present a certificate the CA in `current().ca` signed. */
  mutual: boolean;
  current(): tls.SecureContextOptions;
  onReload(listener: (options: tls.SecureContextOptions) => void): void;
}

export interface HttpListener {
  port: number;
  close(graceMs: number): Promise<void>;
}

export async function startHttpListener(options: HttpListenerOptions): Promise<HttpListener> {
  const shutdown = new AbortController();
  // Every call in progress listens to it (and stops listening when it ends): no leak, so no listener limit.
  setMaxListeners(0, shutdown.signal);
  const router = createConnectRouter({
    // Byte payloads do not compress; gzip would cost ~20x throughput (design §5).
    acceptCompression: [],
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
    shutdownSignal: shutdown.signal,
    jsonOptions: { registry: options.jsonRegistry },
  });
  for (const { service, impl } of options.services) {
    for (const method of service.methods) {
      const fn = (impl as Record<string, unknown>)[method.localName] as Parameters<typeof router.rpc>[1];
      router.rpc(method, fn, { readMaxBytes: maxRequestBytes(method, options.maxMessageBytes) });
    }
  }
  const rpcs = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const { gate } = options;

  const handler = (req: NodeRequest, res: NodeResponse) => {
    const refusedHost = options.hostGuard?.("authority" in req ? req.authority : req.headers.host);
    if (refusedHost !== undefined) {
      res.writeHead(403, { "content-type": "text/plain; charset=utf-8" });
      res.end(`${refusedHost}\n`);
      return;
    }
    const uHandler = rpcs.get((req.url ?? "").split("?")[0] ?? "");
    if (uHandler === undefined) return fallback(req, res);
    if (options.cors !== undefined && answerCors(options.cors, req, res)) return;
    const socket = "stream" in req ? req.stream.session?.socket : req.socket;
    const peer = options.tls?.mutual === true && socket instanceof tls.TLSSocket ? peerIdentityOf(socket) : undefined;
    // How client-streaming calls prove the client finished its upload (server/calls/request-end.ts).
    const values = createContextValues().set(REQUEST_END, createNodeRequestEnd(req)).set(PEER_IDENTITY, peer);
    const authentication = gate.authenticate(headerOf(req, "authorization"), peer);
    if (authentication !== undefined) values.set(GATE_AUTHENTICATION, authentication);
    let body: AsyncIterable<Uint8Array> | undefined;
    if (authentication instanceof Error) {
      body = refusedRequestBody(req);
      endAfterResponse(req, res);
    } else if (isSingleMessageRequest(uHandler.method) && gate.budget.limitBytes > 0) {
      body = budgetedBody(req, res, gate.budget);
    }
    const uReq = universalRequestFromNodeRequest(req, res, body as JsonValue | undefined, values);
    // connect allocates a unary body's declared Content-Length up front; without
    // it, it collects what arrives, up to the method's limit (and the budget).
    uReq.header.delete("content-length");
    uHandler(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        log("error", "HTTP handler failed", { rpc: uHandler.requestPath, err: reason instanceof Error ? reason.message : String(reason) });
      });
  };

  function fallback(req: NodeRequest, res: NodeResponse): void {
    const route = plainRouteFor(options.plainRoutes, (req.url ?? "").split("?")[0] ?? "");
    if (route !== undefined) return route(req, res);
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: stowd serves RPCs at /stowd.v1.RawStoreService/<Method> and /stowd.v1.ProtobufStoreService/<Method>\n");
  }

  const h1 = http.createServer(http1TimeoutOptions(options.timeouts), handler);
  // h1 never listens itself (sockets come from the dispatcher below), but
  // Node starts enforcing headersTimeout when a server emits 'listening'.
  h1.emit("listening");
  const h2 = http2.createServer(
    {
      settings: {
        initialWindowSize: STREAM_WINDOW_BYTES,
        ...(options.maxStreamsPerConnection === undefined ? {} : { maxConcurrentStreams: options.maxStreamsPerConnection }),
      },
    },
    handler,
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    session.once("connect", () => session.setLocalWindowSize(SESSION_WINDOW_BYTES));
    applySessionTimeouts(session, options.timeouts);
  });

  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Hand the socket to the server that speaks its protocol.
    sniffProtocol(socket, options.timeouts, (isHttp2) => (isHttp2 ? h2 : h1).emit("connection", socket));
  });
  const listening = options.tls === undefined ? server : createTlsFront(options.tls, server, options.timeouts);

  const [host, portText] = splitAddress(options.address);
  await new Promise<void>((resolve, reject) => {
    listening.once("error", reject);
    listening.listen(Number(portText), host, () => resolve());
  });
  const port = (listening.address() as net.AddressInfo).port;

  return {
    port,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => listening.close(() => resolve()));
      h1.closeIdleConnections();
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        shutdown.abort();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

/**
 * A TLS server in front of the cleartext dispatcher: it terminates TLS
 * (offering h2 and http/1.1 by ALPN) and hands each decrypted socket to
 * `dispatcher`, which tells HTTP/2 from HTTP/1.1 by the first bytes as it
 * does in cleartext. A reload swaps the secure context for new handshakes;
 * open connections keep theirs.
 */
function createTlsFront(options: HttpListenerTls, dispatcher: net.Server, timeouts: ConnectionTimeouts): tls.Server {
  const { mutual } = options;
  const handshake = timeouts.headersTimeoutMs > 0 ? { handshakeTimeout: timeouts.headersTimeoutMs } : {};
  const front = tls.createServer(
    { ...options.current(), ALPNProtocols: ["h2", "http/1.1"], requestCert: mutual, rejectUnauthorized: mutual, ...handshake },
    (socket) => dispatcher.emit("connection", socket),
  );
  options.onReload((context) => front.setSecureContext(context));
  return front;
}

export function splitAddress(address: string): [string, string] {
  const colon = address.lastIndexOf(":");
  if (colon < 0) throw new Error(`listen address ${JSON.stringify(address)} must be host:port, e.g. 127.0.0.1:8080`);
  return [address.slice(0, colon).replace(/^\[|\]$/g, ""), address.slice(colon + 1)];
}

function headerOf(req: NodeRequest, name: string): string | null {
  const value = req.headers[name];
  return typeof value === "string" ? value : null;
}

/**
 * The body connect reads for a request refused at its headers: an empty
 * request in the request's own encoding (an empty envelope, `{}` or no
 * bytes), so the call pipeline's authorization refuses it with the gate's
 * error, logged and counted like any other denial. The real body is never read.
 */
async function* refusedRequestBody(req: NodeRequest): AsyncGenerator<Uint8Array> {
  const type = headerOf(req, "content-type") ?? "";
  if (/^application\/(grpc|connect\+)/.test(type))
    yield new Uint8Array(5); // an envelope: flags 0, length 0
  else if (type.startsWith("application/json")) yield new TextEncoder().encode("{}");
}

/**
 * Ends the request's HTTP/2 stream once the response is out, so an unread
 * body is dropped rather than buffered up to the stream's window. Over
 * HTTP/1.1, Node reads and discards the rest of the body itself after the
 * response, which keeps the response deliverable (closing the socket with
 * unread data would reset it before the client reads the answer).
 */
function endAfterResponse(req: NodeRequest, res: NodeResponse): void {
  if (!("stream" in req)) return;
  countRefusedStream(req.stream);
  res.once("finish", () => req.stream.close(http2.constants.NGHTTP2_NO_ERROR));
}

/**
 * A single-message request's body as connect reads it, charged to the
 * in-flight byte budget: each piece is taken before the next is read (so a
 * full budget stops reading and flow control holds the client back) and
 * all of it is given back when the response is done.
 */
async function* budgetedBody(req: NodeRequest, res: NodeResponse, budget: StreamBudget): AsyncGenerator<Uint8Array> {
  const done = new AbortController();
  let held = 0;
  res.once("close", () => {
    done.abort(new ConnectError("the request ended", Code.Canceled));
    budget.release(held);
    held = 0;
  });
  for await (const piece of req as AsyncIterable<Uint8Array>) {
    const taken = await budget.acquire(piece.length, done.signal);
    if (done.signal.aborted) budget.release(taken);
    else held += taken;
    yield piece;
  }
}

/** The route of `path`: its exact entry, else the longest entry ending in "/" that `path` starts with. */
export function plainRouteFor(routes: Record<string, PlainRoute>, path: string): PlainRoute | undefined {
  const exact = routes[path];
  if (exact !== undefined) return exact;
  let best: string | undefined;
  for (const prefix of Object.keys(routes)) {
    if (prefix.endsWith("/") && path.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  return best === undefined ? undefined : routes[best];
}
