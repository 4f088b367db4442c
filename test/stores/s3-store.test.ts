// The S3 store against a real Ceph RGW (started here, on loopback): the
// shared conformance suite, then what only S3 has: multipart boundaries and
// cleanup, signed URLs, Flyte's stow.config, missing buckets, and timeouts
// against endpoints that never answer or refuse connections.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { HeadBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatReference, type Ref } from "../../server/references/reference.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { createS3Store, type S3StoreOptions } from "../../server/stores/s3/index.js";
import { s3OptionsFromStowConfig } from "../../server/stores/s3/config.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { startCephRgw, type CephRgw } from "../servers/ceph-rgw.js";
import { freePort } from "../helpers/free-port.js";
import { expectReason } from "../helpers/rejections.js";
import { chunked, drain, never, sha256, writeOptions } from "../helpers/store-calls.js";

const KiB = 1024;
const MiB = 1024 * KiB;
/** RGW's minimum part size in this cluster, lowered so the extra tests can use small parts. */
const RGW_MIN_PART = 64 * KiB;
const SMALL_PART = 128 * KiB;

let starting: Promise<CephRgw> | undefined;
/** The one cluster of this file, started on first use. */
function server(): Promise<CephRgw> {
  starting ??= startCephRgw({ multipartMinPartSizeBytes: RGW_MIN_PART });
  return starting;
}

afterAll(async () => {
  await (await starting?.catch(() => undefined))?.stop();
});

function connection(rgw: CephRgw): S3StoreOptions {
  return {
    endpoint: rgw.endpoint,
    region: rgw.region,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
  };
}

describeRawStoreConformance("s3 (Ceph RGW)", {
  create: async () => {
    const rgw = await server();
    // Parts of S3's real minimum (5 MiB): the suite's 5 MiB + 3 objects take the multipart path.
    return { store: createS3Store({ ...connection(rgw), partSizeBytes: 5 * MiB }), scheme: "s3", container: rgw.bucket };
  },
  // S3 keys have at most 1024 bytes, which the corpus's very long key exceeds with the suite's prefix.
  awkwardKeys: "accept-or-reject",
  // The CRC32C is user metadata (RGW 16 has no x-amz-checksum-*), sent when a multipart upload starts.
  streamedCrc32c: "not-kept",
});

function md5(data: Uint8Array): Buffer {
  return createHash("md5").update(data).digest();
}

const chunks = (data: Uint8Array, size = 50_000) => chunked(data, size);

