// CORS on the HTTP port, as a browser meets it, checked with plain fetch and
// Origin headers against daemon processes started from config files
// (server.cors through main.ts to the listener): preflights, actual calls
// from listed, unlisted and any origin, no CORS at all by default, and
// none on the plain routes. test/browser/ drives a real browser.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cors as connectCors } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAEMON_COMMAND, startServingProcess, type ServingProcess } from "../helpers/serving-daemon.js";

const APP = "https://app.example";
const TOKEN = "0123456789abcdef0123";
const HEAD = "/stowd.v1.RawStoreService/Head";

let dir: string;
/** By name: listed, off, wildcard. */
const daemons = new Map<string, ServingProcess>();
/** server.cors lists APP; auth on. */
let listed: string;
/** No server.cors. */
let off: string;
/** server.cors "*"; auth on, as "*" requires. */
let wildcard: string;

async function startDaemon(name: string, server: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const config = join(dir, `${name}.yaml`);
  await writeFile(config, `storage:\n  type: mem\n  enable-multicontainer: true\nserver:\n${server}`);
  const daemon = await startServingProcess(
    [...DAEMON_COMMAND, "--config", config, "--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"],
    { env, startTimeoutMs: 30_000 },
  );
  daemons.set(name, daemon);
  return `http://${daemon.http}`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stowd-cors-"));
  [listed, off, wildcard] = await Promise.all([
    startDaemon("listed", `  cors:\n    allowedOrigins: [${APP}]\n    maxAge: 10m\n`, { STOWD_AUTH_TOKEN: TOKEN }),
    startDaemon("off", ""),
    startDaemon("wildcard", `  cors:\n    allowedOrigins: ["*"]\n`, { STOWD_AUTH_TOKEN: TOKEN }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([...daemons.values()].map((d) => d.child.stop(15_000)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What a browser sends before a Connect call from `origin`. */
function preflight(base: string, origin: string, path = HEAD): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,connect-protocol-version,content-type",
    },
  });
}

/** A Connect JSON Head call from `origin`, with the bearer token unless `token` is null. */
function head(base: string, origin: string | undefined, token: string | null = TOKEN): Promise<Response> {
  return fetch(`${base}${HEAD}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "connect-protocol-version": "1",
      ...(origin === undefined ? {} : { origin }),
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ reference: "mem://b/missing" }),
  });
}

/** The response's access-control-* headers. */
function corsHeadersOf(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => name.startsWith("access-control-")));
}

const listOf = (value: string | null) => (value ?? "").split(",").map((s) => s.trim().toLowerCase());

describe("the serving log line", () => {
  it("names the allowed origins, or says CORS is off", () => {
    const corsOf = (name: string) =>
      (JSON.parse(daemons.get(name)?.log.find((line) => line.includes('"stowd serving"')) ?? "{}") as { cors?: string }).cors;
    expect(["listed", "off", "wildcard"].map(corsOf)).toEqual([APP, "off", "*"]);
  });
});

describe("a listed origin", () => {
  it("gets a preflight answer allowing what connect-web and gRPC-Web send, and the bearer token", async () => {
    const res = await preflight(listed, APP);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(listOf(res.headers.get("access-control-allow-methods"))).toEqual(expect.arrayContaining(["post", "get"]));
    const allowedHeaders = listOf(res.headers.get("access-control-allow-headers"));
    expect(allowedHeaders).toEqual(expect.arrayContaining([...connectCors.allowedHeaders.map((h) => h.toLowerCase()), "authorization"]));
    expect(allowedHeaders).toEqual(expect.arrayContaining(["content-type", "connect-protocol-version", "x-grpc-web", "x-user-agent"]));
    expect(res.headers.get("access-control-max-age")).toBe("600");
    // Tokens are headers the page sets; nothing ambient such as cookies is ever allowed.
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("vary")).toBe("Origin");
  });

  it("can read the answer of a call, with gRPC-Web's status and error-detail headers exposed", async () => {
    const res = await head(listed, APP);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(listOf(res.headers.get("access-control-expose-headers"))).toEqual(
      expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"]),
    );
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("can read a refusal too: a call without the token is UNAUTHENTICATED, with the CORS headers", async () => {
    const res = await head(listed, APP, null);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
  });
});

describe("an origin not listed", () => {
  it("gets a refused preflight with no CORS headers, so the browser never sends the call", async () => {
    const res = await preflight(listed, "https://evil.example");
    expect(res.status).toBe(403);
    expect(corsHeadersOf(res)).toEqual({});
    expect(await res.text()).toBe(
      "origin https://evil.example may not call stowd from a browser: it is not in server.cors.allowedOrigins\n",
    );
  });

  it("gets no CORS headers on a call, so its page cannot read the answer", async () => {
    // Origins differ by scheme and port too.
    for (const origin of ["https://evil.example", "http://app.example", "https://app.example:8443"]) {
      const res = await head(listed, origin);
      expect(res.status).toBe(200); // served (callers outside browsers are not CORS's business) ...
      expect(corsHeadersOf(res)).toEqual({}); // ... but the browser hides it from the page
      await res.arrayBuffer();
    }
  });
});

describe('"*"', () => {
  it("allows any origin, with the literal * (no credentials, so * is valid)", async () => {
    const pre = await preflight(wildcard, "https://anywhere.example");
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(pre.headers.get("access-control-max-age")).toBe("7200");
    const res = await head(wildcard, "http://localhost:5173");
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(listOf(res.headers.get("access-control-expose-headers"))).toContain("grpc-status");
    // "*" opens the port to pages, not the data: auth still applies.
    expect((await head(wildcard, "https://anywhere.example", null)).status).toBe(401);
  });
});

describe("CORS off (the default)", () => {
  it("answers no preflight and adds no CORS headers to calls", async () => {
    const pre = await preflight(off, APP);
    expect(pre.status).not.toBe(204);
    expect(pre.status).toBeGreaterThanOrEqual(400);
    expect(corsHeadersOf(pre)).toEqual({});
    await pre.arrayBuffer();
    const res = await head(off, APP, null);
    expect(res.status).toBe(200);
    expect(corsHeadersOf(res)).toEqual({});
    expect(res.headers.get("vary")).toBeNull();
  });
});

describe("plain routes", () => {
  it("carry no CORS headers even when CORS is on", async () => {
    for (const path of ["/healthz", "/metrics"]) {
      const res = await fetch(`${listed}${path}`, { headers: { origin: APP } });
      expect(res.status).toBe(200);
      expect(corsHeadersOf(res)).toEqual({});
      await res.arrayBuffer();
    }
    const pre = await preflight(listed, APP, "/healthz");
    expect(corsHeadersOf(pre)).toEqual({});
    await pre.arrayBuffer();
  });
});
