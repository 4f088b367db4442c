// server.cors: which web origins may call the HTTP port from a browser
// (server/transports/cors.ts answers them). Off unless given. An origin is
// compared with the browser's Origin header as text, so each must be written
// the way browsers send it; anything else would never match and is a mistake
// worth naming here rather than a browser refusing calls without a reason.
import type { CorsConfig, ServerConfig } from "./config.js";
import { isAuthenticated } from "./security-config.js";
import { durationKind, stringKind } from "./value-kinds.js";
import type { MapReader } from "./yaml-reader.js";

/** A preflight answer may be cached this long by default; Chromium caps any longer value at 2 h. */
export const DEFAULT_CORS_MAX_AGE_MS = 2 * 60 * 60 * 1000;

/** "*" alone: any origin. */
export const ANY_ORIGIN = "*";

/** server.cors, when given: allowedOrigins (required, "*" only alone) and maxAge. */
export function readCorsSection(r: MapReader, given: boolean): CorsConfig | undefined {
  const allowedOrigins = r.list("allowedOrigins", stringKind);
  const maxAgeMs = r.scalar("maxAge", durationKind, DEFAULT_CORS_MAX_AGE_MS);
  r.finish();
  if (!given) return undefined;
  if (allowedOrigins.length === 0) {
    r.problem(
      r.has("allowedOrigins") ? "allowedOrigins" : undefined,
      'needs allowedOrigins: the origins of the web apps that call stowd (e.g. ["https://app.example"]), or "*" for any; remove server.cors to keep CORS off',
    );
    return undefined;
  }
  const problems = allowedOrigins.map(originProblem).filter((p) => p !== undefined);
  if (allowedOrigins.includes(ANY_ORIGIN) && allowedOrigins.length > 1)
    problems.push('"*" already allows every origin: give "*" alone, or list the origins without it');
  for (const problem of problems) r.problem("allowedOrigins", problem);
  return problems.length > 0 ? undefined : { allowedOrigins, maxAgeMs };
}

/** Why `origin` can never equal a browser's Origin header, or undefined when it can. */
function originProblem(origin: string): string | undefined {
  if (origin === ANY_ORIGIN) return undefined;
  const shown = JSON.stringify(origin);
  if (origin === "null")
    return `${shown} is the origin of sandboxed frames and local files, which any web page can create: list the real origins`;
  if (origin.includes("*")) return `${shown}: patterns are not supported; list each origin, or give "*" alone for any origin`;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `${shown} is not an origin: give scheme://host[:port], e.g. https://app.example`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `${shown} is not an http or https origin`;
  if (url.origin !== origin)
    return `${shown} is not an origin as browsers send it (no path or trailing slash, lower-case host, no default port): did you mean ${JSON.stringify(url.origin)}?`;
  return undefined;
}

/**
 * "*" with no authentication lets every web page a browser on this machine
 * opens read and write everything stowd serves; refused unless --insecure,
 * like a listener exposed without TLS and authentication.
 */
export function checkCorsExposure(server: ServerConfig, warn: (message: string) => void): string | undefined {
  if (server.cors?.allowedOrigins.includes(ANY_ORIGIN) !== true || isAuthenticated(server)) return undefined;
  const risk =
    '"*" lets any web page opened in a browser that can reach the HTTP port call stowd, and the daemon has no authentication (server.auth.tokenFile, STOWD_AUTH_TOKEN or server.tls.clientCaFile)';
  if (server.insecure === true) {
    warn(`insecure: server.cors.allowedOrigins ${risk}; serving anyway because of --insecure`);
    return undefined;
  }
  return `${risk}: configure authentication, list the origins of your web apps instead, or pass --insecure (STOWD_INSECURE=true, server.insecure: true) to serve it anyway`;
}
