// Daemon-signed URLs on an HTTP port with server.tls: the URLs say https with
// the port the daemon bound, and curl uses them over TLS and HTTP/2 (ALPN h2),
// so the route serves both Node response kinds, a PUT's atomic commit
// included.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCerts, type TestCerts } from "../security/certs.js";
import { curl } from "./plain-http.js";
import { startSignedUrlDaemon, type SignedUrlDaemon } from "./signed-url-daemon.js";

let certs: TestCerts;
let d: SignedUrlDaemon;

beforeAll(async () => {
  certs = makeTestCerts();
  d = await startSignedUrlDaemon({
    tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caPem: certs.read(certs.serverCa) },
  });
});

afterAll(async () => {
  await d?.close();
});

describe("signed URLs over TLS", () => {
  it("are https URLs that curl uploads to and downloads from over HTTP/2", async () => {
    const client = d.client();
    const reference = "file://bucket/tls/object.bin";
    const data = randomBytes(1_000_003);
    const file = join(certs.dir, "upload.bin");
    await writeFile(file, data);
    const put = await client.createSignedUrl(reference, { method: "PUT", expiresInSeconds: 60, contentLength: data.length });
    expect(put.url.startsWith(`https://127.0.0.1:${d.daemon.httpPort}/signed/file/bucket/tls/object.bin?`)).toBe(true);
    const tls = ["--cacert", certs.serverCa, "--http2"];
    const uploaded = await curl([...tls, "-T", file, put.url]);
    expect(uploaded.status, uploaded.body.toString()).toBe(200);
    expect(Buffer.from(await client.readBytes(reference)).equals(data)).toBe(true);
    const { url } = await client.createSignedUrl(reference, { method: "GET", expiresInSeconds: 60 });
    const whole = await curl([...tls, url]);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(data)).toBe(true);
    const ranged = await curl([...tls, "-r", "-100", url]);
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(data.subarray(data.length - 100))).toBe(true);
    // HEAD, whose answer curl -I prints: it came over HTTP/2.
    const head = await curl([...tls, "-I", url]);
    expect(head.body.toString()).toMatch(/^HTTP\/2 200/);
    expect(head.body.toString()).toContain(`content-length: ${data.length}`);
  });
});
