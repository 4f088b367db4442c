// Daemon-signed URLs for file://, mem:// and redis:// (a real redis-server),
// signed through the SDK's CreateSignedUrl and used with plain HTTP clients
// (node:http and curl): round trips, ranges, conditional GET, HEAD, PUT
// atomicity and checks, the download and upload limits; then, on mem://,
// what a URL must be to be honoured (expiry, tampering, method).
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as http from "node:http";
import { dirname, join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StowdClient } from "../../client/index.js";
import { formatCrc32c, crc32cOf } from "../../server/stores/kit/crc32c.js";
import { clientRejection } from "../helpers/rejections.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";
import { cancelledPut, curl, httpRequest } from "./plain-http.js";
import { startSignedUrlDaemon, type SignedUrlDaemon } from "./signed-url-daemon.js";

const MiB = 1 << 20;
let redis: RedisServer;
let d: SignedUrlDaemon;
let client: StowdClient;
let n = 0;

beforeAll(async () => {
  redis = await startRedisServer();
  d = await startSignedUrlDaemon({ redisAddr: redis.addr, maxDownloadMBs: 1, maxUploadMBs: 2 });
  client = d.client();
});

afterAll(async () => {
  await d?.close();
  await redis?.stop();
});

/** stowd_http_requests_total of signed PUTs that did not succeed. */
async function failedPuts(): Promise<number> {
  const text = (await httpRequest(`${d.httpUrl}/metrics`)).body.toString();
  const counts = [...text.matchAll(/^stowd_http_requests_total\{handler="signed_url",method="PUT",code="\d+",reason="(\w+)"\} (\d+)$/gm)];
  return counts.filter(([, reason]) => reason !== "OK").reduce((sum, [, , count]) => sum + Number(count), 0);
}

const sign = (reference: string, options: Parameters<StowdClient["createSignedUrl"]>[1]) => client.createSignedUrl(reference, options);
const getUrl = async (reference: string, expiresInSeconds = 60) => (await sign(reference, { method: "GET", expiresInSeconds })).url;

