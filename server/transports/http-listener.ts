// The HTTP port: connect-node serves the same service implementations as
// Connect (JSON or binary, so `curl` works), gRPC-Web and gRPC, plus plain
// endpoints such as /healthz. One port speaks HTTP/1.1 and cleartext HTTP/2
// (h2c with prior knowledge): the first bytes of each connection decide.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Registry } from "@bufbuild/protobuf";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { PEER_IDENTITY, peerIdentityOf } from "../security/peer-identity.js";
import { REQUEST_END } from "../services/request-end.js";
import type { ServedService } from "./grpc-listener.js";
import { createNodeRequestEnd } from "./http2-request-end.js";

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** HTTP/2 flow-control windows: Node's 64 KiB default caps a stream near 450 MB/s. */
const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
const SESSION_WINDOW_BYTES = 32 * 1024 * 1024;

type NodeHandler = ReturnType<typeof connectNodeAdapter>;
export type PlainRoute = (req: Parameters<NodeHandler>[0], res: Parameters<NodeHandler>[1]) => void;

export interface HttpListenerOptions {
  /** host:port; port 0 picks a free port. */
  address: string;
  services: ServedService[];
  maxMessageBytes: number;
  /** Message types Connect JSON can name in google.protobuf.Any and error details. */
  jsonRegistry: Registry;
  /** Non-RPC endpoints by path, e.g. "/healthz". */
  plainRoutes: Record<string, PlainRoute>;
  /** TLS (server/security/reloadable-tls.ts); default cleartext. */
  tls?: HttpListenerTls;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection (server.maxStreamsPerConnection); default: Node's. */
  maxStreamsPerConnection?: number;
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
  const handler = connectNodeAdapter({
    routes(router) {
      for (const { service, impl } of options.services) router.service(service, impl);
    },
    // Byte payloads do not compress; gzip would cost ~20x throughput (design §5).
    acceptCompression: [],
    readMaxBytes: options.maxMessageBytes,
    writeMaxBytes: options.maxMessageBytes,
    shutdownSignal: shutdown.signal,
    jsonOptions: { registry: options.jsonRegistry },
    contextValues: (req: Parameters<NodeHandler>[0]) => {
      // How client-streaming calls prove the client finished its upload (server/services/request-end.ts).
      const values = createContextValues().set(REQUEST_END, createNodeRequestEnd(req));
      if (options.tls?.mutual !== true) return values;
      const socket = "stream" in req ? req.stream.session?.socket : req.socket;
      return values.set(PEER_IDENTITY, socket instanceof tls.TLSSocket ? peerIdentityOf(socket) : undefined);
    },
    fallback(req, res) {
      const route = options.plainRoutes[(req.url ?? "").split("?")[0] ?? ""];
      if (route !== undefined) return route(req, res);
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found: stowd serves RPCs at /stowd.v1.RawStoreService/<Method> and /stowd.v1.ProtobufStoreService/<Method>\n");
    },
  });

  const h1 = http.createServer(handler);
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
  });

  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Peek at the first bytes, put them back, and hand the socket to the
    // server that speaks its protocol.
    socket.once("readable", () => {
      const head = socket.read() as Buffer | null;
      if (head === null) return socket.destroy();
      socket.unshift(head);
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      (isH2 ? h2 : h1).emit("connection", socket);
    });
  });
  const listening = options.tls === undefined ? server : createTlsFront(options.tls, server);

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
function createTlsFront(options: HttpListenerTls, dispatcher: net.Server): tls.Server {
  const { mutual } = options;
  const front = tls.createServer({ ...options.current(), ALPNProtocols: ["h2", "http/1.1"], requestCert: mutual, rejectUnauthorized: mutual }, (socket) =>
    dispatcher.emit("connection", socket),
  );
  options.onReload((context) => front.setSecureContext(context));
  return front;
}

export function splitAddress(address: string): [string, string] {
  const colon = address.lastIndexOf(":");
  if (colon < 0) throw new Error(`listen address ${JSON.stringify(address)} must be host:port, e.g. 127.0.0.1:8080`);
  return [address.slice(0, colon).replace(/^\[|\]$/g, ""), address.slice(colon + 1)];
}
