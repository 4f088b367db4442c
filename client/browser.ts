// The browser entry point of @stowd/client (bundlers pick it through the
// "browser" export condition; "@stowd/client/browser" names it explicitly).
// Design: the same platform-neutral calls as the Node entry (stowd-client.ts)
// over connect-web's Connect protocol, binary format, to the daemon's HTTP
// port, which must allow the page's origin (CORS). Nothing here imports a
// node: module or connect-node. Bodies may be Blobs and ReadableStreams,
// reads come out as web ReadableStreams (`readWebStream`), CRC32C is
// WebAssembly (hash-wasm). fetch cannot stream a request body, so uploads
// are sent as one buffered body (see browser-transport.ts).
export { createStowdClient, type StowdClient, type StowdClientOptions } from "./browser-client.js";
export { createBrowserTransport, type BrowserTransportOptions } from "./browser-transport.js";
export { bearerToken } from "./bearer-token.js";
export { traceContext } from "./trace-context.js";
export * from "./common-exports.js";
