// The GCS store against the GCS test server (test/servers/gcs-test-server.ts;
// GCS is verified against that server, not against Google): the shared
// conformance suite, then what only GCS does — resumable chunk boundaries,
// compose-based append, V4 signed URLs, rewrite tokens, bucket and network
// errors.
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import type { Ref } from "../../server/references/reference.js";
import { createGcsStore, type GcsServiceAccountKey, type GcsStoreOptions } from "../../server/stores/gcs/index.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { startGcsTestServer, type GcsTestServer } from "../servers/gcs-test-server.js";
import { rejection } from "../helpers/rejections.js";
import { chunked, never, readAll, writeOptions } from "../helpers/store-calls.js";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Small sizes keep the chunk boundaries cheap to cross: 256 KiB chunks, one request up to 64 KiB. */
const CHUNK = 256 * KiB;
const SINGLE_MAX = 64 * KiB;
const BUCKET = "stowd-test";
const fastRetry = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20, attemptTimeoutMs: 5_000, totalTimeoutMs: 20_000 };

function serviceAccount(): { key: GcsServiceAccountKey; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    key: {
      type: "service_account",
      project_id: "stowd-test",
      private_key_id: "test-key",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: "stowd-test@stowd-test.iam.gserviceaccount.com",
      client_id: "1",
      token_uri: "https://oauth2.googleapis.com/token",
    },
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

const account = serviceAccount();

function storeOptions(server: GcsTestServer, extra: Partial<GcsStoreOptions> = {}): GcsStoreOptions {
  return {
    apiEndpoint: server.endpoint,
    projectId: "stowd-test",
    credentials: account.key,
    retry: fastRetry,
    resumableChunkBytes: CHUNK,
    singleRequestMaxBytes: SINGLE_MAX,
    ...extra,
  };
}

describeRawStoreConformance("gcs", {
  create: async () => {
    const server = await startGcsTestServer({ buckets: [BUCKET], signingKeys: { [account.key.client_email]: account.publicKey } });
    return { store: createGcsStore(storeOptions(server)), scheme: "gs", container: BUCKET, cleanup: () => server.close() };
  },
  // Keys longer than GCS's 1024 bytes are refused.
  awkwardKeys: "accept-or-reject",
  largeObjectBytes: MiB + 3 * 100_003,
});

function ref(key: string, container = BUCKET): Ref {
  return { scheme: "gs", container, authority: container, key };
}

const chunks = (data: Uint8Array, size = 100_003) => chunked(data, size);

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return isStowdError(err) ? err.reason : `not a StowdError: ${String(err)}`;
  }
  return "succeeded";
}

