// createStowdClient for Node: the tuned HTTP/2 transport of transport.ts
// (gRPC to the daemon's gRPC port by default), native CRC32C, and reads as
// Node streams on top of the platform-neutral client.
import type { Readable } from "node:stream";
import type { Transport } from "@connectrpc/connect";
import { nodeCrc32c } from "./crc32c-node.js";
import { readableOf } from "./node-readable.js";
import type { ReadOptions } from "./read.js";
import { type BaseStowdClient, type ReliabilityOptions, createBaseStowdClient } from "./stowd-client.js";
import { type StowdTlsOptions, type StowdTransport, createStowdTransport } from "./transport.js";

export interface StowdClientOptions extends ReliabilityOptions {
  /** The daemon's gRPC address; default `http://127.0.0.1:50051`. Ignored when `transport` is given. */
  baseUrl?: string;
  /**
   * Any connect Transport, e.g. `createStowdTransport({ protocol: "connect" })`
   * for the daemon's HTTP port. The caller owns it: `close()` does not close
   * it. Give it `acceptCompression: []` — compressing opaque bytes costs ~20x throughput.
   */
  transport?: Transport;
  /** Default deadline per call in milliseconds (a whole stream for reads and writes). None by default. */
  timeoutMs?: number;
  /** Bearer token for a daemon with auth on. Ignored when `transport` is given (use createStowdTransport's `token`). */
  token?: string;
  /** TLS for an `https://` baseUrl (CA, and client certificate for mutual TLS). Ignored when `transport` is given. */
  tls?: StowdTlsOptions;
}

export interface StowdClient extends BaseStowdClient {
  /** Reads an object (or range) as a Node stream; errors are stream errors; destroy() cancels. */
  readStream(reference: string, options?: ReadOptions): Readable;
}

export function createStowdClient(options: StowdClientOptions = {}): StowdClient {
  // Only a transport created here is closed by close().
  let owned: StowdTransport | undefined;
  const transport =
    options.transport ??
    (owned = createStowdTransport({
      ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    }));
  const base = createBaseStowdClient({
    ...options,
    transport,
    timeoutMs: options.timeoutMs,
    crc32c: nodeCrc32c,
    close: () => owned?.close(),
  });
  return {
    ...base,
    readStream: (reference, o = {}) => readableOf((signal) => base.read(reference, { ...o, signal }), o.signal),
  };
}
