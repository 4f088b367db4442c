// CORS on the HTTP port's RPC paths (server.cors), so web apps served from
// another origin can call stowd with connect-web. Browsers enforce CORS, not
// servers: a page from an origin not listed gets no CORS headers, so its
// browser refuses to send the call (the preflight fails) or to show it the
// answer. Callers outside browsers send no Origin and see no difference.
// Never sent: Access-Control-Allow-Credentials. Bearer tokens travel in the
// authorization header the page sets itself, so calls need no cookies or
// other ambient credentials, and a browser refuses a credentialed
// cross-origin call to a server that does not allow them.
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";
import { REQUEST_ID_HEADER } from "../calls/call-log.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface CorsPolicy {
  /** Origins exactly as browsers send them (`https://app.example`), or ["*"] for any. */
  allowedOrigins: readonly string[];
  /** How long a browser may cache a preflight answer. */
  maxAgeMs: number;
}

/** What a preflight allows and an allowed origin's page may read, per kind of path. */
export interface CorsAllowance {
  methods: readonly string[];
  allowedHeaders: readonly string[];
  exposedHeaders: readonly string[];
}

/**
 * The RPC paths: what the Connect, gRPC and gRPC-Web protocols send, plus
 * the bearer token and the caller's request id; status and error details of
 * gRPC-Web (grpc-status-details-bin carries ErrorDetail), and the request id
 * to quote in a report.
 */
const RPC_ALLOWANCE: CorsAllowance = {
  methods: connectCors.allowedMethods,
  allowedHeaders: [...connectCors.allowedHeaders, "authorization", REQUEST_ID_HEADER],
  exposedHeaders: [...connectCors.exposedHeaders, REQUEST_ID_HEADER],
};

/**
 * Applies `policy` to a request for an RPC path (or, with `allowance`, a
 * path of another kind, such as a signed URL): answers a preflight (and
 * returns true: the request is done), or sets the headers an allowed
 * origin's actual call needs on `res` before the call's own headers.
 */
export function answerCors(policy: CorsPolicy, req: NodeRequest, res: NodeResponse, allowance: CorsAllowance = RPC_ALLOWANCE): boolean {
  // Caches must not serve one origin's answer to another.
  res.setHeader("vary", "Origin");
  const origin = req.headers.origin;
  const allowed = origin !== undefined && isAllowedOrigin(policy, origin) ? allowOriginValue(policy, origin) : undefined;
  if (req.method === "OPTIONS" && origin !== undefined && req.headers["access-control-request-method"] !== undefined) {
    if (allowed === undefined) {
      // No CORS headers: the browser refuses the call. The text is for whoever reads the network log.
      res.writeHead(403, { "content-type": "text/plain" });
      res.end(`origin ${origin} may not call stowd from a browser: it is not in server.cors.allowedOrigins\n`);
      return true;
    }
    res.writeHead(204, {
      "access-control-allow-origin": allowed,
      "access-control-allow-methods": allowance.methods.join(", "),
      "access-control-allow-headers": allowance.allowedHeaders.join(", "),
      "access-control-max-age": String(Math.floor(policy.maxAgeMs / 1000)),
    });
    res.end();
    return true;
  }
  if (allowed !== undefined) {
    res.setHeader("access-control-allow-origin", allowed);
    res.setHeader("access-control-expose-headers", allowance.exposedHeaders.join(", "));
  }
  return false;
}

function isAllowedOrigin(policy: CorsPolicy, origin: string): boolean {
  return policy.allowedOrigins.includes("*") || policy.allowedOrigins.includes(origin);
}

/** "*" when any origin is allowed (no credentials are ever allowed, so "*" is valid), else the origin itself. */
function allowOriginValue(policy: CorsPolicy, origin: string): string {
  return policy.allowedOrigins.includes("*") ? "*" : origin;
}
