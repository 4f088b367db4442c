// The GCS test server's own behaviour, where the store and the SDK rely on
// it: preconditions and their 412s, the resumable protocol (308, Range,
// chunk granularity, commit-time checks, cancel, expiry), truncated
// multipart bodies, ranges, list paging, compose, rewrite and error bodies.
// Plain fetch, so the SDK cannot paper over a server mistake.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c, crc32cBase64 } from "../servers/gcs/crc32c.js";
import { startGcsTestServer, type GcsTestServer } from "../servers/gcs-test-server.js";

const BUCKET = "b";
const CHUNK = 256 * 1024;

interface ErrorBody {
  error: { code: number; message: string; errors: Array<{ reason: string; domain: string; message: string }> };
}

describe("GCS test server", () => {
  let server: GcsTestServer;
  let n = 0;
  const name = (base: string) => `t${++n}/${base}`;
  const api = (path: string) => `${server.endpoint}/storage/v1/b/${BUCKET}${path}`;
  const upload = (query: string) => `${server.endpoint}/upload/storage/v1/b/${BUCKET}/o?${query}`;
  const object = (key: string) => api(`/o/${encodeURIComponent(key)}`);

  async function media(key: string, body: string | Buffer, query = ""): Promise<Response> {
    return fetch(upload(`uploadType=media&name=${encodeURIComponent(key)}${query}`), {
      method: "POST",
      body,
      headers: { "Content-Type": "text/plain" },
    });
  }

  async function startSession(key: string, query = "", resource: Record<string, unknown> = {}): Promise<string> {
    const res = await fetch(upload(`uploadType=resumable&name=${encodeURIComponent(key)}${query}`), {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Upload-Content-Type": "application/x-test" },
      body: JSON.stringify(resource),
    });
    expect(res.status).toBe(200);
    const location = res.headers.get("location");
    expect(location).toMatch(/upload_id=/);
    return location!;
  }

  beforeAll(async () => {
    server = await startGcsTestServer({ buckets: [BUCKET] });
  });

  afterAll(async () => {
    await server.close();
  });

  it("computes CRC32C (Castagnoli) as GCS does", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32cBase64(Buffer.alloc(0))).toBe("AAAAAA==");
  });

  it("answers GCS's JSON error bodies, telling a missing bucket from a missing object only by message", async () => {
    const missingObject = await fetch(object("nope"));
    expect(missingObject.status).toBe(404);
    const body = (await missingObject.json()) as ErrorBody;
    expect(body.error).toMatchObject({ code: 404, message: `No such object: ${BUCKET}/nope` });
    expect(body.error.errors[0]).toMatchObject({ reason: "notFound", domain: "global" });
    const missingBucket = (await (await fetch(`${server.endpoint}/storage/v1/b/other/o/x`)).json()) as ErrorBody;
    expect(missingBucket.error).toMatchObject({ code: 404, message: "The specified bucket does not exist." });
    expect((await fetch(`${server.endpoint}/storage/v1/b/${BUCKET}/o/x/acl`)).status).toBe(501);
  });

  it("applies ifGenerationMatch / ifGenerationNotMatch / ifMetagenerationMatch with 412 conditionNotMet", async () => {
    const key = name("pre");
    expect((await media(key, "one", "&ifGenerationMatch=0")).status).toBe(200);
    const again = await media(key, "two", "&ifGenerationMatch=0");
    expect(again.status).toBe(412);
    expect(((await again.json()) as ErrorBody).error.errors[0]?.reason).toBe("conditionNotMet");
    const current = (await (await fetch(object(key))).json()) as {
      generation: string;
      metageneration: string;
      size: string;
      md5Hash: string;
    };
    expect(current.size).toBe("3");
    expect(current.md5Hash).toBe(createHash("md5").update("one").digest("base64"));
    expect(
      (await media(key, "three", `&ifGenerationMatch=${current.generation}&ifMetagenerationMatch=${current.metageneration}`)).status,
    ).toBe(200);
    expect((await media(key, "four", `&ifGenerationMatch=${current.generation}`)).status).toBe(412);
    // ifGenerationNotMatch=0: "there is a live object".
    expect((await media(name("absent"), "x", "&ifGenerationNotMatch=0")).status).toBe(412);
    expect((await media(key, "five", "&ifGenerationNotMatch=0")).status).toBe(200);
    expect((await fetch(`${object(key)}?ifGenerationMatch=1`, { method: "DELETE" })).status).toBe(412);
    expect((await fetch(object(key), { method: "DELETE" })).status).toBe(204);
    expect((await fetch(object(key), { method: "DELETE" })).status).toBe(404);
  });

  it("stores nothing from a truncated multipart body", async () => {
    const key = name("multipart");
    const boundary = "xyz";
    const whole = `--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ name: key })}\r\n--${boundary}\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${boundary}--`;
    const send = (body: string) =>
      fetch(upload("uploadType=multipart"), {
        method: "POST",
        body,
        headers: { "Content-Type": `multipart/related; boundary=${boundary}` },
      });
    expect((await send(whole.slice(0, -2 - boundary.length - 4))).status).toBe(400);
    expect((await fetch(object(key))).status).toBe(404);
    expect((await send(whole)).status).toBe(200);
    expect(await (await fetch(`${object(key)}?alt=media`)).text()).toBe("hello");
  });

  it("runs the resumable protocol: 308 with Range, 256 KiB granularity, status queries, commit on the last chunk", async () => {
    const key = name("resumable");
    const session = await startSession(key);
    const data = Buffer.alloc(CHUNK + 5, 7);
    const put = (range: string, body: Buffer = Buffer.alloc(0)) =>
      fetch(session, { method: "PUT", body, headers: { "Content-Range": range } });
    expect((await put("bytes 0-99/*", data.subarray(0, 100))).status).toBe(400); // not a multiple of 256 KiB
    const first = await put(`bytes 0-${CHUNK - 1}/*`, data.subarray(0, CHUNK));
    expect(first.status).toBe(308);
    expect(first.headers.get("range")).toBe(`bytes=0-${CHUNK - 1}`);
    const status = await put("bytes */*");
    expect(status.status).toBe(308);
    expect(status.headers.get("range")).toBe(`bytes=0-${CHUNK - 1}`);
    expect((await fetch(object(key))).status).toBe(404); // invisible until the last chunk
    const last = await put(`bytes ${CHUNK}-${CHUNK + 4}/${CHUNK + 5}`, data.subarray(CHUNK));
    expect(last.status).toBe(200);
    const resource = (await last.json()) as { size: string; contentType: string; crc32c: string };
    expect(resource).toMatchObject({ size: String(CHUNK + 5), contentType: "application/x-test", crc32c: crc32cBase64(data) });
    expect((await put("bytes */*")).status).toBe(200);
    expect(server.openSessions()).toBe(0);
  });

  it("checks a session's preconditions and hashes again at commit, and fails the session", async () => {
    const key = name("late");
    const session = await startSession(key, "&ifGenerationMatch=0");
    expect((await media(key, "created meanwhile")).status).toBe(200);
    const last = await fetch(session, { method: "PUT", body: "mine", headers: { "Content-Range": "bytes 0-3/4" } });
    expect(last.status).toBe(412);
    expect(await (await fetch(`${object(key)}?alt=media`)).text()).toBe("created meanwhile");
    expect((await fetch(session, { method: "PUT", headers: { "Content-Range": "bytes */*" } })).status).toBe(404);

    const hashed = await startSession(name("hashed"), "", { md5Hash: createHash("md5").update("expected").digest("base64") });
    expect((await fetch(hashed, { method: "PUT", body: "different", headers: { "Content-Range": "bytes 0-8/9" } })).status).toBe(400);
    const headerHashed = await startSession(name("header-hashed"));
    const wrong = await fetch(headerHashed, {
      method: "PUT",
      body: "abc",
      headers: { "Content-Range": "bytes 0-2/3", "X-Goog-Hash": `crc32c=${crc32cBase64(Buffer.from("abd"))}` },
    });
    expect(wrong.status).toBe(400);
  });

  it("cancels a session with DELETE (499) and expires sessions after their TTL", async () => {
    const cancelled = await startSession(name("cancel"));
    expect((await fetch(cancelled, { method: "DELETE" })).status).toBe(499);
    expect((await fetch(cancelled, { method: "PUT", headers: { "Content-Range": "bytes */*" } })).status).toBe(404);
    const shortLived = await startGcsTestServer({ buckets: [BUCKET], sessionTtlMs: 500 });
    try {
      const res = await fetch(`${shortLived.endpoint}/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=expire`, {
        method: "POST",
      });
      const expiring = res.headers.get("location")!;
      expect(shortLived.openSessions()).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(shortLived.openSessions()).toBe(0);
      expect((await fetch(expiring, { method: "PUT", body: "x", headers: { "Content-Range": "bytes 0-0/1" } })).status).toBe(404);
    } finally {
      await shortLived.close();
    }
  });

  it("serves media with Range (206), suffixes, 416 past the end, and the hashes the SDK validates", async () => {
    const key = name("range");
    await media(key, "0123456789");
    const get = (range?: string) => fetch(`${object(key)}?alt=media`, range === undefined ? {} : { headers: { Range: range } });
    const whole = await get();
    expect(whole.headers.get("x-goog-hash")).toBe(
      `crc32c=${crc32cBase64(Buffer.from("0123456789"))},md5=${createHash("md5").update("0123456789").digest("base64")}`,
    );
    expect(whole.headers.get("x-goog-stored-content-encoding")).toBe("identity");
    const part = await get("bytes=2-4");
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 2-4/10");
    expect(await part.text()).toBe("234");
    expect(await (await get("bytes=-3")).text()).toBe("789");
    expect(await (await get("bytes=8-100")).text()).toBe("89");
    expect((await get("bytes=10-")).status).toBe(416);
    const generation = ((await (await fetch(object(key))).json()) as { generation: string }).generation;
    expect((await fetch(`${object(key)}?alt=media&generation=${generation}`)).status).toBe(200);
    expect((await fetch(`${object(key)}?alt=media&generation=1`)).status).toBe(404);
  });

  it("lists in UTF-8 order, counting items and prefixes together, with page tokens that skip a served prefix", async () => {
    const base = name("list");
    for (const key of ["a", "d/1", "d/2", "e", "\u{1F600}", "\uFF21"]) await media(`${base}/${key}`, key);
    const page = async (token?: string) =>
      (await (
        await fetch(api(`/o?prefix=${encodeURIComponent(base + "/")}&delimiter=/&maxResults=2${token ? `&pageToken=${token}` : ""}`))
      ).json()) as {
        items?: Array<{ name: string }>;
        prefixes?: string[];
        nextPageToken?: string;
      };
    const first = await page();
    expect(first.items?.map((i) => i.name)).toEqual([`${base}/a`]);
    expect(first.prefixes).toEqual([`${base}/d/`]);
    const second = await page(first.nextPageToken);
    expect(second.items?.map((i) => i.name)).toEqual([`${base}/e`, `${base}/\uFF21`]);
    const third = await page(second.nextPageToken);
    expect(third.items?.map((i) => i.name)).toEqual([`${base}/\u{1F600}`]);
    expect(third.nextPageToken).toBeUndefined();
    const offset = (await (
      await fetch(api(`/o?prefix=${encodeURIComponent(base + "/")}&startOffset=${encodeURIComponent(base + "/d0")}`))
    ).json()) as { items: Array<{ name: string }> };
    expect(offset.items.map((i) => i.name)).toEqual([`${base}/e`, `${base}/\uFF21`, `${base}/\u{1F600}`]);
    expect((await fetch(api("/o?versions=true"))).status).toBe(501);
  });

  it("composes: sources by generation, composite objects without md5Hash, at most 32 sources", async () => {
    const a = name("a");
    const b = name("b");
    const genA = ((await (await media(a, "left ")).json()) as { generation: string }).generation;
    await media(b, "right");
    const compose = (body: unknown, query = "") =>
      fetch(`${object(a)}/compose${query}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "Content-Type": "application/json" },
      });
    const ok = await compose(
      { sourceObjects: [{ name: a, generation: genA }, { name: b }], destination: { contentType: "text/x-log", metadata: { k: "v" } } },
      `?ifGenerationMatch=${genA}`,
    );
    expect(ok.status).toBe(200);
    const composite = (await ok.json()) as Record<string, unknown>;
    expect(composite).toMatchObject({ size: "10", componentCount: 2, contentType: "text/x-log", metadata: { k: "v" } });
    expect(composite.md5Hash).toBeUndefined();
    expect(await (await fetch(`${object(a)}?alt=media`)).text()).toBe("left right");
    expect((await compose({ sourceObjects: [{ name: a, generation: genA }] })).status).toBe(404); // that generation is gone
    expect((await compose({ sourceObjects: [{ name: b }] }, `?ifGenerationMatch=${genA}`)).status).toBe(412);
    expect((await compose({ sourceObjects: Array.from({ length: 33 }, () => ({ name: b })) })).status).toBe(400);
  });

  it("rewrites: an empty resource copies content type and metadata; sourceGeneration pins the source", async () => {
    const src = name("src");
    await fetch(upload(`uploadType=multipart`), {
      method: "POST",
      headers: { "Content-Type": "multipart/related; boundary=q" },
      body: `--q\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ name: src, contentType: "image/png", metadata: { m: "1" } })}\r\n--q\r\nContent-Type: image/png\r\n\r\nPNG\r\n--q--`,
    });
    const rewrite = (dest: string, query = "", body: unknown = {}) =>
      fetch(`${object(src)}/rewriteTo/b/${BUCKET}/o/${encodeURIComponent(dest)}${query}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "Content-Type": "application/json" },
      });
    const copied = (await (await rewrite(name("dst"))).json()) as { done: boolean; resource: Record<string, unknown> };
    expect(copied.done).toBe(true);
    expect(copied.resource).toMatchObject({ contentType: "image/png", metadata: { m: "1" }, size: "3" });
    const replaced = (await (await rewrite(name("dst2"), "", { contentType: "text/plain" })).json()) as {
      resource: Record<string, unknown>;
    };
    expect(replaced.resource.contentType).toBe("text/plain");
    expect(replaced.resource.metadata).toBeUndefined();
    expect((await rewrite(name("dst3"), "?sourceGeneration=1")).status).toBe(404);
    expect((await rewrite(name("dst4"), "?ifSourceGenerationMatch=1")).status).toBe(412);
  });

  it("enforces GCS's object-name rules", async () => {
    expect((await media("k".repeat(1025), "x")).status).toBe(400);
    expect((await media("k".repeat(1024), "x")).status).toBe(200);
    expect((await media("a\nb", "x")).status).toBe(400);
  });
});
