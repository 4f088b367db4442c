// The tuned default transport: HTTP/2 with large flow-control windows and no
// compression, because stowd's payloads are opaque bytes. connect-node would
// otherwise gzip every message (measured: ~20x slower) and keep Node's 64 KiB
// default windows (streams capped near 450 MB/s).
import type * as http2 from "node:http2";
import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  type GrpcTransportOptions,
} from "@connectrpc/connect-node";
import { callInterceptors } from "./call-interceptors.js";

/** The daemon's gRPC port on this machine. */
export const DEFAULT_BASE_URL = "http://127.0.0.1:50051";

/** HTTP/2 receive window, per stream and per connection. */
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024;

export interface StowdTransportOptions {
  /** Where the daemon listens; default {@link DEFAULT_BASE_URL}. */
  baseUrl?: string;
  /**
   * Wire protocol: `grpc` (default; the daemon's gRPC port), or `connect` /
   * `grpc-web` (the daemon's HTTP port).
   */
  protocol?: "grpc" | "connect" | "grpc-web";
  /** HTTP version for `connect` and `grpc-web`; gRPC always uses "2". Default "2". */
  httpVersion?: "1.1" | "2";
  /** HTTP/2 receive window in bytes, per stream and per connection; default 8 MiB. */
  windowBytes?: number;
  /** Interceptors applied to every call. */
  interceptors?: Interceptor[];
  /** Bearer token for a daemon with auth on: sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /**
   * Send the active OpenTelemetry trace context with every call (W3C
   * `traceparent`, through @opentelemetry/api's registered propagator; nothing
   * when the application registered none), so the daemon's spans join the
   * caller's trace. Default true.
   */
  traceContext?: boolean;
  /**
   * TLS settings for an `https://` baseUrl: the CA that signed the daemon's
   * certificate (default: the system CAs) and, for mutual TLS, this client's
   * PEM certificate and key.
   */
  tls?: StowdTlsOptions;
}

export interface StowdTlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** A connect Transport that owns its connection. */
export interface StowdTransport extends Transport {
  /** Closes the HTTP/2 connection and any open streams. Idempotent. */
  close(): void;
}

type SessionManager = NonNullable<GrpcTransportOptions["sessionManager"]>;

/** Creates the transport {@link createStowdClient} uses when given none. */
export function createStowdTransport(options: StowdTransportOptions = {}): StowdTransport {
  const baseUrl = options.baseUrl ?? DEFAULT_BASE_URL;
  const protocol = options.protocol ?? "grpc";
  const common = {
    baseUrl,
    acceptCompression: [],
    interceptors: callInterceptors(options),
  };
  const tlsOptions = options.tls ?? {};
  if (protocol !== "grpc" && options.httpVersion === "1.1") {
    // No session to tune or close: node:http's agent owns the sockets.
    const factory = protocol === "connect" ? createConnectTransport : createGrpcWebTransport;
    return Object.assign(factory({ ...common, httpVersion: "1.1", nodeOptions: tlsOptions }), { close() {} });
  }
  const { sessionManager, close } = createWindowedSessionManager(baseUrl, options.windowBytes ?? DEFAULT_WINDOW_BYTES, tlsOptions);
  const h2 = { ...common, httpVersion: "2" as const, sessionManager };
  const transport =
    protocol === "grpc" ? createGrpcTransport(h2) : protocol === "connect" ? createConnectTransport(h2) : createGrpcWebTransport(h2);
  return Object.assign(transport, { close });
}

/**
 * An HTTP/2 session manager with raised receive windows.
 *
 * The per-stream window is an HTTP/2 setting (`initialWindowSize`) that
 * Http2SessionManager passes to `http2.connect`. The connection window is not
 * a setting: it needs `session.setLocalWindowSize()`, and connect-node keeps
 * its session private. Every stream it opens exposes the session as
 * `stream.session`, though, so we wrap `request()` and raise the connection
 * window the first time we see each session (a reconnect makes a new one).
 */
function createWindowedSessionManager(
  baseUrl: string,
  windowBytes: number,
  tls: StowdTlsOptions = {},
): { sessionManager: SessionManager; close: () => void } {
  const manager = new Http2SessionManager(baseUrl, {}, { ...tls, settings: { initialWindowSize: windowBytes } });
  const tuned = new WeakSet<http2.Http2Session>();
  const sessionManager: SessionManager = {
    authority: manager.authority,
    async request(method, path, headers, requestOptions) {
      const stream = await manager.request(method, path, headers, requestOptions);
      const session = stream.session;
      if (session !== undefined && !session.destroyed && !tuned.has(session)) {
        session.setLocalWindowSize(windowBytes);
        tuned.add(session);
      }
      return stream;
    },
    notifyResponseByteRead: (stream) => manager.notifyResponseByteRead(stream),
  };
  return { sessionManager, close: () => manager.abort() };
}