describe.each(["file", "mem", "redis"])("%s:// daemon-signed URLs", (scheme) => {
  const ref = (name: string) => `${scheme}://bucket/signed-${++n}/${name}`;

  it("signs GET and PUT URLs on the daemon's HTTP port that node:http and curl use; the bytes round-trip", async () => {
    const data = randomBytes(300_001);
    const reference = ref("blob with spaces+plus%25 é.bin");
    const put = await sign(reference, {
      method: "PUT",
      expiresInSeconds: 60,
      contentType: "application/x-test",
      contentLength: data.length,
    });
    expect(put.url.startsWith(`${d.httpUrl}/signed/${scheme}/bucket/`)).toBe(true);
    expect(put.requiredHeaders).toEqual({ "Content-Type": "application/x-test" });
    expect(put.expireTime!.getTime()).toBeGreaterThan(Date.now() + 55_000);
    const uploaded = await httpRequest(put.url, { method: "PUT", headers: put.requiredHeaders, body: data });
    expect(uploaded.status, uploaded.body.toString()).toBe(200);
    const info = JSON.parse(uploaded.body.toString()) as { size: string; etag: string; crc32c: number };
    const head = await client.head(reference);
    expect(head).toMatchObject({ size: data.length, contentType: "application/x-test", crc32c: crc32cOf(data) });
    expect(info).toMatchObject({ size: String(data.length), etag: head!.etag, crc32c: crc32cOf(data) });
    expect(uploaded.headers.etag).toBe(`"${head!.etag}"`);

    const get = await getUrl(reference);
    const byNode = await httpRequest(get);
    expect(byNode.status).toBe(200);
    expect(byNode.body.equals(data)).toBe(true);
    expect(byNode.headers).toMatchObject({
      "content-type": "application/x-test",
      "content-length": String(data.length),
      etag: `"${head!.etag}"`,
      "accept-ranges": "bytes",
      "x-stowd-crc32c": formatCrc32c(crc32cOf(data)),
      "content-security-policy": "sandbox",
      "x-content-type-options": "nosniff",
    });
    expect(new Date(byNode.headers["last-modified"]!).getTime()).toBe(Math.floor(head!.updateTime!.getTime() / 1000) * 1000);

    const byCurl = await curl([get]);
    expect(byCurl.status).toBe(200);
    expect(byCurl.body.equals(data)).toBe(true);
    // curl uploads a file (-T is a PUT) with the signed type.
    const curlData = randomBytes(70_000);
    const file = join(await mkdtemp(join(tmpdir(), "stowd-curl-")), "upload.bin");
    await writeFile(file, curlData);
    const curlPut = await sign(reference, { method: "PUT", expiresInSeconds: 60, contentType: "text/plain" });
    const curlUpload = await curl(["-T", file, "-H", "Content-Type: text/plain", curlPut.url]);
    expect(curlUpload.status, curlUpload.body.toString()).toBe(200);
    expect(Buffer.from(await client.readBytes(reference)).equals(curlData)).toBe(true);
    await rm(dirname(file), { recursive: true });
  });

  it("serves one Range (a-b, a-, -n) as 206 with Content-Range, an unsatisfiable one as 416, several as the whole object", async () => {
    const data = randomBytes(10_000);
    const reference = ref("ranged");
    await client.write(reference, data);
    const url = await getUrl(reference);
    const cases: Array<[string, number, number]> = [
      ["bytes=100-199", 100, 199],
      ["bytes=9990-", 9990, 9999],
      ["bytes=-25", 9975, 9999],
      ["bytes=9000-20000", 9000, 9999],
    ];
    for (const [range, start, end] of cases) {
      const res = await httpRequest(url, { headers: { range } });
      expect(res.status, range).toBe(206);
      expect(res.headers["content-range"]).toBe(`bytes ${start}-${end}/10000`);
      expect(res.headers["content-length"]).toBe(String(end - start + 1));
      // The CRC32C is the whole object's: a part does not carry it.
      expect(res.headers["x-stowd-crc32c"]).toBeUndefined();
      expect(res.body.equals(data.subarray(start, end + 1)), range).toBe(true);
    }
    const unsatisfiable = await httpRequest(url, { headers: { range: "bytes=10000-" } });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers["content-range"]).toBe("bytes */10000");
    expect(unsatisfiable.headers["x-stowd-reason"]).toBe("OUT_OF_RANGE");
    const several = await httpRequest(url, { headers: { range: "bytes=0-1,5-6" } });
    expect(several.status).toBe(200);
    expect(several.body.equals(data)).toBe(true);
    const byCurl = await curl(["-r", "10-19", url]);
    expect(byCurl.status).toBe(206);
    expect(byCurl.body.equals(data.subarray(10, 20))).toBe(true);
  });

  it("answers If-None-Match with 304, a failed If-Match with 412, and HEAD with the headers alone", async () => {
    const reference = ref("conditional.txt");
    const info = await client.write(reference, "conditional body", { contentType: "text/plain" });
    const url = await getUrl(reference);
    const etag = `"${info.etag}"`;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const res = await httpRequest(url, { headers: { "if-none-match": inm } });
      expect(res.status, inm).toBe(304);
      expect(res.body.length).toBe(0);
      expect(res.headers.etag).toBe(etag);
    }
    const changed = await httpRequest(url, { headers: { "if-none-match": '"older"' } });
    expect(changed.status).toBe(200);
    expect(changed.body.toString()).toBe("conditional body");
    const matched = await httpRequest(url, { headers: { "if-match": etag } });
    expect(matched.status).toBe(200);
    expect(matched.body.toString()).toBe("conditional body");
    const mismatch = await httpRequest(url, { headers: { "if-match": '"older"' } });
    expect(mismatch.status).toBe(412);
    expect(mismatch.headers["x-stowd-reason"]).toBe("PRECONDITION_FAILED");
    const head = await httpRequest(url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers).toMatchObject({ "content-length": "16", "content-type": "text/plain", etag });
    const missing = await httpRequest(await getUrl(ref("never-written")));
    expect(missing.status).toBe(404);
    expect(missing.headers["x-stowd-reason"]).toBe("NOT_FOUND");
    expect(missing.body.toString()).toContain("does not exist");
  });

  it("a PUT cancelled mid-body stores nothing and leaves the previous version intact", async () => {
    const reference = ref("atomic");
    const before = await client.write(reference, "the previous version");
    const failedBefore = await failedPuts();
    const put = await sign(reference, { method: "PUT", expiresInSeconds: 60 });
    await cancelledPut(put.url, {}, 200_000, randomBytes(50_000));
    const fresh = ref("atomic-new");
    const freshPut = await sign(fresh, { method: "PUT", expiresInSeconds: 60 });
    await cancelledPut(freshPut.url, {}, 200_000, randomBytes(50_000));
    // Both requests were handled to their end, as failures (their log line and count are written last).
    await expect.poll(failedPuts, { timeout: 5000 }).toBe(failedBefore + 2);
    expect((await client.head(reference))?.etag).toBe(before.etag);
    expect(Buffer.from(await client.readBytes(reference)).toString()).toBe("the previous version");
    expect(await client.head(fresh)).toBeUndefined();
  });

  it("refuses a Content-Length other than the signed one (400), another Content-Type (403), and checks PUT preconditions", async () => {
    const reference = ref("checked");
    const put = await sign(reference, { method: "PUT", expiresInSeconds: 60, contentType: "text/csv", contentLength: 5 });
    const wrongLength = await httpRequest(put.url, { method: "PUT", headers: { "content-type": "text/csv" }, body: "123456" });
    expect(wrongLength.status).toBe(400);
    expect(wrongLength.headers["x-stowd-reason"]).toBe("SIZE_MISMATCH");
    expect(wrongLength.body.toString()).toContain("exactly 5 bytes");
    const wrongType = await httpRequest(put.url, { method: "PUT", headers: { "content-type": "text/plain" }, body: "12345" });
    expect(wrongType.status).toBe(403);
    expect(wrongType.headers["x-stowd-reason"]).toBe("CONTENT_TYPE_MISMATCH");
    expect(wrongType.body.toString()).toContain('"text/csv"');
    expect(await client.head(reference)).toBeUndefined();
    const created = await httpRequest(put.url, {
      method: "PUT",
      headers: { "content-type": "text/csv", "if-none-match": "*" },
      body: "12345",
    });
    expect(created.status).toBe(200);
    const again = await httpRequest(put.url, {
      method: "PUT",
      headers: { "content-type": "text/csv", "if-none-match": "*" },
      body: "54321",
    });
    expect(again.status).toBe(412);
    const staleMatch = await httpRequest(put.url, {
      method: "PUT",
      headers: { "content-type": "text/csv", "if-match": '"stale"' },
      body: "54321",
    });
    expect(staleMatch.status).toBe(412);
    const etag = created.headers.etag!;
    const replaced = await httpRequest(put.url, {
      method: "PUT",
      headers: { "content-type": "text/csv", "if-match": etag },
      body: "54321",
    });
    expect(replaced.status).toBe(200);
    expect(Buffer.from(await client.readBytes(reference)).toString()).toBe("54321");
  });

  it("checks a signed MD5 against the body; a mismatch stores nothing", async () => {
    const reference = ref("md5");
    const md5 = createHash("md5").update("right").digest();
    const put = await sign(reference, { method: "PUT", expiresInSeconds: 60, contentMd5: md5 });
    const wrong = await httpRequest(put.url, { method: "PUT", body: "wrong" });
    expect(wrong.status).toBe(400);
    expect(wrong.headers["x-stowd-reason"]).toBe("CHECKSUM_MISMATCH");
    expect(await client.head(reference)).toBeUndefined();
    const right = await httpRequest(put.url, { method: "PUT", body: "right" });
    expect(right.status).toBe(200);
    expect((await client.head(reference))?.contentMd5).toEqual(new Uint8Array(md5));
  });

  it("applies the download limit as ReadRaw does: a larger object is 403 LIMIT_EXCEEDED, a range within the limit is served", async () => {
    const reference = ref("large");
    const data = randomBytes(MiB + 10);
    await client.write(reference, data);
    const url = await getUrl(reference);
    const refused = await httpRequest(url);
    expect(refused.status).toBe(403);
    expect(refused.headers["x-stowd-reason"]).toBe("LIMIT_EXCEEDED");
    expect(refused.body.toString()).toContain("You can increase the limit by setting maxDownloadMBs");
    // ReadRaw counts a range by the bytes it serves; so does the URL.
    const ranged = await httpRequest(url, { headers: { range: "bytes=0-999" } });
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(data.subarray(0, 1000))).toBe(true);
    const readRaw = await clientRejection(client.readBytes(reference));
    expect(readRaw.code).toBe(Code.ResourceExhausted);
  });

  it("applies the upload limit: a declared size over server.maxUploadMBs is 413 before the body is read", async () => {
    const reference = ref("too-large");
    const put = await sign(reference, { method: "PUT", expiresInSeconds: 60 });
    const refused = await httpRequest(put.url, { method: "PUT", body: Buffer.alloc(2 * MiB + 1) });
    expect(refused.status).toBe(413);
    expect(refused.headers["x-stowd-reason"]).toBe("LIMIT_EXCEEDED");
    expect(refused.body.toString()).toContain("server.maxUploadMBs");
    expect(await client.head(reference)).toBeUndefined();
    const signedTooLarge = await clientRejection(sign(reference, { method: "PUT", expiresInSeconds: 60, contentLength: 3 * MiB }));
    expect(signedTooLarge.code).toBe(Code.ResourceExhausted);
  });
});

