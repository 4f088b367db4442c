// The Node entry point of @stowd/client (browser.ts is the browser one).
// Design: the calls live once, platform-neutral, in stowd-client.ts over any
// connect Transport; this entry adds what only Node has — the tuned HTTP/2
// transport over connect-node (gRPC by default, Connect and gRPC-Web for the
// HTTP port), native CRC32C, and reads as Node streams. Results are plain
// objects (ObjectInfo, ServerInfo) with number sizes; the protobuf messages
// are in the "./proto" entry point.
export { createStowdClient, type StowdClient, type StowdClientOptions } from "./node-client.js";
export * from "./common-exports.js";
export { bearerToken } from "./bearer-token.js";
export { traceContext } from "./trace-context.js";
export {
  createStowdTransport,
  type StowdTlsOptions,
  DEFAULT_BASE_URL,
  DEFAULT_WINDOW_BYTES,
  type StowdTransport,
  type StowdTransportOptions,
} from "./transport.js";
