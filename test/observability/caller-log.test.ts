// The access log names the caller: each call's line carries `caller` and
// `via` — the token's name (auth on), the clients: entry a certificate matched
// (auth on), or, with auth off, a verified client certificate's CN; a signed
// URL request's line names the URL's signer. An anonymous call names no one.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient } from "../../client/index.js";
import { createStowdTransport } from "../../client/transport.js";
import { redirectLog, setLogLevel } from "../../server/observability/log.js";
import { startTestDaemon } from "../helpers/daemon.js";
import { makeTestCerts, type TestCerts } from "../security/certs.js";
import { startSecureDaemon, writeTokenFile, type TokenSpec } from "../security/secure-daemon.js";
import { httpRequest } from "../signed-urls/plain-http.js";
import { startSignedUrlDaemon } from "../signed-urls/signed-url-daemon.js";

let lines: Array<Record<string, unknown>> = [];
let restore: () => void;
beforeAll(() => {
  restore = redirectLog({ write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
});
afterAll(() => restore?.());
afterEach(() => {
  lines = [];
});

const logged = (msg: string) => lines.filter((l) => l.msg === msg);

describe("with auth on", () => {
  const writer: TokenSpec = {
    name: "log-writer",
    token: "log-writer-token-0123456789",
    grants: [{ operations: ["read", "write", "sign"], prefixes: ["mem://b/"] }],
  };
  const reader: TokenSpec = {
    name: "log-reader",
    token: "log-reader-token-0123456789",
    grants: [{ operations: ["read"], prefixes: ["mem://b/"] }],
  };

  it("names the token's principal on calls over both ports, denied ones included, and the signer of a signed URL", async () => {
    const d = await startSignedUrlDaemon({ auth: { tokenFile: writeTokenFile([writer, reader]) } });
    setLogLevel("info");
    const overConnect = createStowdTransport({ baseUrl: d.httpUrl, protocol: "connect", token: reader.token });
    try {
      await d.client(writer.token).write("mem://b/logged", "x");
      await createStowdClient({ transport: overConnect }).head("mem://b/logged");
      await d
        .client(reader.token)
        .write("mem://b/denied", "x")
        .catch(() => undefined);
      const { url } = await d.client(writer.token).createSignedUrl("mem://b/logged", { method: "GET", expiresInSeconds: 60 });
      expect((await httpRequest(url)).status).toBe(200);

      const [write, head, denied, sign] = logged("call");
      expect(write).toMatchObject({ op: "RawStoreService/WriteRaw", caller: "log-writer", via: "token", code: "OK" });
      expect(head).toMatchObject({ op: "RawStoreService/Head", caller: "log-reader", via: "token", code: "OK" });
      expect(denied).toMatchObject({ op: "RawStoreService/WriteRaw", caller: "log-reader", via: "token", code: "PERMISSION_DENIED" });
      expect(sign).toMatchObject({ op: "RawStoreService/CreateSignedUrl", caller: "log-writer", via: "token" });
      expect(logged("signed url")).toEqual([
        expect.objectContaining({ method: "GET", status: 200, caller: "log-writer", via: "signed URL" }),
      ]);
    } finally {
      overConnect.close();
      await d.close();
    }
  });
});

describe("with auth off", () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = makeTestCerts();
  });

  it("names a verified client certificate by its CN, on both ports", async () => {
    const d = await startSecureDaemon({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.clientCa } });
    setLogLevel("info");
    const tls = { ca: certs.read(certs.serverCa), cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) };
    const transports = [
      createStowdTransport({ baseUrl: d.grpcUrl, protocol: "grpc", tls }),
      createStowdTransport({ baseUrl: d.httpUrl, protocol: "connect", tls }),
    ];
    try {
      for (const transport of transports) await createStowdClient({ transport }).head("mem://b/by-certificate");
      expect(logged("call")).toEqual([
        expect.objectContaining({ op: "RawStoreService/Head", caller: "worker-a", via: "client certificate" }),
        expect.objectContaining({ op: "RawStoreService/Head", caller: "worker-a", via: "client certificate" }),
      ]);
    } finally {
      for (const transport of transports) transport.close();
      await d.close();
    }
  });

  it("names no one for an anonymous call", async () => {
    const d = await startTestDaemon();
    setLogLevel("info");
    const transport = createStowdTransport({ baseUrl: d.grpcUrl, protocol: "grpc" });
    try {
      await createStowdClient({ transport }).head("mem://b/anonymous");
      const [line] = logged("call");
      expect(line).toMatchObject({ op: "RawStoreService/Head", code: "OK" });
      expect(line).not.toHaveProperty("caller");
      expect(line).not.toHaveProperty("via");
    } finally {
      transport.close();
      await d.close();
    }
  });
});