describe("what a daemon-signed URL must be", () => {
  const reference = "mem://bucket/checks/object";

  beforeAll(async () => {
    await client.write(reference, "checked object");
  });

  it("expires: a URL signed for 1 s is refused with 403 EXPIRED after it", async () => {
    const url = await getUrl(reference, 1);
    expect((await httpRequest(url)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await httpRequest(url);
    expect(expired.status).toBe(403);
    expect(expired.headers["x-stowd-reason"]).toBe("EXPIRED");
    expect(expired.body.toString()).toContain("expired at");
  });

  it("refuses a tampered URL with 403 and a reason: reference, expiry, method, key id, signature", async () => {
    const url = new URL(await getUrl(reference));
    const tampered = (change: (u: URL) => void) => {
      const copy = new URL(url);
      change(copy);
      return copy.toString();
    };
    const cases: Array<[string, string, string]> = [
      ["reference", tampered((u) => (u.pathname = u.pathname.replace("object", "other"))), "BAD_SIGNATURE"],
      [
        "expiry",
        tampered((u) => u.searchParams.set("X-Stowd-Expires", String(Number(u.searchParams.get("X-Stowd-Expires")) + 3600))),
        "BAD_SIGNATURE",
      ],
      ["method", tampered((u) => u.searchParams.set("X-Stowd-Method", "PUT")), "BAD_SIGNATURE"],
      ["signer", tampered((u) => u.searchParams.set("X-Stowd-Signer", "someone")), "BAD_SIGNATURE"],
      ["key id", tampered((u) => u.searchParams.set("X-Stowd-Key-Id", "key-z")), "UNKNOWN_KEY_ID"],
      ["signature", tampered((u) => u.searchParams.set("X-Stowd-Signature", Buffer.alloc(32, 1).toString("base64url"))), "BAD_SIGNATURE"],
      ["short signature", tampered((u) => u.searchParams.set("X-Stowd-Signature", "abc")), "BAD_SIGNATURE"],
    ];
    for (const [what, changed, reason] of cases) {
      const res = await httpRequest(changed);
      expect(res.status, what).toBe(403);
      expect(res.headers["x-stowd-reason"], what).toBe(reason);
      expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
      expect(res.body.toString().length, what).toBeGreaterThan(20);
    }
    const put = tampered((u) => u.searchParams.delete("X-Stowd-Signature"));
    const incomplete = await httpRequest(put);
    expect(incomplete.status).toBe(400);
    expect(incomplete.headers["x-stowd-reason"]).toBe("MALFORMED_URL");
  });

  it("refuses a method the URL was not signed for with 403 WRONG_METHOD, and other methods with 405 and Allow", async () => {
    const get = await getUrl(reference);
    const putWithGetUrl = await httpRequest(get, { method: "PUT", body: "x" });
    expect(putWithGetUrl.status).toBe(403);
    expect(putWithGetUrl.headers["x-stowd-reason"]).toBe("WRONG_METHOD");
    const put = await sign(reference, { method: "PUT", expiresInSeconds: 60 });
    const getWithPutUrl = await httpRequest(put.url);
    expect(getWithPutUrl.status).toBe(403);
    expect(getWithPutUrl.headers["x-stowd-reason"]).toBe("WRONG_METHOD");
    const deleted = await httpRequest(get, { method: "DELETE" });
    expect(deleted.status).toBe(405);
    expect(deleted.headers.allow).toBe("GET, HEAD, PUT");
    expect(Buffer.from(await client.readBytes(reference)).toString()).toBe("checked object");
  });

  it("counts a download the client abandons mid-body as CANCELLED, not as a daemon failure", async () => {
    // Larger than every buffer between the two (so the daemon is still sending when the client leaves): a daemon without the download limit.
    const unlimited = await startSignedUrlDaemon();
    try {
      const large = "mem://bucket/abandoned";
      const sdk = unlimited.client();
      await sdk.write(large, randomBytes(32 * MiB));
      const count = async (code: string) => {
        const text = (await httpRequest(`${unlimited.httpUrl}/metrics`)).body.toString();
        const series = new RegExp(
          `^stowd_http_requests_total\\{handler="signed_url",method="GET",code="\\d+",reason="${code}"\\} (\\d+)$`,
          "gm",
        );
        return [...text.matchAll(series)].reduce((sum, [, count]) => sum + Number(count), 0);
      };
      const { url } = await sdk.createSignedUrl(large, { method: "GET", expiresInSeconds: 60 });
      await new Promise<void>((resolve) => {
        const req = http.get(url, { agent: false }, (res) => res.once("data", () => (req.destroy(), resolve())));
      });
      await expect.poll(() => count("CANCELLED"), { timeout: 5000 }).toBe(1);
      expect(await count("OK")).toBe(0);
      expect(await count("INTERNAL")).toBe(0);
    } finally {
      await unlimited.close();
    }
  });

  it("counts each request in stowd_http_requests_total by method, status and reason, and times it", async () => {
    const url = await getUrl(reference);
    expect((await httpRequest(url)).status).toBe(200);
    expect((await httpRequest(url.replace("X-Stowd-Signer=", "X-Stowd-Signer=x"))).status).toBe(403);
    const text = (await httpRequest(`${d.httpUrl}/metrics`)).body.toString();
    expect(text).toMatch(/^stowd_http_requests_total\{handler="signed_url",method="GET",code="200",reason="OK"\} [1-9]/m);
    expect(text).toMatch(/^stowd_http_requests_total\{handler="signed_url",method="GET",code="403",reason="BAD_SIGNATURE"\} [1-9]/m);
    expect(text).toMatch(/^stowd_http_request_duration_seconds_count\{handler="signed_url",method="GET",code="200"\} [1-9]/m);
  });
});
