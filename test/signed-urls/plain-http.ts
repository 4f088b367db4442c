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

/** How a download ended: read to its end (`complete`), or cut off by the server. */
export interface DownloadEnd {
  complete: boolean;
  /** The bytes read (none for a reader that never read). */
  body: Buffer;
}

/** A GET whose headers arrived and whose body the caller reads at its own pace, or not at all. */
export interface Download {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Reads the body, pausing `pauseMs` after each chunk (a slow reader); resolves when it ends or is cut off. */
  read(pauseMs?: number): Promise<DownloadEnd>;
  /** Resolves when the response ends or is cut off; until `read` is called, nothing is read (a parked reader). */
  ended: Promise<DownloadEnd>;
}

/** Starts a GET with node:http and resolves once its headers are in, with the body not yet read. */
export function startDownload(url: string, agent: http.Agent | false = false): Promise<Download> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent }, (res) => {
      res.pause();
      const chunks: Buffer[] = [];
      // A cut-off response errors ("aborted"); `ended` reports it as incomplete.
      res.on("error", () => undefined);
      const ended = new Promise<DownloadEnd>((done) =>
        res.once("close", () => done({ complete: res.complete, body: Buffer.concat(chunks) })),
      );
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        ended,
        read(pauseMs = 0) {
          res.on("data", (chunk: Buffer) => {
            chunks.push(chunk);
            if (pauseMs > 0) {
              res.pause();
              setTimeout(() => res.resume(), pauseMs);
            }
          });
          res.resume();
          return ended;
        },
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * A PUT that declares `declaredBytes`, sends `sent`, and then sends nothing
 * more while keeping the connection open: a stalled uploader. Resolves with
 * the status of the answer, or 0 when the server closed the connection
 * without one.
 */
export function stalledPut(url: string, headers: Record<string, string>, declaredBytes: number, sent: Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: "PUT", headers: { ...headers, "content-length": String(declaredBytes) }, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      },
    );
    req.on("error", () => resolve(0));
    req.on("close", () => resolve(0));
    req.write(sent);
  });
}
