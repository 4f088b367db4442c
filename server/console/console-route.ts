// The web console's static files on the HTTP port: the bundle that
// `npm run build:console` writes to console/dist/ (from a built daemon,
// dist/console/dist/, which `npm run build` fills), served at /console/.
// The files are read once at start and served from memory, so only files
// that were in the bundle can ever be served: no path from a request reaches
// the file system. Every answer carries strict security headers: the page
// loads only its own scripts and styles, talks only to this origin, and can
// not be framed.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { PlainRoute } from "../transports/http-listener.js";

/** Where the bundle is, relative to this module: console/dist/ from source, dist/console/dist/ from a build. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL("../../console/dist/", import.meta.url));

/** The path the console is served under; "/console" redirects here. */
export const CONSOLE_PATH = "/console/";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * script-src needs 'wasm-unsafe-eval': the SDK computes CRC32C in
 * WebAssembly. img-src blob: for image previews; connect-src 'self' for the
 * RPCs, /metrics and daemon-signed URLs (all on this port).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** Bundle files named with a content hash (name-HASH.js, written by scripts/build-console.mjs) never change. */
const HASHED_NAME = /-[A-Z0-9]{8,}\.[a-z]+$/i;

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

export interface ConsoleRouteOptions {
  /** The bundle's directory; default DEFAULT_CONSOLE_DIR. */
  dir?: string;
}

/** The plain routes "/console" (a redirect) and "/console/" (everything under it). */
export function consoleRoutes(options: ConsoleRouteOptions = {}): Record<string, PlainRoute> {
  const dir = options.dir ?? DEFAULT_CONSOLE_DIR;
  const { files, problem } = loadBundle(dir);
  return {
    "/console": (req, res) => {
      const query = (req.url ?? "").split("?")[1];
      res.writeHead(308, { ...SECURITY_HEADERS, location: query === undefined ? CONSOLE_PATH : `${CONSOLE_PATH}?${query}` });
      res.end();
    },
    [CONSOLE_PATH]: (req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { ...SECURITY_HEADERS, allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
        res.end(`${req.method} is not allowed: the console's files are read with GET\n`);
        return;
      }
      if (files === undefined) {
        res.writeHead(503, { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
        res.end(
          `The web console is enabled but ${problem}.\n` +
            "Run `npm run build:console` (from a source checkout; `npm run build` includes it), then restart the daemon.\n",
        );
        return;
      }
      const path = (req.url ?? "").split("?")[0] ?? "";
      const name = path === CONSOLE_PATH ? "index.html" : path.slice(CONSOLE_PATH.length);
      const file = files.get(name);
      if (file === undefined) {
        res.writeHead(404, { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" });
        res.end(`not found: the console has no file ${JSON.stringify(name)}; open ${CONSOLE_PATH}\n`);
        return;
      }
      const headers = { ...SECURITY_HEADERS, "content-type": file.type, etag: file.etag, "cache-control": file.cacheControl };
      if (req.headers["if-none-match"] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      res.writeHead(200, { ...headers, "content-length": String(file.body.length) });
      if (req.method === "HEAD") res.end();
      else res.end(file.body);
    },
  };
}

/**
 * Every file of the bundle by its path under `dir` ("/"-separated), or why
 * there is none. A bundle being rebuilt while the daemon starts is a missing
 * bundle (the 503 page), never a failed start.
 */
function loadBundle(dir: string): { files: Map<string, StaticFile>; problem?: never } | { files?: never; problem: string } {
  if (!existsSync(join(dir, "index.html"))) return { problem: `not built: ${dir} has no index.html` };
  try {
    return { files: readBundle(dir) };
  } catch (err) {
    return { problem: `its bundle in ${dir} could not be read (${err instanceof Error ? err.message : String(err)})` };
  }
}

function readBundle(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const path of walk(dir)) {
    const body = readFileSync(path);
    const name = relative(dir, path).split(sep).join("/");
    files.set(name, {
      body,
      type: CONTENT_TYPES[extname(name).toLowerCase()] ?? "application/octet-stream",
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
      // index.html names the hashed files: it must be revalidated so a new build is picked up.
      cacheControl: HASHED_NAME.test(name) ? "public, max-age=31536000, immutable" : "no-cache",
    });
  }
  return files;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
