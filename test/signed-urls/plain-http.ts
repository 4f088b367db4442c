// Plain HTTP clients for signed URLs, as a user without stowd's SDK has them:
// node:http (HTTP/1.1, no stowd code in between) and the curl binary.
import { execFile } from "node:child_process";
import * as http from "node:http";

export interface PlainResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface PlainRequest {
  method?: string;
  headers?: Record<string, string>;
  /** Sent with a Content-Length unless the headers say otherwise. */
  body?: Uint8Array | string;
}

/** One request with node:http; resolves with the whole answer. */
export function httpRequest(url: string, request: PlainRequest = {}): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: request.method ?? "GET", headers: request.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(request.body);
  });
}

/**
 * A PUT that declares `declaredBytes`, sends `sentBytes` of them, and then
 * drops the connection: a client cancelled mid-body. Resolves once the
 * socket is gone.
 */
export function cancelledPut(url: string, headers: Record<string, string>, declaredBytes: number, sent: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: "PUT", headers: { ...headers, "content-length": String(declaredBytes) }, agent: false });
    req.on("error", () => resolve());
    req.on("close", () => resolve());
    req.write(sent, () => setTimeout(() => req.destroy(), 100));
  });
}

export interface CurlResult {
  status: number;
  body: Buffer;
}

/** The curl binary with `args`; the HTTP status comes from `-w`, written on its own line after the body. */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", ...args], { encoding: "buffer", maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err !== null) return reject(new Error(`curl ${args.join(" ")} failed: ${err.message}`, { cause: err }));
      const cut = stdout.lastIndexOf(0x0a);
      resolve({ status: Number(stdout.subarray(cut + 1).toString()), body: stdout.subarray(0, cut) });
    });
  });
}
