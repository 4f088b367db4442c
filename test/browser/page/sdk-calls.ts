// Runs in the browser page (bundled with the SDK's browser entry by
// sdk-browser.test.ts): the calls the test drives, exposed on globalThis as
// `stowdPage`, each returning plain data the test can compare.
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { bearerToken, createStowdClient, StowdClientError } from "../../../client/browser.js";

export interface RoundTrip {
  /** Sizes the daemon reported for the Blob and the bytes written. */
  writtenSizes: number[];
  /** What list() returned under the prefix. */
  listed: Array<{ reference: string; size: number }>;
  /** Whether readBytes returned exactly the payload the page uploaded. */
  identical: boolean;
  downloadedBytes: number;
  /** SHA-256 of the downloaded bytes, hex, for the test to compare with the payload it served. */
  downloadedSha256: string;
  /** The small object read back through readWebStream, as text. */
  streamedText: string;
}

export type Attempt = { ok: true } | { ok: false; name: string; code: number | undefined; message: string };

export const HELLO = "hello from the browser";

/** Uploads the page's /payload.bin as a Blob and HELLO as bytes under `prefix`, lists, and downloads both. */
async function roundTrip(baseUrl: string, token: string, prefix: string): Promise<RoundTrip> {
  const payload = new Uint8Array(await (await fetch("/payload.bin")).arrayBuffer());
  const client = createStowdClient({ baseUrl, token });
  try {
    const blob = await client.write(`${prefix}payload.bin`, new Blob([payload]), { contentType: "application/octet-stream" });
    const hello = await client.write(`${prefix}hello.txt`, new TextEncoder().encode(HELLO), { contentType: "text/plain" });
    const listed: RoundTrip["listed"] = [];
    for await (const entry of client.list(prefix)) {
      if (entry.kind === "object") listed.push({ reference: entry.info.reference, size: entry.info.size });
    }
    const downloaded = await client.readBytes(`${prefix}payload.bin`);
    const streamedText = await new Response(client.readWebStream(`${prefix}hello.txt`)).text();
    return {
      writtenSizes: [blob.size, hello.size],
      listed,
      identical: downloaded.length === payload.length && downloaded.every((byte, i) => byte === payload[i]),
      downloadedBytes: downloaded.length,
      downloadedSha256: hex(await crypto.subtle.digest("SHA-256", downloaded)),
      streamedText,
    };
  } finally {
    client.close();
  }
}

/** One small write; how it failed, if it did. */
async function attemptWrite(baseUrl: string, token: string, reference: string): Promise<Attempt> {
  const client = createStowdClient({ baseUrl, token });
  try {
    await client.write(reference, new TextEncoder().encode(HELLO));
    return { ok: true };
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    return { ok: false, name: error.name, code: err instanceof StowdClientError ? err.code : undefined, message: error.message };
  } finally {
    client.close();
  }
}

export interface GrpcWebCalls {
  /** Size of `reference` by head(). */
  headSize: number | undefined;
  /** How head() of a malformed reference failed: status code and ErrorDetail reason. */
  error: { code: number; reason: number; message: string } | undefined;
}

/** head() through connect-web's gRPC-Web transport (status in headers and trailers), of `reference` and of a malformed reference. */
async function grpcWebCalls(baseUrl: string, token: string, reference: string): Promise<GrpcWebCalls> {
  const transport = createGrpcWebTransport({ baseUrl, interceptors: [bearerToken(token)] });
  const client = createStowdClient({ transport });
  const headSize = (await client.head(reference))?.size;
  try {
    await client.head("no-scheme-here");
    return { headSize, error: undefined };
  } catch (err) {
    if (!(err instanceof StowdClientError)) throw err;
    return { headSize, error: { code: err.code, reason: err.reason, message: err.message } };
  }
}

function hex(digest: ArrayBuffer): string {
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export const stowdPage = { roundTrip, attemptWrite, grpcWebCalls };
(globalThis as { stowdPage?: typeof stowdPage }).stowdPage = stowdPage;