describe("gcs store", () => {
  let server: GcsTestServer;
  let store: RawStore;
  let n = 0;
  const key = (name: string) => `extra/${++n}/${name}`;

  beforeAll(async () => {
    server = await startGcsTestServer({ buckets: [BUCKET], signingKeys: { [account.key.client_email]: account.publicKey } });
    store = createGcsStore(storeOptions(server));
  });

  afterAll(async () => {
    await store.close();
    await server.close();
  });

  /** The upload requests made for `name` since `from` (index into server.requests). */
  function uploadsOf(name: string, from: number) {
    return server.requests.slice(from).filter((r) => r.path.startsWith("/upload/") && (r.query.name === name || r.method === "PUT"));
  }

  describe("uploads", () => {
    it.each([
      ["exactly one chunk", CHUNK, 1],
      ["one chunk + 1 byte", CHUNK + 1, 2],
      ["three chunks and a bit", 3 * CHUNK + 17, 4],
    ])("streams %s of unknown size as a resumable upload in chunks", async (_label, size, puts) => {
      const name = key("resumable");
      const data = randomBytes(size);
      const from = server.requests.length;
      const meta = await store.write(ref(name), chunks(data), writeOptions(), never);
      expect(meta.size).toBe(size);
      const requests = uploadsOf(name, from);
      expect(requests[0]?.query.uploadType).toBe("resumable");
      const chunkPuts = requests.filter((r) => r.method === "PUT");
      expect(chunkPuts).toHaveLength(puts);
      // Every chunk but the last is a whole multiple of the chunk size, and only the last names the total.
      for (const put of chunkPuts.slice(0, -1)) expect(put.contentRange).toMatch(/\/\*$/);
      expect(chunkPuts.at(-1)?.contentRange).toMatch(new RegExp(`/${size}$`));
      expect((await readAll(store, ref(name))).equals(data)).toBe(true);
      expect(server.openSessions()).toBe(0);
    });

    it("sends a declared size in every chunk's Content-Range", async () => {
      const name = key("declared");
      const data = randomBytes(2 * CHUNK + 5);
      const from = server.requests.length;
      await store.write(ref(name), chunks(data), writeOptions({ size: data.length }), never);
      const puts = uploadsOf(name, from).filter((r) => r.method === "PUT");
      expect(puts.map((p) => p.contentRange)).toEqual([
        `bytes 0-${CHUNK - 1}/${data.length}`,
        `bytes ${CHUNK}-${2 * CHUNK - 1}/${data.length}`,
        `bytes ${2 * CHUNK}-${2 * CHUNK + 4}/${data.length}`,
      ]);
      expect((await readAll(store, ref(name))).equals(data)).toBe(true);
    });

    it("sends small bodies (declared or found out) in one multipart request with their MD5", async () => {
      for (const size of [0, 1, SINGLE_MAX]) {
        for (const declared of [true, false]) {
          const name = key(`small-${size}-${declared}`);
          const data = randomBytes(size);
          const from = server.requests.length;
          const meta = await store.write(ref(name), chunks(data, 1000), writeOptions(declared ? { size } : {}), never);
          const requests = uploadsOf(name, from);
          expect(requests.map((r) => r.query.uploadType)).toEqual(["multipart"]);
          expect(Buffer.from(meta.contentMd5 ?? []).equals(createHash("md5").update(data).digest())).toBe(true);
          expect((await readAll(store, ref(name))).equals(data)).toBe(true);
        }
      }
    });

    it("checks preconditions when the resumable upload commits, not only when it starts", async () => {
      const name = key("race");
      const data = randomBytes(2 * CHUNK);
      let release = (): void => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      async function* slow() {
        yield data.subarray(0, CHUNK + 1);
        await gate;
        yield data.subarray(CHUNK + 1);
      }
      const writing = store.write(ref(name), slow(), writeOptions({ preconditions: { ifNotExists: true } }), never);
      // The session has started (create-only passed); another writer creates the object meanwhile.
      for (let i = 0; i < 200 && server.openSessions() === 0; i++) await new Promise((r) => setTimeout(r, 5));
      expect(server.openSessions()).toBe(1);
      expect(await store.head(ref(name), never)).toBeUndefined(); // nothing visible before the commit
      const other = await store.write(ref(name), chunks(Buffer.from("other")), writeOptions(), never);
      release();
      expect(await reason(writing)).toBe("ALREADY_EXISTS");
      expect((await store.head(ref(name), never))?.etag).toBe(other.etag);
      expect((await readAll(store, ref(name))).toString()).toBe("other");
    });

    it("if_match_etag on the resumable path: a write that lost the race changes nothing", async () => {
      const name = key("etag-race");
      const first = await store.write(ref(name), chunks(Buffer.from("v1")), writeOptions(), never);
      let release = (): void => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      async function* slow() {
        yield randomBytes(CHUNK + 1);
        await gate;
        yield randomBytes(10);
      }
      const writing = store.write(ref(name), slow(), writeOptions({ preconditions: { ifMatchEtag: first.etag } }), never);
      for (let i = 0; i < 200 && server.openSessions() === 0; i++) await new Promise((r) => setTimeout(r, 5));
      const second = await store.write(ref(name), chunks(Buffer.from("v2")), writeOptions(), never);
      release();
      expect(await reason(writing)).toBe("PRECONDITION_FAILED");
      expect((await store.head(ref(name), never))?.etag).toBe(second.etag);
    });

    it("a cancelled resumable upload leaves no object and cancels its session", async () => {
      const name = key("cancelled");
      const controller = new AbortController();
      async function* body() {
        yield randomBytes(2 * CHUNK + 3);
        controller.abort();
        yield randomBytes(10);
      }
      expect(await reason(store.write(ref(name), body(), writeOptions(), controller.signal))).toBe("CANCELLED");
      expect(await store.head(ref(name), never)).toBeUndefined();
      for (let i = 0; i < 200 && server.openSessions() > 0; i++) await new Promise((r) => setTimeout(r, 5));
      expect(server.openSessions()).toBe(0);
      expect(server.requests.some((r) => r.method === "DELETE" && r.path.startsWith("/upload/"))).toBe(true);
    });

    it("a body that fails mid-upload leaves no object and no session", async () => {
      const name = key("broken");
      async function* body() {
        yield randomBytes(3 * CHUNK);
        throw new Error("client stream broke");
      }
      await expect(store.write(ref(name), body(), writeOptions(), never)).rejects.toThrow("client stream broke");
      expect(await store.head(ref(name), never)).toBeUndefined();
      for (let i = 0; i < 200 && server.openSessions() > 0; i++) await new Promise((r) => setTimeout(r, 5));
      expect(server.openSessions()).toBe(0);
    });

    it("records the given MD5 as md5Hash (GCS verifies it) and as Flyte's flyteContentMD5", async () => {
      const name = key("md5");
      const data = Buffer.from("checked content");
      const md5 = Uint8Array.from(createHash("md5").update(data).digest());
      const meta = await store.write(ref(name), chunks(data), writeOptions({ contentMd5: md5, metadata: { a: "b" } }), never);
      expect(Buffer.from(meta.contentMd5 ?? []).equals(Buffer.from(md5))).toBe(true);
      expect(meta.metadata).toEqual({ a: "b" });
      const wrong = Uint8Array.from(createHash("md5").update("other").digest());
      expect(await reason(store.write(ref(key("bad-md5")), chunks(data), writeOptions({ contentMd5: wrong }), never))).toBe(
        "INVALID_ARGUMENT",
      );
      expect(
        await reason(store.write(ref(key("bad-md5-big")), chunks(randomBytes(CHUNK + 1)), writeOptions({ contentMd5: wrong }), never)),
      ).toBe("INVALID_ARGUMENT");
    });

    it("refuses keys GCS cannot name before reading the body", async () => {
      let pulled = false;
      async function* body() {
        pulled = true;
        yield Buffer.from("x");
      }
      expect(await reason(store.write(ref("k".repeat(1025)), body(), writeOptions(), never))).toBe("INVALID_REFERENCE");
      expect(await reason(store.write(ref(".stowd-tmp/mine"), body(), writeOptions(), never))).toBe("INVALID_REFERENCE");
      expect(pulled).toBe(false);
    });
  });

  describe("reads", () => {
    it("breaking off one download does not disturb others in flight", async () => {
      const a = randomBytes(3 * MiB);
      const b = randomBytes(3 * MiB);
      await store.write(ref(key("a")), chunks(a), writeOptions(), never);
      await store.write(ref(key("b")), chunks(b), writeOptions(), never);
      const readA = await store.read(ref(`extra/${n - 1}/a`), {}, never);
      // A deadline, so that a regression fails here instead of hanging (the SDK's shared agent did hang it).
      const readB = await store.read(ref(`extra/${n}/b`), {}, AbortSignal.timeout(10_000));
      const itA = readA.body[Symbol.asyncIterator]();
      const itB = readB.body[Symbol.asyncIterator]();
      const partsB: Buffer[] = [];
      const firstB = await itB.next();
      if (!firstB.done) partsB.push(Buffer.from(firstB.value));
      await itA.next();
      await itA.return?.(); // the consumer of A goes away mid-download
      for (let next = await itB.next(); !next.done; next = await itB.next()) partsB.push(Buffer.from(next.value));
      expect(Buffer.concat(partsB).equals(b)).toBe(true);
    });

    it("serves ranges from the pinned generation and skips the request for empty ranges", async () => {
      const name = key("ranged");
      const data = randomBytes(1000);
      await store.write(ref(name), chunks(data), writeOptions(), never);
      const got = await store.read(ref(name), { range: { offset: 10, length: 20, suffixLength: 0 } }, never);
      const parts: Buffer[] = [];
      for await (const part of got.body) parts.push(Buffer.from(part));
      expect(Buffer.concat(parts).equals(data.subarray(10, 30))).toBe(true);
      const media = server.requests.filter((r) => r.query.alt === "media" && r.path.endsWith(name));
      expect(media.at(-1)?.query.generation).toBe(got.meta.generation);
      await store.write(ref(key("empty")), chunks(Buffer.alloc(0)), writeOptions(), never);
      const before = server.requests.length;
      const empty = await store.read(ref(`extra/${n}/empty`), { range: { offset: 0, length: 5, suffixLength: 0 } }, never);
      expect(empty.length).toBe(0);
      expect(server.requests.slice(before).some((r) => r.query.alt === "media")).toBe(false);
    });
  });

  describe("append via compose", () => {
    it("composes the object with a staged part under its generation and removes the stage", async () => {
      const name = key("log");
      await store.write(
        ref(name),
        chunks(Buffer.from("hello")),
        writeOptions({ contentType: "text/plain", metadata: { kind: "log" } }),
        never,
      );
      const from = server.requests.length;
      const appended = await store.append(
        ref(name),
        chunks(Buffer.from(" world")),
        { createIfMissing: false, contentType: "", expectedOffset: 5 },
        never,
      );
      expect(appended.size).toBe(11);
      expect(appended.contentType).toBe("text/plain");
      expect(appended.metadata).toEqual({ kind: "log" });
      const compose = server.requests.slice(from).find((r) => r.path.endsWith("/compose"));
      expect(compose?.query.ifGenerationMatch).toMatch(/^\d+$/);
      expect((await readAll(store, ref(name))).toString()).toBe("hello world");
      const listed = await store.list(ref(""), { pageSize: 1000, pageToken: "", delimiter: "" }, never);
      expect(listed.objects.some((o) => o.key.startsWith(".stowd-tmp/"))).toBe(false);
      expect(server.requests.slice(from).filter((r) => r.method === "DELETE" && r.path.includes(".stowd-tmp/append/"))).toHaveLength(1);
    });

    it("a composite object reports no stale MD5 and still reads back verified (CRC32C)", async () => {
      const name = key("composite");
      const data = Buffer.from("base");
      const md5 = Uint8Array.from(createHash("md5").update(data).digest());
      await store.write(ref(name), chunks(data), writeOptions({ contentMd5: md5 }), never);
      const appended = await store.append(ref(name), chunks(randomBytes(CHUNK + 9)), { createIfMissing: false, contentType: "" }, never);
      expect(appended.contentMd5).toBeUndefined();
      expect(appended.metadata).toEqual({});
      expect((await readAll(store, ref(name))).length).toBe(4 + CHUNK + 9);
    });

    it("a failed append leaves no staging object behind", async () => {
      const name = key("failed-append");
      await store.write(ref(name), chunks(Buffer.from("x")), writeOptions(), never);
      expect(
        await reason(
          store.append(ref(name), chunks(Buffer.from("y")), { createIfMissing: false, contentType: "", expectedOffset: 0 }, never),
        ),
      ).toBe("PRECONDITION_FAILED");
      async function* broken() {
        yield Buffer.from("partial");
        throw new Error("client stream broke");
      }
      await expect(store.append(ref(name), broken(), { createIfMissing: false, contentType: "" }, never)).rejects.toThrow(
        "client stream broke",
      );
      // Asked of the server directly: the store hides the staging prefix from its listings.
      const staged = (await (await fetch(`${server.endpoint}/storage/v1/b/${BUCKET}/o?prefix=.stowd-tmp/`)).json()) as {
        items?: unknown[];
      };
      expect(staged.items).toBeUndefined();
      expect((await readAll(store, ref(name))).toString()).toBe("x");
    });
  });

  describe("copy", () => {
    it("follows rewrite tokens until the copy is done", async () => {
      const tokenServer = await startGcsTestServer({ buckets: [BUCKET], rewriteBytesPerCall: 100_000 });
      const tokenStore = createGcsStore(storeOptions(tokenServer));
      try {
        const data = randomBytes(350_000);
        await tokenStore.write(ref("src"), chunks(data), writeOptions({ contentType: "image/png", metadata: { a: "1" } }), never);
        const copied = await tokenStore.copy(ref("src"), ref("dst"), { preconditions: { ifNotExists: true } }, never);
        expect(copied.contentType).toBe("image/png");
        expect(copied.metadata).toEqual({ a: "1" });
        expect(tokenServer.requests.filter((r) => r.path.includes("/rewriteTo/"))).toHaveLength(4);
        expect((await readAll(tokenStore, ref("dst"))).equals(data)).toBe(true);
      } finally {
        await tokenStore.close();
        await tokenServer.close();
      }
    });
  });

  describe("signed URLs", () => {
    it("signs a PUT that plain fetch uploads with, and a GET that reads it back", async () => {
      const name = key("signed file.txt");
      const data = Buffer.from("uploaded through a signed URL");
      const md5 = Uint8Array.from(createHash("md5").update(data).digest());
      const put = await store.signUrl(
        ref(name),
        { method: "PUT", expiresInSeconds: 300, contentMd5: md5, contentType: "text/plain" },
        never,
      );
      expect(new URL(put.url).searchParams.get("X-Goog-Algorithm")).toBe("GOOG4-RSA-SHA256");
      expect(put.requiredHeaders).toMatchObject({ "Content-MD5": Buffer.from(md5).toString("base64"), "Content-Type": "text/plain" });
      const uploaded = await fetch(put.url, { method: "PUT", headers: put.requiredHeaders, body: data });
      expect(uploaded.status).toBe(200);
      const head = await store.head(ref(name), never);
      expect(head?.contentType).toBe("text/plain");
      expect(Buffer.from(head?.contentMd5 ?? []).equals(Buffer.from(md5))).toBe(true);
      expect(head?.metadata).toEqual({});

      const get = await store.signUrl(ref(name), { method: "GET", expiresInSeconds: 60, contentType: "" }, never);
      const downloaded = await fetch(get.url);
      expect(downloaded.status).toBe(200);
      expect(Buffer.from(await downloaded.arrayBuffer()).equals(data)).toBe(true);
    });

    it("is refused by the server when tampered with, when a signed header is missing, or with a wrong MD5", async () => {
      const name = key("tamper");
      await store.write(ref(name), chunks(Buffer.from("secret")), writeOptions(), never);
      const get = await store.signUrl(ref(name), { method: "GET", expiresInSeconds: 60, contentType: "" }, never);
      const tampered = new URL(get.url);
      tampered.pathname = tampered.pathname.replace("tamper", "other");
      expect((await fetch(tampered)).status).toBe(403);
      const md5 = Uint8Array.from(createHash("md5").update("expected").digest());
      const put = await store.signUrl(ref(name), { method: "PUT", expiresInSeconds: 60, contentMd5: md5, contentType: "" }, never);
      expect((await fetch(put.url, { method: "PUT", body: "expected" })).status).toBe(403);
      const bad = await fetch(put.url, { method: "PUT", headers: put.requiredHeaders, body: "different" });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain("BadDigest");
      expect((await readAll(store, ref(name))).toString()).toBe("secret");
    });

    it("expires", async () => {
      const name = key("expiring");
      await store.write(ref(name), chunks(Buffer.from("soon gone")), writeOptions(), never);
      const get = await store.signUrl(ref(name), { method: "GET", expiresInSeconds: 1, contentType: "" }, never);
      expect((await fetch(get.url)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 2_100));
      const late = await fetch(get.url);
      expect(late.status).toBe(400);
      expect(await late.text()).toContain("ExpiredToken");
    });

    it("refuses GET options that only a PUT can carry, and answers UNSUPPORTED without a key", async () => {
      expect(await reason(store.signUrl(ref(key("x")), { method: "GET", expiresInSeconds: 60, contentType: "text/plain" }, never))).toBe(
        "INVALID_ARGUMENT",
      );
      const withoutKey = storeOptions(server);
      delete withoutKey.credentials;
      const keyless = createGcsStore(withoutKey);
      expect(keyless.capabilities.signedUrls).toBe(false);
      expect(await reason(keyless.signUrl(ref(key("x")), { method: "GET", expiresInSeconds: 60, contentType: "" }, never))).toBe(
        "UNSUPPORTED",
      );
    });
  });

  describe("errors", () => {
    it("names a missing bucket (no auto-create) in every call", async () => {
      const missing = ref("k", "no-such-bucket");
      const existing = ref(key("copy-source"));
      await store.write(existing, chunks(Buffer.from("x")), writeOptions(), never);
      for (const call of [
        () => store.head(missing, never),
        () => store.read(missing, {}, never),
        () => store.write(missing, chunks(Buffer.from("x")), writeOptions(), never),
        () => store.write(missing, chunks(randomBytes(CHUNK + 1)), writeOptions(), never),
        () => store.list(ref("", "no-such-bucket"), { pageSize: 10, pageToken: "", delimiter: "" }, never),
        () => store.delete(missing, {}, never),
        () => store.deletePrefix(ref("", "no-such-bucket"), never),
        () => store.append(missing, chunks(Buffer.from("x")), { createIfMissing: true, contentType: "" }, never),
        () => store.copy(existing, missing, { preconditions: {} }, never),
        () => store.copy(missing, existing, { preconditions: {} }, never),
      ]) {
        const err = await rejection(call());
        expect(isStowdError(err, "NOT_FOUND"), String(err)).toBe(true);
        expect((err as Error).message).toContain('bucket "no-such-bucket" does not exist');
      }
      expect(server.requests.some((r) => r.method === "POST" && r.path === "/storage/v1/b")).toBe(false);
      expect(await reason(store.head(ref("k", ""), never))).toBe("INVALID_REFERENCE");
    });

    it("maps 403 to PERMISSION_DENIED and retries a 503", async () => {
      const name = key("faults");
      await store.write(ref(name), chunks(Buffer.from("x")), writeOptions(), never);
      server.failNext({ method: "GET", path: name, status: 403 });
      expect(await reason(store.head(ref(name), never))).toBe("PERMISSION_DENIED");
      server.failNext({ method: "GET", path: name, status: 503, times: 2 });
      expect((await store.head(ref(name), never))?.size).toBe(1);
      server.failNext({ method: "GET", path: name, status: 503, times: 10 });
      const err = await rejection(store.head(ref(name), never));
      expect(isStowdError(err, "BACKEND_UNAVAILABLE")).toBe(true);
      expect((err as Error).message).not.toContain(server.endpoint); // the endpoint goes to the daemon log, not to clients
      server.failNext({ method: "GET", path: name, status: 503, times: 0 }); // leftovers are harmless
    });

    it("reports an unreachable endpoint as UNAVAILABLE without naming it to the client", async () => {
      const closed = await new Promise<number>((resolve) => {
        const probe = createServer();
        probe.listen(0, "127.0.0.1", () => {
          const { port } = probe.address() as AddressInfo;
          probe.close(() => resolve(port));
        });
      });
      const endpoint = `http://127.0.0.1:${closed}`;
      const down = createGcsStore({ ...storeOptions(server), apiEndpoint: endpoint });
      for (const call of [
        () => down.head(ref("k"), never),
        () => down.write(ref("k"), chunks(Buffer.from("x")), writeOptions(), never),
        () => down.write(ref("k"), chunks(randomBytes(CHUNK + 1)), writeOptions(), never),
        () => down.list(ref(""), { pageSize: 10, pageToken: "", delimiter: "" }, never),
      ]) {
        const err = await rejection(call());
        expect(isStowdError(err, "BACKEND_UNAVAILABLE"), String(err)).toBe(true);
        expect((err as Error).message).not.toContain(`127.0.0.1:${closed}`);
      }
    });

    it("bounds a stalled upload chunk and a stalled download by the attempt timeout", async () => {
      const retry = { attempts: 2, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 400, totalTimeoutMs: 3_000 };
      const impatient = createGcsStore({ ...storeOptions(server), retry });
      const name = key("stalled");
      // The session starts; its first chunk never gets an answer. Chunks are not retried (the SDK's retries are off).
      server.failNext({ method: "PUT", path: "/upload/", status: "hang" });
      let started = Date.now();
      expect(await reason(impatient.write(ref(name), chunks(randomBytes(2 * CHUNK + 1)), writeOptions(), never))).toBe("DEADLINE_EXCEEDED");
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(await impatient.head(ref(name), never)).toBeUndefined();
      // A download (and a metadata read) whose first attempt stalls is retried; one that keeps stalling fails in time.
      await impatient.write(ref(name), chunks(Buffer.from("finally")), writeOptions(), never);
      server.failNext({ method: "GET", path: name, query: { alt: "media" }, status: "hang" });
      server.failNext({ method: "GET", path: name, status: "hang" });
      started = Date.now();
      expect((await readAll(impatient, ref(name))).toString()).toBe("finally");
      expect(Date.now() - started).toBeGreaterThanOrEqual(700);
      server.failNext({ method: "GET", path: name, query: { alt: "media" }, status: "hang", times: 2 });
      expect(await reason(impatient.read(ref(name), {}, never))).toBe("DEADLINE_EXCEEDED");
    });

    describe("against a tarpit (accepts connections, never answers)", () => {
      let tarpit: Server;
      const sockets = new Set<Socket>();
      let endpoint = "";

      beforeAll(async () => {
        tarpit = createServer((socket) => {
          sockets.add(socket);
          socket.on("error", () => {});
          socket.on("close", () => sockets.delete(socket));
        });
        await new Promise<void>((resolve) => tarpit.listen(0, "127.0.0.1", resolve));
        endpoint = `http://127.0.0.1:${(tarpit.address() as AddressInfo).port}`;
      });

      afterAll(async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => tarpit.close(resolve));
      });

      it("fails each kind of call with DEADLINE_EXCEEDED within the retry policy's time", async () => {
        const retry = { attempts: 2, baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 300, totalTimeoutMs: 1_500 };
        const stuck = createGcsStore({ ...storeOptions(server), apiEndpoint: endpoint, retry });
        // All at once: each must fail within the total deadline (1.5 s), not after it.
        const started = Date.now();
        const outcomes = await Promise.all([
          reason(stuck.head(ref("k"), never)),
          reason(stuck.read(ref("k"), {}, never)),
          reason(stuck.write(ref("k"), chunks(Buffer.from("x")), writeOptions(), never)),
          reason(stuck.write(ref("k"), chunks(randomBytes(CHUNK + 1)), writeOptions(), never)),
          reason(stuck.list(ref(""), { pageSize: 10, pageToken: "", delimiter: "" }, never)),
          reason(stuck.delete(ref("k"), {}, never)),
          reason(stuck.copy(ref("a"), ref("b"), { preconditions: {} }, never)),
        ]);
        expect(outcomes).toEqual(Array(7).fill("DEADLINE_EXCEEDED"));
        expect(Date.now() - started).toBeLessThan(2_500);
      });

      it("lets the caller's deadline cut a call short", async () => {
        const stuck = createGcsStore({ ...storeOptions(server), apiEndpoint: endpoint });
        const started = Date.now();
        expect(await reason(stuck.head(ref("k"), AbortSignal.timeout(200)))).toBe("DEADLINE_EXCEEDED");
        expect(Date.now() - started).toBeLessThan(2_000);
      });
    });
  });
});