describe("s3 store on Ceph RGW", () => {
  let rgw: CephRgw;
  let store: RawStore;
  let s3: S3Client;
  const run = `extra-${randomBytes(4).toString("hex")}`;
  let n = 0;
  /** A fresh key of this run. */
  const fresh = (name: string): Ref => {
    const key = `${run}/${++n}/${name}`;
    return { scheme: "s3", container: rgw.bucket, authority: rgw.bucket, key };
  };

  async function uploadsOf(ref: Ref): Promise<string[]> {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: ref.container, Prefix: ref.key }));
    return (out.Uploads ?? []).map((u) => u.UploadId ?? "");
  }

  beforeAll(async () => {
    rgw = await server();
    store = createS3Store({ ...connection(rgw), partSizeBytes: SMALL_PART, minPartSizeBytes: RGW_MIN_PART, partConcurrency: 3 });
    s3 = new S3Client({
      endpoint: rgw.endpoint,
      region: rgw.region,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  });

  afterAll(async () => {
    await store?.close();
    s3?.destroy();
  });

  it("declares its capabilities: no append, everything else", () => {
    expect(store.kind).toBe("s3");
    expect(store.capabilities).toEqual({
      rangedReads: true,
      append: false,
      conditionalWrites: true,
      signedUrls: true,
      delimiterListing: true,
      serverSideCopy: true,
    });
  });

  describe("multipart boundaries", () => {
    it.each([
      ["one byte under a part", SMALL_PART - 1, false],
      ["exactly one part size", SMALL_PART, false],
      ["one part size + 1", SMALL_PART + 1, true],
    ])("%s: declared and unknown sizes round-trip (multipart: %s)", async (_label, size, multipart) => {
      const data = randomBytes(size);
      for (const declared of [true, false]) {
        const ref = fresh("object");
        const meta = await store.write(ref, chunks(data), writeOptions(declared ? { size } : {}), never);
        expect(meta.size).toBe(size);
        // A single PutObject has the content MD5 as its ETag; a multipart one ends in -<parts>.
        expect(meta.etag.endsWith("-2"), meta.etag).toBe(multipart);
        expect((await store.head(ref, never))?.etag).toBe(meta.etag);
        expect(sha256(await drain(await store.read(ref, {}, never)))).toBe(sha256(data));
      }
    });

    it("streams a body of unknown size spanning 3 parts, in uneven chunks", async () => {
      const data = randomBytes(2 * SMALL_PART + 12_345);
      const ref = fresh("three-parts");
      const meta = await store.write(ref, chunks(data, 77_777), writeOptions({ contentType: "text/csv", metadata: { rows: "3" } }), never);
      expect(meta.etag).toMatch(/-3$/);
      expect(meta.size).toBe(data.length);
      const head = await store.head(ref, never);
      expect(head).toMatchObject({ size: data.length, etag: meta.etag, contentType: "text/csv", metadata: { rows: "3" } });
      const range = await store.read(ref, { range: { offset: SMALL_PART - 10, length: 20, suffixLength: 0 } }, never);
      expect((await drain(range)).equals(data.subarray(SMALL_PART - 10, SMALL_PART + 10))).toBe(true);
      expect(await uploadsOf(ref)).toEqual([]);
    });

    it("records a given content MD5 under Flyte's metadata key on both paths", async () => {
      for (const size of [1000, 2 * SMALL_PART + 1]) {
        const data = randomBytes(size);
        const ref = fresh("md5");
        await store.write(ref, chunks(data), writeOptions({ contentMd5: md5(data), metadata: { a: "b" } }), never);
        const head = await store.head(ref, never);
        expect(Buffer.from(head?.contentMd5 ?? []).equals(md5(data))).toBe(true);
        expect(head?.metadata).toEqual({ a: "b" });
        // What Flyte's stow reads: x-amz-meta-flytecontentmd5, base64.
        const raw = await s3.send(new HeadObjectCommand({ Bucket: ref.container, Key: ref.key }));
        expect(raw.Metadata?.flytecontentmd5).toBe(md5(data).toString("base64"));
      }
    });
  });

  it("round-trips metadata names with underscores, which RGW would turn into dashes", async () => {
    const ref = fresh("underscores");
    const metadata = { stowd_type_url: "type.googleapis.com/flyteidl.core.LiteralMap", "run-id": "r_1" };
    for (const size of [10, 2 * SMALL_PART + 1]) {
      await store.write(ref, chunks(randomBytes(size)), writeOptions({ metadata }), never);
      expect((await store.head(ref, never))?.metadata).toEqual(metadata);
      const raw = await s3.send(new HeadObjectCommand({ Bucket: ref.container, Key: ref.key }));
      expect(raw.Metadata).toMatchObject({ "stowd.type.url": metadata.stowd_type_url, "run-id": "r_1" });
    }
    const copy = fresh("underscores-copy");
    expect((await store.copy(ref, copy, { preconditions: {} }, never)).metadata).toEqual(metadata);
    expect((await store.head(copy, never))?.metadata).toEqual(metadata);
  });

  describe("multipart failures leave nothing behind", () => {
    /** A body of `parts` small parts that waits at `gate` before its last part. */
    function gatedBody(data: Buffer, gate: Promise<void>, onWaiting: () => void) {
      return (async function* () {
        yield data.subarray(0, data.length - 10);
        onWaiting();
        await gate;
        yield data.subarray(data.length - 10);
      })();
    }

    it("a precondition that fails at commit aborts the upload and keeps the winner's object", async () => {
      for (const [pre, reason] of [
        [{ ifNotExists: true }, "ALREADY_EXISTS"],
        [{ ifExists: true }, "NOT_FOUND"],
      ] as const) {
        const ref = fresh("raced");
        const existedBefore = pre.ifExists === true;
        if (existedBefore) await store.write(ref, chunks(Buffer.from("old")), writeOptions(), never);
        let release = () => {};
        const gate = new Promise<void>((resolve) => (release = resolve));
        let waiting = () => {};
        const atGate = new Promise<void>((resolve) => (waiting = resolve));
        const data = randomBytes(3 * SMALL_PART);
        const writing = store.write(ref, gatedBody(data, gate, waiting), writeOptions({ preconditions: pre }), never);
        await atGate;
        // Parts are on the server now; another writer changes the object before the commit.
        if (existedBefore) await store.delete(ref, {}, never);
        else await store.write(ref, chunks(Buffer.from("winner")), writeOptions(), never);
        release();
        await expectReason(writing, reason);
        expect(await uploadsOf(ref)).toEqual([]);
        const head = await store.head(ref, never);
        if (existedBefore) expect(head).toBeUndefined();
        else expect((await drain(await store.read(ref, {}, never))).toString()).toBe("winner");
      }
    });

    it("refuses an etag mismatch on the multipart path before uploading, leaving the object", async () => {
      const ref = fresh("etag");
      const old = await store.write(ref, chunks(Buffer.from("old")), writeOptions(), never);
      await expectReason(
        store.write(ref, chunks(randomBytes(3 * SMALL_PART)), writeOptions({ preconditions: { ifMatchEtag: `${old.etag}x` } }), never),
        "PRECONDITION_FAILED",
      );
      expect((await store.head(ref, never))?.etag).toBe(old.etag);
      expect(await uploadsOf(ref)).toEqual([]);
    });

    it("a cancelled multipart write aborts its upload (ListMultipartUploads is empty) and stores nothing", async () => {
      const ref = fresh("cancelled");
      const controller = new AbortController();
      const data = randomBytes(4 * SMALL_PART);
      let parts = 0;
      async function* body() {
        for (let at = 0; at < data.length; at += SMALL_PART) {
          yield data.subarray(at, at + SMALL_PART);
          if (++parts === 3) {
            // Let the first parts reach the server, then cancel while the client "sends".
            await new Promise((resolve) => setTimeout(resolve, 300));
            controller.abort();
            await new Promise(() => {});
          }
        }
      }
      const err = await expectReason(store.write(ref, body(), writeOptions(), controller.signal), "CANCELLED");
      expect(err.message).toContain(ref.key);
      expect(await uploadsOf(ref)).toEqual([]);
      expect(await store.head(ref, never)).toBeUndefined();
    });

    it("a part below the server's minimum fails cleanly at commit and leaves no upload", async () => {
      // This store believes parts of 32 KiB are fine; RGW here insists on 64 KiB.
      const tooSmall = createS3Store({ ...connection(rgw), partSizeBytes: 32 * KiB, minPartSizeBytes: 16 * KiB });
      try {
        const ref = fresh("too-small");
        const err = await expectReason(tooSmall.write(ref, chunks(randomBytes(100 * KiB)), writeOptions(), never), "INVALID_ARGUMENT");
        expect(err.message).toContain("EntityTooSmall");
        expect(await uploadsOf(ref)).toEqual([]);
        expect(await store.head(ref, never)).toBeUndefined();
      } finally {
        await tooSmall.close();
      }
    });

    it("a body that breaks after several parts aborts the upload and stores nothing", async () => {
      const ref = fresh("broken");
      const data = randomBytes(5 * SMALL_PART);
      async function* body() {
        yield* chunks(data.subarray(0, 4 * SMALL_PART));
        throw new Error("client stream broke");
      }
      await expect(store.write(ref, body(), writeOptions(), never)).rejects.toThrow("client stream broke");
      expect(await uploadsOf(ref)).toEqual([]);
      expect(await store.head(ref, never)).toBeUndefined();
    });
  });

  describe("copy", () => {
    it("copies with UploadPartCopy above the multipart-copy threshold, keeping type, metadata and MD5", async () => {
      const copier = createS3Store({
        ...connection(rgw),
        partSizeBytes: SMALL_PART,
        minPartSizeBytes: RGW_MIN_PART,
        multipartCopyThresholdBytes: 200 * KiB,
        copyPartSizeBytes: SMALL_PART,
      });
      try {
        const data = randomBytes(3 * SMALL_PART + 7);
        const source = fresh("source");
        await copier.write(
          source,
          chunks(data),
          writeOptions({ contentType: "image/png", metadata: { k: "v" }, contentMd5: md5(data) }),
          never,
        );
        const dest = fresh("dest");
        const copied = await copier.copy(source, dest, { preconditions: { ifNotExists: true } }, never);
        expect(copied).toMatchObject({ key: dest.key, size: data.length, contentType: "image/png", metadata: { k: "v" } });
        expect(copied.etag).toMatch(/-4$/);
        expect(sha256(await drain(await copier.read(dest, {}, never)))).toBe(sha256(data));
        expect(Buffer.from((await copier.head(dest, never))?.contentMd5 ?? []).equals(md5(data))).toBe(true);
        await expectReason(copier.copy(source, dest, { preconditions: { ifNotExists: true } }, never), "ALREADY_EXISTS");
        expect(await uploadsOf(dest)).toEqual([]);
      } finally {
        await copier.close();
      }
    });

    it("copies between awkward keys (x-amz-copy-source is URL-encoded)", async () => {
      const printable = String.fromCharCode(...Array.from({ length: 95 }, (_, i) => 32 + i));
      for (const name of ["spaces and+plus%25", "unicode/日本語 😀", printable]) {
        const source = fresh(`src ${name}`);
        await store.write(source, chunks(Buffer.from(name)), writeOptions({ metadata: { name: "x" } }), never);
        const dest = fresh(`dest ${name}`);
        const copied = await store.copy(
          source,
          dest,
          { preconditions: {}, ifSourceMatchEtag: (await store.head(source, never))?.etag ?? "" },
          never,
        );
        expect(copied.key).toBe(dest.key);
        expect((await drain(await store.read(dest, {}, never))).toString()).toBe(name);
      }
    });

    it("copies an object onto itself", async () => {
      const ref = fresh("self");
      await store.write(ref, chunks(Buffer.from("same")), writeOptions({ contentType: "text/plain", metadata: { x: "1" } }), never);
      const copied = await store.copy(ref, ref, { preconditions: {} }, never);
      expect(copied).toMatchObject({ contentType: "text/plain", metadata: { x: "1" }, size: 4 });
      expect((await drain(await store.read(ref, {}, never))).toString()).toBe("same");
    });
  });

  describe("signed URLs", () => {
    it("round-trips a PUT then a GET with plain fetch, with the required headers", async () => {
      const ref = fresh("signed.json");
      const data = Buffer.from(JSON.stringify({ signed: true }));
      const put = await store.signUrl(
        ref,
        { method: "PUT", expiresInSeconds: 120, contentType: "application/json", contentMd5: md5(data) },
        never,
      );
      expect(put.requiredHeaders).toEqual({
        "Content-Type": "application/json",
        "Content-MD5": md5(data).toString("base64"),
        "x-amz-meta-flytecontentmd5": md5(data).toString("base64"),
      });
      expect(put.expires.getTime()).toBeGreaterThan(Date.now() + 100_000);
      // The MD5 is signed and checked: other bytes are refused.
      const wrong = await fetch(put.url, { method: "PUT", headers: put.requiredHeaders, body: Buffer.from("tampered") });
      expect(wrong.ok).toBe(false);
      const uploaded = await fetch(put.url, { method: "PUT", headers: put.requiredHeaders, body: data });
      expect(uploaded.status, await uploaded.text()).toBe(200);
      const head = await store.head(ref, never);
      expect(head?.contentType).toBe("application/json");
      expect(Buffer.from(head?.contentMd5 ?? []).equals(md5(data))).toBe(true);

      const get = await store.signUrl(ref, { method: "GET", expiresInSeconds: 60, contentType: "" }, never);
      expect(get.requiredHeaders).toEqual({});
      const response = await fetch(get.url);
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer()).equals(data)).toBe(true);
      // Unsigned, the same object is refused.
      expect((await fetch(`${rgw.endpoint}/${ref.container}/${ref.key}`)).status).toBe(403);
    });

    it("refuses an expiry beyond SigV4's 7 days", async () => {
      await expectReason(
        store.signUrl(fresh("x"), { method: "GET", expiresInSeconds: 8 * 24 * 3600, contentType: "" }, never),
        "INVALID_ARGUMENT",
      );
    });
  });

  describe("errors", () => {
    it("names a missing bucket, on every call, and never creates it", async () => {
      const bucket = `missing-${randomBytes(4).toString("hex")}`;
      const ref: Ref = { scheme: "s3", container: bucket, authority: bucket, key: "a/b" };
      const source = fresh("copy-source");
      await store.write(source, chunks(Buffer.from("x")), writeOptions(), never);
      for (const call of [
        () => store.head(ref, never),
        () => store.read(ref, {}, never),
        () => store.write(ref, chunks(Buffer.from("lost?")), writeOptions(), never),
        () => store.write(ref, chunks(randomBytes(3 * SMALL_PART)), writeOptions(), never),
        () => store.list({ ...ref, key: "" }, { pageSize: 10, pageToken: "", delimiter: "" }, never),
        () => store.delete(ref, {}, never),
        () => store.copy(source, ref, { preconditions: {} }, never),
      ]) {
        const err = await expectReason(call(), "NOT_FOUND");
        expect(err.message).toContain(`bucket "${bucket}" does not exist`);
      }
      await expect(s3.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    });

    it("answers wrong credentials with PERMISSION_DENIED", async () => {
      const wrong = createS3Store({ ...connection(rgw), credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: "wrong" } });
      try {
        await expectReason(wrong.write(fresh("denied"), chunks(Buffer.from("x")), writeOptions(), never), "PERMISSION_DENIED");
      } finally {
        await wrong.close();
      }
    });

    it("refuses metadata S3 cannot carry, and keys over 1024 bytes, before sending anything", async () => {
      await expectReason(
        store.write(fresh("meta"), chunks(Buffer.from("x")), writeOptions({ metadata: { Upper: "x" } }), never),
        "INVALID_ARGUMENT",
      );
      await expectReason(
        store.write(fresh("meta"), chunks(Buffer.from("x")), writeOptions({ metadata: { "a.b": "x" } }), never),
        "INVALID_ARGUMENT",
      );
      await expectReason(
        store.write(fresh("meta"), chunks(Buffer.from("x")), writeOptions({ metadata: { ok: "ünïcode" } }), never),
        "INVALID_ARGUMENT",
      );
      await expectReason(store.write(fresh("k".repeat(1100)), chunks(Buffer.from("x")), writeOptions(), never), "INVALID_REFERENCE");
    });

    it("refuses part sizes below the minimum when created", () => {
      expect(() => createS3Store({ ...connection(rgw), partSizeBytes: MiB })).toThrow(/partSizeBytes/);
    });

    it("fails within its deadline against an endpoint that accepts and never answers (DEADLINE_EXCEEDED)", async () => {
      const sockets = new Set<Socket>();
      const tarpit: Server = createServer((socket) => {
        sockets.add(socket);
        socket.on("error", () => {});
      });
      await new Promise<void>((resolve) => tarpit.listen(0, "127.0.0.1", resolve));
      const address = tarpit.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      const stuck = createS3Store({
        endpoint: `http://127.0.0.1:${port}`,
        credentials: { accessKeyId: "a", secretAccessKey: "b" },
        retry: { attempts: 3, attemptTimeoutMs: 300, totalTimeoutMs: 1_000, baseDelayMs: 10, maxDelayMs: 20 },
      });
      try {
        const ref: Ref = { scheme: "s3", container: "b", authority: "b", key: "k" };
        for (const call of [
          () => stuck.head(ref, never),
          () => stuck.read(ref, {}, never),
          () => stuck.write(ref, chunks(Buffer.from("x")), writeOptions(), never),
        ]) {
          const started = Date.now();
          const err = await expectReason(call(), "DEADLINE_EXCEEDED");
          expect(Date.now() - started).toBeLessThan(2_500);
          expect(err.message).not.toContain(`127.0.0.1:${port}`); // the endpoint goes to the daemon log, not to clients
        }
        expect(sockets.size).toBeGreaterThan(0);
      } finally {
        await stuck.close();
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => tarpit.close(resolve));
      }
    });

    it("answers an endpoint that refuses connections with UNAVAILABLE, after retries, without naming it to the client", async () => {
      const port = await freePort();
      const down = createS3Store({
        endpoint: `http://127.0.0.1:${port}`,
        credentials: { accessKeyId: "a", secretAccessKey: "b" },
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20, attemptTimeoutMs: 2_000, totalTimeoutMs: 5_000 },
      });
      try {
        const ref: Ref = { scheme: "s3", container: "b", authority: "b", key: "k" };
        const err = await expectReason(down.head(ref, never), "BACKEND_UNAVAILABLE");
        expect(err.message).not.toContain(`127.0.0.1:${port}`);
        await expectReason(down.list(ref, { pageSize: 5, pageToken: "", delimiter: "/" }, never), "BACKEND_UNAVAILABLE");
      } finally {
        await down.close();
      }
    });
  });

  describe("Flyte stow.config", () => {
    it("builds a working store from stow.config keys with secret_key_path, a bare host:port endpoint and disable_ssl", async () => {
      const dir = await mkdtemp(path.join(tmpdir(), "stowd-s3-secret-"));
      try {
        const secretFile = path.join(dir, "secret_key");
        await writeFile(secretFile, `${rgw.secretAccessKey}\n`);
        const options = await s3OptionsFromStowConfig({
          auth_type: "accesskey",
          access_key_id: rgw.accessKeyId,
          secret_key_path: secretFile,
          region: rgw.region,
          endpoint: new URL(rgw.endpoint).host,
          disable_ssl: "true",
        });
        const flyte = createS3Store(options);
        try {
          const ref = fresh("from-stow-config");
          await flyte.write(ref, chunks(Buffer.from("flyte")), writeOptions(), never);
          expect((await drain(await flyte.read(ref, {}, never))).toString()).toBe("flyte");
          expect(formatReference(ref, ref.key)).toBe(`s3://${rgw.bucket}/${ref.key}`);
        } finally {
          await flyte.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
