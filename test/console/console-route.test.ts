// The console's static route (server/console/console-route.ts) behind a real
// HTTP server, with a bundle written for the test: content types, caching,
// the security headers on every answer, the /console redirect, paths that
// name no bundle file (traversal included) answered 404 without touching the
// disk, and a clear 503 when the bundle was never built. A daemon serves the
// route only when told to (server.console).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_CSP, consoleRoutes } from "../../server/console/console-route.js";
import { plainRouteFor } from "../../server/transports/http-listener.js";
import { startTestDaemon } from "../helpers/daemon.js";

let dir: string;
const servers: http.Server[] = [];

async function serve(bundleDir: string): Promise<string> {
  const routes = consoleRoutes({ dir: bundleDir });
  const server = http.createServer((req, res) => {
    const route = plainRouteFor(routes, (req.url ?? "").split("?")[0] ?? "");
    if (route === undefined) res.writeHead(404).end("no route");
    else route(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A request with the path sent exactly as given (fetch would normalise `..`). */
function rawGet(base: string, path: string, method = "GET"): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, { method, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

function expectSecurityHeaders(headers: http.IncomingHttpHeaders): void {
  expect(headers["content-security-policy"]).toBe(CONSOLE_CSP);
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["referrer-policy"]).toBe("no-referrer");
}

let built: string;
let unbuilt: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stowd-console-route-"));
  const bundle = join(dir, "dist");
  await mkdir(join(bundle, "assets"), { recursive: true });
  await writeFile(join(bundle, "index.html"), '<!doctype html><script type="module" src="/console/app-ABCDEF12.js"></script>');
  await writeFile(join(bundle, "app-ABCDEF12.js"), "console.log('app');");
  await writeFile(join(bundle, "styles-ZYXW9876.css"), "body{}");
  await writeFile(join(bundle, "assets", "logo.svg"), "<svg/>");
  await writeFile(join(dir, "secret.txt"), "outside the bundle");
  await mkdir(join(dir, "empty"));
  built = await serve(bundle);
  unbuilt = await serve(join(dir, "empty"));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the console's static route", () => {
  it("serves index.html at /console/, revalidated on every load, with the security headers", async () => {
    const res = await rawGet(built, "/console/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.body).toContain("app-ABCDEF12.js");
    expectSecurityHeaders(res.headers);
    expect(CONSOLE_CSP).toContain("default-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toContain("unsafe-inline");
  });

  it("serves the bundle's files with their content types; content-hashed ones are cached for good", async () => {
    const js = await rawGet(built, "/console/app-ABCDEF12.js");
    expect([js.status, js.headers["content-type"], js.headers["cache-control"]]).toEqual([
      200,
      "text/javascript; charset=utf-8",
      "public, max-age=31536000, immutable",
    ]);
    expectSecurityHeaders(js.headers);
    const css = await rawGet(built, "/console/styles-ZYXW9876.css?v=1");
    expect([css.status, css.headers["content-type"]]).toEqual([200, "text/css; charset=utf-8"]);
    const svg = await rawGet(built, "/console/assets/logo.svg");
    expect([svg.status, svg.headers["content-type"], svg.body]).toEqual([200, "image/svg+xml", "<svg/>"]);
  });

  it("answers a matching If-None-Match with 304, and HEAD without a body", async () => {
    const first = await rawGet(built, "/console/app-ABCDEF12.js");
    const etag = first.headers.etag ?? "";
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await new Promise<number>((resolve, reject) => {
      http
        .get(`${built}/console/app-ABCDEF12.js`, { headers: { "if-none-match": etag } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on("error", reject);
    });
    expect(again).toBe(304);
    const head = await rawGet(built, "/console/app-ABCDEF12.js", "HEAD");
    expect([head.status, head.body, head.headers["content-length"]]).toEqual([200, "", String(first.body.length)]);
  });

  it("redirects /console to /console/, keeping a query", async () => {
    const res = await rawGet(built, "/console?x=1");
    expect([res.status, res.headers.location]).toEqual([308, "/console/?x=1"]);
    expectSecurityHeaders(res.headers);
  });

  it("answers 404 for anything that is not a bundle file, traversal attempts included", async () => {
    for (const path of [
      "/console/missing.js",
      "/console/../secret.txt",
      "/console/%2e%2e/secret.txt",
      "/console/assets/../../secret.txt",
      "/console//etc/passwd",
      "/console/assets",
    ]) {
      const res = await rawGet(built, path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.body).not.toContain("outside the bundle");
      expectSecurityHeaders(res.headers);
    }
  });

  it("refuses methods other than GET and HEAD", async () => {
    const res = await rawGet(built, "/console/", "POST");
    expect([res.status, res.headers.allow]).toEqual([405, "GET, HEAD"]);
  });

  it("answers 503 naming the build command when the bundle was never built", async () => {
    const res = await rawGet(unbuilt, "/console/");
    expect(res.status).toBe(503);
    expect(res.body).toContain("npm run build:console");
    expect(res.headers["cache-control"]).toBe("no-store");
    expectSecurityHeaders(res.headers);
  });
});

describe("the daemon", () => {
  it("serves /console/ only when its console option is on", async () => {
    for (const enabled of [true, false]) {
      const daemon = await startTestDaemon({ console: enabled });
      try {
        const res = await rawGet(daemon.httpUrl, "/console/");
        // 200 with a built bundle (npm ci builds it), 503 naming the build command without one; never 404 when on.
        if (enabled) expect([200, 503]).toContain(res.status);
        else expect(res.status).toBe(404);
      } finally {
        await daemon.close();
      }
    }
  });
});
