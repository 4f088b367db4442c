// createStowdClient for browsers: the Connect protocol over fetch to the
// daemon's HTTP port (browser-transport.ts), CRC32C in WebAssembly.
import type { Transport } from "@connectrpc/connect";
import { createBrowserTransport } from "./browser-transport.js";
import { webCrc32c } from "./crc32c-web.js";
import { type BaseStowdClient, type ReliabilityOptions, createBaseStowdClient } from "./stowd-client.js";

export interface StowdClientOptions extends ReliabilityOptions {
  /**
   * The daemon's HTTP port (not its gRPC port), e.g. `http://127.0.0.1:8080`;
   * the daemon's CORS settings must allow this page's origin. Required unless
   * `transport` is given.
   */
  baseUrl?: string;
  /** Any connect Transport (e.g. connect-web's gRPC-Web one); the caller owns it. */
  transport?: Transport;
  /** Default deadline per call in milliseconds (a whole stream for reads and writes). None by default. */
  timeoutMs?: number;
  /** Bearer token for a daemon with auth on. Ignored when `transport` is given. */
  token?: string;
}

/** In a browser the client has every call except Node streams; reads stream with `readWebStream`. */
export type StowdClient = BaseStowdClient;

export function createStowdClient(options: StowdClientOptions): StowdClient {
  const transport = options.transport ?? createBrowserTransport({ baseUrl: requireBaseUrl(options.baseUrl), ...tokenOf(options) });
  return createBaseStowdClient({
    ...options,
    transport,
    timeoutMs: options.timeoutMs,
    crc32c: webCrc32c,
    // fetch keeps no connection of ours open: nothing to close.
    close: () => {},
  });
}

function requireBaseUrl(baseUrl: string | undefined): string {
  if (baseUrl === undefined || baseUrl === "") {
    throw new TypeError("createStowdClient in a browser needs `baseUrl`: the daemon's HTTP port, e.g. http://127.0.0.1:8080");
  }
  return baseUrl;
}

function tokenOf(options: StowdClientOptions) {
  return options.token === undefined ? {} : { token: options.token };
}
