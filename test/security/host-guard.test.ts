// DNS rebinding: a daemon whose HTTP port listens on loopback with auth off
// answers only requests addressed to localhost, an IP address or a name in
// server.allowedHosts, on HTTP/1.1 and HTTP/2, for RPCs and plain routes.
// With auth on every Host is served (a rebinding page has no token).
import * as http from "node:http";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config/load-config.js";
import { createHostGuard } from "../../server/transports/host-guard.js";
import { createStowdClient } from "../../client/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { DAEMON_COMMAND, startServingProcess } from "../helpers/serving-daemon.js";
import { tempFiles } from "../helpers/temp-files.js";
import { startSecureDaemon, type SecureDaemon } from "./secure-daemon.js";

const file = tempFiles("stowd-allowed-hosts-");
const SERVER_INFO = "/stowd.v1.RawStoreService/GetServerInfo";

/** Status and body of an HTTP/1.1 request to `url` with the Host header `host`. */
function request(url: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { hostname, port, path, method: path === SERVER_INFO ? "POST" : "GET", headers: { host, "content-type": "application/json" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(path === SERVER_INFO ? "{}" : undefined);
  });
}

/** Status of an HTTP/2 (h2c) GET /healthz with the :authority `authority`. */
function request2(url: string, authority: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request({ ":path": "/healthz", ":authority": authority });
    stream.on("response", (headers) => {
      resolve(Number(headers[":status"]));
      session.close();
    });
    stream.on("error", reject);
    stream.end();
  });
}

describe("createHostGuard", () => {
  const guard = createHostGuard(["stowd.internal"]);
  it("serves loopback names, IP addresses and the allowed names, in any case, with or without a port", () => {
    for (const host of [
      "localhost",
      "LOCALHOST:8081",
      "127.0.0.1:8081",
      "[::1]:8081",
      "10.0.0.5",
      "app.localhost:3000",
      "Stowd.Internal:8081",
    ]) {
      expect(guard(host), host).toBeUndefined();
    }
    expect(guard(undefined)).toBeUndefined();
  });

  it("refuses other names, saying why and which setting to change", () => {
    const reason = guard("evil.example:8081");
    expect(reason).toContain('Host "evil.example:8081" is not a name of this daemon');
    expect(reason).toContain("DNS rebinding");
    expect(reason).toContain('add "evil.example" to server.allowedHosts');
    expect(guard("localhost.evil.example")).toBeDefined();
    expect(guard("stowd.internal.evil.example")).toBeDefined();
  });
});

describe("server.allowedHosts in the config", () => {
  const load = async (server: string) =>
    loadConfig(["--config", await file(`storage:\n  type: mem\nserver:\n${server}`)], {}, { warn: () => {} });

  it("reads host names", async () => {
    expect((await load("  allowedHosts: [stowd.internal, proxy.example.com]\n")).server.allowedHosts).toEqual([
      "stowd.internal",
      "proxy.example.com",
    ]);
    expect((await load("  logLevel: info\n")).server.allowedHosts).toBeUndefined();
  });

  it("refuses a URL or a name with a port, naming what it takes", async () => {
    const err = await load("  allowedHosts: ['https://stowd.internal', 'stowd.internal:8081']\n").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain("server.allowedHosts");
    expect((err as Error).message).toContain("a host name without scheme or port");
  });
});

describe("a loopback daemon with auth off", () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({ allowedHosts: ["stowd.internal"] });
  });
  afterAll(() => daemon?.close());

  it("answers requests addressed to localhost, its IP address and the allowed names", async () => {
    const port = new URL(daemon.httpUrl).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `stowd.internal:${port}`]) {
      expect((await request(daemon.httpUrl, "/healthz", host)).status, host).toBe(200);
      const rpc = await request(daemon.httpUrl, SERVER_INFO, host);
      expect(rpc.status, host).toBe(200);
      expect(rpc.body).toContain('"version"');
    }
    expect(await request2(daemon.httpUrl, `localhost:${port}`)).toBe(200);
  });

  it("refuses requests addressed to any other name with 403 and the reason, on HTTP/1.1 and HTTP/2", async () => {
    const port = new URL(daemon.httpUrl).port;
    for (const path of ["/healthz", "/metrics", SERVER_INFO]) {
      const refused = await request(daemon.httpUrl, path, `rebound.evil.example:${port}`);
      expect(refused.status, path).toBe(403);
      expect(refused.body).toContain("DNS rebinding");
      expect(refused.body).not.toContain('"version"');
    }
    expect(await request2(daemon.httpUrl, `rebound.evil.example:${port}`)).toBe(403);
  });
});

describe("a loopback daemon with auth on", () => {
  let daemon: SecureDaemon;
  beforeAll(async () => {
    daemon = await startSecureDaemon({ auth: { token: "host-guard-token-0123456789" } });
  });
  afterAll(() => daemon?.close());

  it("serves any Host: a page that rebinds a name has no token", async () => {
    const port = new URL(daemon.httpUrl).port;
    expect((await request(daemon.httpUrl, "/healthz", `rebound.evil.example:${port}`)).status).toBe(200);
    const rpc = await request(daemon.httpUrl, SERVER_INFO, `rebound.evil.example:${port}`);
    expect(rpc.status).toBe(401);
  });
});

describe("a loopback daemon with auth off and server.signedUrls.baseUrl", () => {
  it("answers to the host its signed URLs name", async () => {
    const config = await file(
      [
        "storage:\n  type: mem\n  enable-multicontainer: true",
        "server:\n  grpcAddress: 127.0.0.1:0\n  httpAddress: 127.0.0.1:0",
        "  signedUrls:\n    baseUrl: http://stowd.test\n    keys: [{id: k1, secret: host-guard-secret-of-at-least-32-bytes}]",
      ].join("\n"),
    );
    const daemon = await startServingProcess([...DAEMON_COMMAND, "--config", config]);
    try {
      const httpUrl = `http://${daemon.http}`;
      const client = createStowdClient({ baseUrl: `http://${daemon.grpc}` });
      await client.write("mem://b/signed.txt", "signed");
      const { url } = await client.createSignedUrl("mem://b/signed.txt", { method: "GET", expiresInSeconds: 60 });
      const { pathname, search } = new URL(url);
      expect(url.startsWith("http://stowd.test/signed/")).toBe(true);
      // As a proxy in front of it would send it: to the daemon's port, Host as in the URL.
      expect(await request(httpUrl, pathname + search, "stowd.test")).toEqual({ status: 200, body: "signed" });
      expect((await request(httpUrl, pathname + search, "rebound.evil.example")).status).toBe(403);
      client.close();
    } finally {
      await daemon.child.kill();
    }
  });
});
