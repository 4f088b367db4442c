// Connection timeouts of the HTTP port (server.headersTimeout and
// server.idleConnectionTimeout), so that connections which send nothing, or
// too little to make a request, or nothing more after their calls, do not
// stay open for ever: each holds a socket and, over HTTP/2, a session with
// its buffers. The gRPC port gets the idle timeout from grpc-js's
// `grpc.max_connection_idle_ms` (grpc-listener.ts).
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type * as net from "node:net";

export interface ConnectionTimeouts {
  /** A new connection must send a request's headers within this; 0 = no limit. */
  headersTimeoutMs: number;
  /** A connection with no request in progress for this long is closed; 0 = never. */
  idleConnectionTimeoutMs: number;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Reads the first bytes of a connection until they tell HTTP/2's preface
 * from anything else, puts them back and calls `decided`. A connection that
 * does not get that far within the headers timeout is closed.
 */
export function sniffProtocol(socket: net.Socket, timeouts: ConnectionTimeouts, decided: (isHttp2: boolean) => void): void {
  let head = Buffer.alloc(0);
  const timer = timeouts.headersTimeoutMs > 0 ? setTimeout(() => socket.destroy(), timeouts.headersTimeoutMs) : undefined;
  const stop = () => {
    clearTimeout(timer);
    socket.off("readable", onReadable);
    socket.off("end", onEnd);
  };
  const onEnd = () => {
    stop();
    socket.destroy();
  };
  const onReadable = () => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null)
      head = Buffer.concat([head, chunk]);
    const n = Math.min(head.length, H2_PREFACE.length);
    const isHttp2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    // A partial preface (even just "P", as in "POST") decides nothing yet.
    if (head.length === 0 || (isHttp2 && n < H2_PREFACE.length)) return;
    stop();
    socket.unshift(head);
    decided(isHttp2);
  };
  socket.on("readable", onReadable);
  socket.once("end", onEnd);
}

/** Node's own HTTP/1.1 timeouts: headers of every request, and keep-alive between requests. */
export function http1TimeoutOptions(timeouts: ConnectionTimeouts): http.ServerOptions {
  return {
    ...(timeouts.headersTimeoutMs > 0 ? { headersTimeout: timeouts.headersTimeoutMs } : {}),
    keepAliveTimeout: timeouts.idleConnectionTimeoutMs,
    // Node checks headers timeouts on this interval (default 30 s).
    connectionsCheckingInterval: Math.min(1000, timeouts.headersTimeoutMs || 1000),
  };
}

/**
 * An HTTP/2 session must open its first stream within the headers timeout,
 * and is closed (GOAWAY) once it has had no open stream for the idle timeout.
 */
export function applySessionTimeouts(session: http2.ServerHttp2Session, timeouts: ConnectionTimeouts): void {
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const first = timeouts.headersTimeoutMs > 0 ? setTimeout(() => session.destroy(), timeouts.headersTimeoutMs) : undefined;
  const armIdle = () => {
    if (timeouts.idleConnectionTimeoutMs > 0) idle = setTimeout(() => session.close(), timeouts.idleConnectionTimeoutMs);
  };
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    clearTimeout(first);
    clearTimeout(idle);
    open++;
    stream.once("close", () => {
      if (--open === 0 && !session.closed && !session.destroyed) armIdle();
    });
  });
  session.once("close", () => {
    clearTimeout(first);
    clearTimeout(idle);
  });
}
