// A gRPC call made by hand over node:http2, for tests that must send what no
// gRPC library would (bad length prefixes, stray flags, garbage) or observe
// exactly what the daemon put on the wire: the response's messages and the
// grpc-status it ended with, with no client-side deadline or byte counting.
import http2 from "node:http2";
import { grpcFrame, splitMessages } from "../helpers/grpc-frame.js";
export { grpcFrame };

export interface RawGrpcResult {
  /** HTTP :status. */
  httpStatus: number | undefined;
  /** grpc-status from the trailers (or from the headers of a trailers-only response); undefined when none arrived. */
  grpcStatus: number | undefined;
  /** grpc-message, percent-decoded. */
  grpcMessage: string;
  /** The length-prefixed messages of the response body. */
  messages: Buffer[];
  /** Body bytes that did not form a whole message. */
  leftover: number;
  /** A stream or session error, when the call did not end with trailers. */
  error: string | undefined;
  /** Milliseconds from sending the request to the end of the response. */
  elapsedMs: number;
}

export interface RawGrpcOptions {
  /** Extra request headers, e.g. grpc-timeout or grpc-encoding. */
  headers?: Record<string, string>;
  /** Give up (and report error "timed out") after this long; default 30 s. */
  giveUpMs?: number;
}

/** POSTs `body` (already framed, or deliberately not) to `path` on the daemon at `baseUrl`. */
export function rawGrpcCall(baseUrl: string, path: string, body: Buffer | Buffer[], options: RawGrpcOptions = {}): Promise<RawGrpcResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const session = http2.connect(baseUrl);
    session.on("error", () => {});
    const request = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...options.headers,
    });
    const chunks: Buffer[] = [];
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let settled = false;
    const finish = (error: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const status = trailers["grpc-status"] ?? headers["grpc-status"];
      const message = trailers["grpc-message"] ?? headers["grpc-message"];
      const { messages, leftover } = splitMessages(Buffer.concat(chunks));
      session.destroy();
      resolve({
        httpStatus: headers[":status"] === undefined ? undefined : Number(headers[":status"]),
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: typeof message === "string" ? decodeURIComponent(message) : "",
        messages,
        leftover,
        error,
        elapsedMs: Date.now() - started,
      });
    };
    const timer = setTimeout(() => finish("timed out"), options.giveUpMs ?? 30_000);
    request.on("response", (h) => (headers = h));
    request.on("trailers", (t: http2.IncomingHttpHeaders) => (trailers = t));
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => finish(undefined));
    request.on("close", () => finish(request.rstCode ? `stream reset (code ${request.rstCode})` : undefined));
    request.on("error", (err) => finish(String(err)));
    for (const part of Array.isArray(body) ? body : [body]) request.write(part);
    request.end();
  });
}
