// The azure store against a real azurite blob service: the shared
// conformance suite, then what is particular to Azure (block boundaries,
// commit-time preconditions, cancelled uploads, SAS URLs, Flyte config keys,
// metadata names, append to foreign blobs, listing order) and the failure
// modes (missing container, unreachable endpoint, a tarpit).
import type { ContainerClient } from "@azure/storage-blob";
import { crc32c } from "@node-rs/crc32";
import { createHash, randomBytes } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import type { Ref } from "../../server/references/reference.js";
import { azureOptionsFromStowConfig } from "../../server/stores/azure/config.js";
import { decodeMetadataKey, encodeMetadataKey } from "../../server/stores/azure/metadata.js";
import { createAzureStore } from "../../server/stores/azure/index.js";
import { compareKeys } from "../../server/stores/kit/list-pages.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { startAzurite, type Azurite } from "../servers/azurite.js";
import { stowdRejection } from "../helpers/rejections.js";
import { chunked, drain, never, writeOptions } from "../helpers/store-calls.js";

const MiB = 1 << 20;

let azurite: Azurite | undefined;

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

function server(): Azurite {
  if (azurite === undefined) throw new Error("azurite did not start");
  return azurite;
}

describeRawStoreConformance("azure (azurite)", {
  create: async () => {
    const { blobUrl, account, key, container } = server();
    // 1 MiB blocks: the suite's 1 MiB +- 1 and multi-MiB objects cross the single-call / staged-blocks boundary.
    const store = createAzureStore({ account, key, endpoint: blobUrl, blockSizeBytes: MiB, blockConcurrency: 3 });
    return { store, scheme: "abfs", container, authority: `${container}@${account}.dfs.core.windows.net` };
  },
  awkwardKeys: "accept-or-reject",
});

const chunks = (data: Uint8Array, size = 64 * 1024) => chunked(data, size);

/** A gate an async body waits at: `opened` resolves when the body reached it. */
function gate() {
  let release = (): void => {};
  let reached = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const opened = new Promise<void>((resolve) => (reached = resolve));
  return { release, opened, wait: () => (reached(), released) };
}

describe("azure store", () => {
  const BLOCK = 256 * 1024;
  let run = 0;
  let store: RawStore;
  /** A second store on the same account: another process, as far as blob locking goes. */
  let other: RawStore;
  let container: ContainerClient;
  const prefix = `extras-${randomBytes(3).toString("hex")}`;
  const ref = (key: string): Ref => {
    const { container: name, account } = server();
    return { scheme: "abfs", container: name, authority: `${name}@${account}.dfs.core.windows.net`, key: `${prefix}/${key}` };
  };

  beforeAll(() => {
    const { blobUrl, account, key, service, container: name } = server();
    store = createAzureStore({ account, key, endpoint: blobUrl, blockSizeBytes: BLOCK, blockConcurrency: 2 });
    other = createAzureStore({ account, key, endpoint: blobUrl, blockSizeBytes: BLOCK });
    container = service.getContainerClient(name);
  });

  beforeEach(() => {
    run++;
  });

  const key = (name: string) => `r${run}/${name}`;

  async function committedSizes(name: string): Promise<number[]> {
    const list = await container.getBlockBlobClient(`${prefix}/${name}`).getBlockList("committed");
    return (list.committedBlocks ?? []).map((b) => b.size);
  }

  describe("block uploads", () => {
    it("sends a body of exactly one block in one Put Blob call (no block list)", async () => {
      const data = randomBytes(BLOCK);
      const meta = await store.write(ref(key("one")), chunks(data), writeOptions(), never);
      expect(meta.size).toBe(BLOCK);
      expect(await committedSizes(key("one"))).toEqual([]);
      expect((await drain(await store.read(ref(key("one")), {}, never))).equals(data)).toBe(true);
    });

    it("stages one block + 1 byte as two blocks and commits them once", async () => {
      const data = randomBytes(BLOCK + 1);
      const meta = await store.write(ref(key("two")), chunks(data, 100_003), writeOptions({ size: data.length }), never);
      expect(meta.size).toBe(BLOCK + 1);
      expect(await committedSizes(key("two"))).toEqual([BLOCK, 1]);
      expect((await drain(await store.read(ref(key("two")), {}, never))).equals(data)).toBe(true);
      expect(Buffer.from(meta.contentMd5 ?? []).equals(createHash("md5").update(data).digest())).toBe(true);
    });

    it("stages a stream of unknown size spanning three blocks", async () => {
      const data = randomBytes(2 * BLOCK + 12_345);
      await store.write(ref(key("three")), chunks(data, 7_919), writeOptions(), never);
      expect(await committedSizes(key("three"))).toEqual([BLOCK, BLOCK, 12_345]);
      const head = await store.head(ref(key("three")), never);
      expect(head?.size).toBe(data.length);
      expect(Buffer.from(head?.contentMd5 ?? []).equals(createHash("md5").update(data).digest())).toBe(true);
    });

    it("a precondition that fails at the block commit leaves the winner's object, and nothing of the loser", async () => {
      // The loser stalls after two blocks while another process creates the object; its commit then finds it.
      const g = gate();
      async function* body() {
        yield randomBytes(2 * BLOCK);
        await g.wait();
        yield randomBytes(BLOCK);
      }
      const losing = store.write(ref(key("race")), body(), writeOptions({ preconditions: { ifNotExists: true } }), never);
      await g.opened;
      const winner = await other.write(ref(key("race")), chunks(Buffer.from("winner")), writeOptions(), never);
      g.release();
      expect((await stowdRejection(losing)).reason).toBe("ALREADY_EXISTS");
      const got = await store.read(ref(key("race")), {}, never);
      expect(got.meta.etag).toBe(winner.etag);
      expect((await drain(got)).toString()).toBe("winner");

      // Same with if_match_etag: the object changed under the upload.
      const first = await store.write(ref(key("etag")), chunks(Buffer.from("v1")), writeOptions(), never);
      const g2 = gate();
      async function* body2() {
        yield randomBytes(2 * BLOCK);
        await g2.wait();
        yield randomBytes(10);
      }
      const stale = store.write(ref(key("etag")), body2(), writeOptions({ preconditions: { ifMatchEtag: first.etag } }), never);
      await g2.opened;
      const second = await other.write(ref(key("etag")), chunks(Buffer.from("v2")), writeOptions(), never);
      g2.release();
      expect((await stowdRejection(stale)).reason).toBe("PRECONDITION_FAILED");
      const now = await store.read(ref(key("etag")), {}, never);
      expect(now.meta.etag).toBe(second.etag);
      expect((await drain(now)).toString()).toBe("v2");
    });

    it("a cancelled upload leaves no blob and no committed blocks (the staged ones await Azure's garbage collection)", async () => {
      const controller = new AbortController();
      const g = gate();
      async function* body() {
        yield randomBytes(3 * BLOCK);
        await g.wait();
        yield randomBytes(BLOCK);
      }
      const writing = store.write(ref(key("cancelled")), body(), writeOptions(), controller.signal);
      await g.opened;
      // Let the staged blocks reach the server before the cancel.
      for (let i = 0; i < 100; i++) {
        const list = await container
          .getBlockBlobClient(`${prefix}/${key("cancelled")}`)
          .getBlockList("uncommitted")
          .catch(() => undefined);
        if ((list?.uncommittedBlocks?.length ?? 0) >= 2) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      controller.abort();
      g.release();
      expect((await stowdRejection(writing)).reason).toBe("CANCELLED");
      expect(await store.head(ref(key("cancelled")), never)).toBeUndefined();
      const listed = await store.list(ref(key("")), { pageSize: 10, pageToken: "", delimiter: "" }, never);
      expect(listed.objects).toEqual([]);
      const blocks = await container.getBlockBlobClient(`${prefix}/${key("cancelled")}`).getBlockList("all");
      expect(blocks.committedBlocks ?? []).toEqual([]);
      expect((blocks.uncommittedBlocks ?? []).length).toBeGreaterThan(0);
      // The name stays usable.
      await store.write(ref(key("cancelled")), chunks(randomBytes(2 * BLOCK + 1)), writeOptions(), never);
      expect((await store.head(ref(key("cancelled")), never))?.size).toBe(2 * BLOCK + 1);
    });
    it("passes a failing body's own error up, and stages nothing more after it", async () => {
      const broken = new Error("client stream broke");
      async function* body() {
        yield randomBytes(3 * BLOCK);
        throw broken;
      }
      expect(await store.write(ref(key("broken")), body(), writeOptions(), never).catch((e: unknown) => e)).toBe(broken);
      expect(await store.head(ref(key("broken")), never)).toBeUndefined();
    });

    it("serialises uploads to one blob in this process; a cancelled waiter leaves at once", async () => {
      const g = gate();
      async function* slow() {
        yield randomBytes(2 * BLOCK);
        await g.wait();
        yield Buffer.from("first");
      }
      const first = store.write(ref(key("queue")), slow(), writeOptions(), never);
      await g.opened;
      const controller = new AbortController();
      const waiting = store.write(ref(key("queue")), chunks(Buffer.from("second")), writeOptions(), controller.signal);
      const waiter = stowdRejection(waiting);
      controller.abort();
      expect((await waiter).reason).toBe("CANCELLED");
      const third = store.write(ref(key("queue")), chunks(Buffer.from("third")), writeOptions(), never);
      g.release();
      await first;
      const last = await third;
      const got = await store.read(ref(key("queue")), {}, never);
      expect(got.meta.etag).toBe(last.etag);
      expect((await drain(got)).toString()).toBe("third");
    });

    it("two processes uploading one blob: the later commit wins whole, or fails as retryable, never a mix", async () => {
      const g = gate();
      const mine = randomBytes(3 * BLOCK);
      async function* body() {
        yield mine.subarray(0, 2 * BLOCK);
        await g.wait();
        yield mine.subarray(2 * BLOCK);
      }
      const writing = store.write(ref(key("clash")), body(), writeOptions(), never);
      await g.opened;
      const theirs = randomBytes(2 * BLOCK + 7);
      await other.write(ref(key("clash")), chunks(theirs), writeOptions(), never);
      g.release();
      const outcome = await writing.then(
        () => "mine",
        (err: unknown) => (isStowdError(err) ? err.reason : String(err)),
      );
      const stored = await drain(await store.read(ref(key("clash")), {}, never));
      if (outcome === "mine") expect(stored.equals(mine)).toBe(true);
      else {
        expect(outcome).toBe("BACKEND_UNAVAILABLE");
        expect(stored.equals(theirs)).toBe(true);
      }
    });
  });

  describe("append", () => {
    it("re-commits the block list of a staged blob, keeping its blocks", async () => {
      const base = randomBytes(BLOCK + 5);
      const first = await store.write(
        ref(key("log")),
        chunks(base),
        writeOptions({ contentType: "text/plain", metadata: { "run-id": "7" } }),
        never,
      );
      const before = await container.getBlockBlobClient(`${prefix}/${key("log")}`).getBlockList("committed");
      const appended = await store.append(
        ref(key("log")),
        chunks(Buffer.from("tail")),
        { expectedOffset: base.length, ifMatchEtag: first.etag, createIfMissing: false, contentType: "" },
        never,
      );
      expect(appended.size).toBe(base.length + 4);
      const after = await container.getBlockBlobClient(`${prefix}/${key("log")}`).getBlockList("committed");
      expect((after.committedBlocks ?? []).slice(0, 2)).toEqual(before.committedBlocks);
      expect((after.committedBlocks ?? []).map((b) => b.size)).toEqual([BLOCK, 5, 4]);
      const got = await store.read(ref(key("log")), {}, never);
      expect(got.meta).toMatchObject({ contentType: "text/plain", metadata: { "run-id": "7" }, etag: appended.etag });
      const content = Buffer.concat([base, Buffer.from("tail")]);
      // The old MD5 no longer describes the content (Azure then reports none; azurite computes one).
      if (got.meta.contentMd5 !== undefined)
        expect(Buffer.from(got.meta.contentMd5).equals(createHash("md5").update(content).digest())).toBe(true);
      expect((await drain(got)).equals(content)).toBe(true);
    });

    it("converts a blob written in one Put Blob call (e.g. by Flyte) on its first append", async () => {
      await container
        .getBlockBlobClient(`${prefix}/${key("flyte")}`)
        .upload("written by flyte;", 17, { metadata: { flyteContentMD5: "bm90IHRoZSBtZDUgYW55bW9yZQ==" } });
      expect(await committedSizes(key("flyte"))).toEqual([]);
      const meta = await store.append(
        ref(key("flyte")),
        chunks(Buffer.from(" appended")),
        { expectedOffset: 17, createIfMissing: false, contentType: "" },
        never,
      );
      expect(meta.size).toBe(26);
      expect(await committedSizes(key("flyte"))).toEqual([17, 9]);
      const got = await store.read(ref(key("flyte")), {}, never);
      expect((await drain(got)).toString()).toBe("written by flyte; appended");
      expect(got.meta.metadata).toEqual({}); // Flyte's stale MD5 key is dropped
    });

    it("appends natively to an append blob made by another tool, with the append-position condition", async () => {
      const client = container.getAppendBlobClient(`${prefix}/${key("appendblob")}`);
      await client.create();
      await client.appendBlock("abc", 3);
      await store.append(
        ref(key("appendblob")),
        chunks(Buffer.from("def")),
        { expectedOffset: 3, createIfMissing: false, contentType: "" },
        never,
      );
      expect(
        (
          await stowdRejection(
            store.append(
              ref(key("appendblob")),
              chunks(Buffer.from("x")),
              { expectedOffset: 3, createIfMissing: false, contentType: "" },
              never,
            ),
          )
        ).reason,
      ).toBe("PRECONDITION_FAILED");
      const tooBig = await stowdRejection(
        store.append(ref(key("appendblob")), chunks(randomBytes(4 * MiB + 1)), { createIfMissing: false, contentType: "" }, never),
      );
      expect(tooBig.reason).toBe("UNSUPPORTED");
      expect((await drain(await store.read(ref(key("appendblob")), {}, never))).toString()).toBe("abcdef");
    });

    it("applies concurrent appends from two processes exactly once each", async () => {
      await store.write(ref(key("shared")), chunks(Buffer.alloc(0)), writeOptions(), never);
      const parts = Array.from({ length: 8 }, (_, i) => Buffer.alloc(100 + i, 65 + i));
      await Promise.all(
        parts.map((part, i) =>
          (i % 2 === 0 ? store : other).append(ref(key("shared")), chunks(part), { createIfMissing: false, contentType: "" }, never),
        ),
      );
      const got = (await drain(await store.read(ref(key("shared")), {}, never))).toString("latin1");
      const runs = got.match(/(.)\1*/g) ?? [];
      expect(runs.map((r) => r.length).sort()).toEqual(parts.map((p) => p.length).sort());
    });
  });

  describe("metadata", () => {
    it("encodes keys Azure cannot hold as C# identifiers, reversibly", async () => {
      const metadata = { "run-id": "1", a_b: "2", "9lives": "3", stowd_type_url: "type.googleapis.com/x", plain: "4" };
      await store.write(ref(key("md")), chunks(Buffer.from("x")), writeOptions({ metadata }), never);
      const raw = await container.getBlobClient(`${prefix}/${key("md")}`).getProperties();
      // stowd_crc32c is stowd's own (the content's CRC32C, kit/crc32c.ts): recorded, but not reported as metadata.
      expect(Object.keys(raw.metadata ?? {}).sort()).toEqual([
        "_39lives",
        "a_5fb",
        "plain",
        "run_2did",
        "stowd_5fcrc32c",
        "stowd_5ftype_5furl",
      ]);
      const bigEndian = Buffer.from(crc32c(Buffer.from("x")).toString(16).padStart(8, "0"), "hex");
      expect(raw.metadata?.["stowd_5fcrc32c"]).toBe(bigEndian.toString("base64"));
      for (const name of Object.keys(raw.metadata ?? {})) expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      expect((await store.head(ref(key("md")), never))?.metadata).toEqual(metadata);
      const listed = await store.list(ref(key("")), { pageSize: 10, pageToken: "", delimiter: "" }, never);
      expect(listed.objects[0]?.metadata).toEqual(metadata);
    });

    it("maps keys both ways for every character a stowd key may hold", () => {
      const keys = ["a", "z9", "0", "9-_", "a--b", "a__b", "x_2d", "stowd_", "k".repeat(128)];
      for (const k of keys) {
        const encoded = encodeMetadataKey(k);
        expect(encoded).toMatch(/^[a-z_][a-z0-9_]*$/);
        expect(decodeMetadataKey(encoded)).toBe(k);
      }
      expect(new Set(keys.map(encodeMetadataKey)).size).toBe(keys.length);
      // Names written by other tools come back as they are, lower-cased.
      expect(decodeMetadataKey("flyteContentMD5")).toBe("flytecontentmd5");
      expect(decodeMetadataKey("my_key")).toBe("my_key");
    });

    it("reads the content MD5 of a Flyte-written blob from flyteContentMD5, and Azure's own Content-MD5 first", async () => {
      const md5 = createHash("md5").update("flyte").digest();
      const client = container.getBlockBlobClient(`${prefix}/${key("flyte-md5")}`);
      // Put Block List records no Content-MD5 unless asked, like Flyte's uploads of large files.
      await client.stageBlock(Buffer.alloc(48, 1).toString("base64"), "flyte", 5);
      await client.commitBlockList([Buffer.alloc(48, 1).toString("base64")], { metadata: { flyteContentMD5: md5.toString("base64") } });
      const head = await store.head(ref(key("flyte-md5")), never);
      expect(Buffer.from(head?.contentMd5 ?? []).equals(md5)).toBe(true);
      expect(head?.metadata).toEqual({ flytecontentmd5: md5.toString("base64") });
      const listed = await store.list(ref(key("flyte-md5")), { pageSize: 10, pageToken: "", delimiter: "" }, never);
      expect(listed.objects[0]?.metadata).toEqual({ flytecontentmd5: md5.toString("base64") });
    });
  });

  describe("listing", () => {
    it("serves UTF-8 order although Azure lists in UTF-16 order, on every page size, with and without a delimiter", async () => {
      // UTF-16 puts the surrogate pairs (😀, 𝄞) before U+E000..U+FFFF (Ａ, ｚ); UTF-8 the other way round.
      const names = ["a", "a😀", "a😀/x", "aＡ", "aｚ", "a𝄞b", "b", "😀", "Ａ", "Ａ😀", "ＡＡ", "z"];
      for (const name of names) await store.write(ref(key(`l/${name}`)), chunks(Buffer.from(name)), writeOptions(), never);
      const expected = [...names].sort(compareKeys);
      for (const pageSize of [1, 2, 3, 5, 1000]) {
        const seen: string[] = [];
        let pageToken = "";
        do {
          const page = await store.list(ref(key("l/")), { pageSize, pageToken, delimiter: "" }, never);
          expect(page.objects.length).toBeLessThanOrEqual(pageSize);
          seen.push(...page.objects.map((o) => o.key.slice(`${prefix}/${key("l/")}`.length)));
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        expect(seen, `page size ${pageSize}`).toEqual(expected);
      }
      const rolled: string[] = [];
      let pageToken = "";
      do {
        const page = await store.list(ref(key("l/")), { pageSize: 1, pageToken, delimiter: "/" }, never);
        rolled.push(...page.objects.map((o) => o.key), ...page.commonPrefixes);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      const base = `${prefix}/${key("l/")}`;
      const expectedRolled = [...new Set(names.map((n) => (n.includes("/") ? n.slice(0, n.indexOf("/") + 1) : n)))].sort(compareKeys);
      expect(rolled.map((n) => n.slice(base.length))).toEqual(expectedRolled);
    });
  });

  describe("copy", () => {
    it("copies with a polled asynchronous copy above the synchronous limit, keeping metadata and content type", async () => {
      const { blobUrl, account, key: accountKey } = server();
      const asyncCopies = createAzureStore({ account, key: accountKey, endpoint: blobUrl, syncCopyMaxBytes: 0, copyPollIntervalMs: 20 });
      const data = randomBytes(300_000);
      await store.write(ref(key("src")), chunks(data), writeOptions({ contentType: "image/png", metadata: { "a-b": "c" } }), never);
      const copied = await asyncCopies.copy(ref(key("src")), ref(key("dst")), { preconditions: { ifNotExists: true } }, never);
      expect(copied).toMatchObject({ size: data.length, contentType: "image/png", metadata: { "a-b": "c" } });
      const got = await store.read(ref(key("dst")), {}, never);
      expect(got.meta.etag).toBe(copied.etag);
      expect((await drain(got)).equals(data)).toBe(true);
      expect(
        (await stowdRejection(asyncCopies.copy(ref(key("src")), ref(key("dst")), { preconditions: { ifNotExists: true } }, never))).reason,
      ).toBe("ALREADY_EXISTS");
    });
  });

  describe("signed URLs", () => {
    it("round-trips through plain fetch: PUT with the required headers, then GET", async () => {
      const data = Buffer.from("uploaded through a SAS URL");
      const md5 = createHash("md5").update(data).digest();
      const put = await store.signUrl(
        ref(key("sas")),
        { method: "PUT", expiresInSeconds: 300, contentType: "text/plain", contentMd5: md5 },
        never,
      );
      expect(put.requiredHeaders).toEqual({
        "x-ms-blob-type": "BlockBlob",
        "Content-Type": "text/plain",
        "Content-MD5": md5.toString("base64"),
      });
      const putResponse = await fetch(put.url, { method: "PUT", headers: put.requiredHeaders, body: data });
      expect(putResponse.status).toBe(201);
      // A wrong body is refused through the required Content-MD5.
      const corrupt = await fetch(put.url, { method: "PUT", headers: put.requiredHeaders, body: Buffer.from("corrupted") });
      expect(corrupt.status).toBe(400);
      // The PUT URL cannot read.
      expect((await fetch(put.url)).status).toBe(403);
      const get = await store.signUrl(ref(key("sas")), { method: "GET", expiresInSeconds: 300, contentType: "" }, never);
      const getResponse = await fetch(get.url);
      expect(getResponse.status).toBe(200);
      expect(Buffer.from(await getResponse.arrayBuffer()).equals(data)).toBe(true);
      const head = await store.head(ref(key("sas")), never);
      expect(head).toMatchObject({ contentType: "text/plain", size: data.length });
      expect(Buffer.from(head?.contentMd5 ?? []).equals(md5)).toBe(true);
    });

    it("refuses to sign without an account key", async () => {
      const { blobUrl, account } = server();
      const anonymous = createAzureStore({ account, endpoint: blobUrl });
      expect(anonymous.capabilities.signedUrls).toBe(false);
      expect(
        (await stowdRejection(anonymous.signUrl(ref(key("x")), { method: "GET", expiresInSeconds: 60, contentType: "" }, never))).reason,
      ).toBe("UNSUPPORTED");
    });
  });

  describe("references", () => {
    it("accepts abfs://container/key and refuses another account's references", async () => {
      const { container: name, account } = server();
      const plain: Ref = { scheme: "abfss", container: name, authority: name, key: `${prefix}/${key("plain")}` };
      await store.write(plain, chunks(Buffer.from("x")), writeOptions(), never);
      expect((await store.head(ref(key("plain")), never))?.size).toBe(1);
      const foreign: Ref = { ...plain, authority: `${name}@someotheraccount.dfs.core.windows.net` };
      const err = await stowdRejection(store.head(foreign, never));
      expect(err.reason).toBe("INVALID_REFERENCE");
      expect(err.message).toContain("someotheraccount");
      expect(err.message).not.toContain(account); // the daemon's own account is not told to clients
    });

    it("refuses keys Azure would store under another name", async () => {
      for (const bad of ["back\\slash", "dir./x", "ends.", "x".repeat(1025)]) {
        expect((await stowdRejection(store.write(ref(bad), chunks(Buffer.from("x")), writeOptions(), never))).reason, bad).toBe(
          "INVALID_REFERENCE",
        );
      }
    });
  });

  describe("failures", () => {
    it("names the missing container, and never creates it", async () => {
      const { account } = server();
      const missing: Ref = {
        scheme: "abfs",
        container: "no-such-container",
        authority: `no-such-container@${account}.dfs.core.windows.net`,
        key: "k",
      };
      for (const call of [
        () => store.head(missing, never),
        () => store.write(missing, chunks(Buffer.from("x")), writeOptions(), never),
        () => store.list({ ...missing, key: "" }, { pageSize: 10, pageToken: "", delimiter: "" }, never),
      ]) {
        const err = await stowdRejection(call());
        expect(err.reason).toBe("NOT_FOUND");
        expect(err.message).toContain('container "no-such-container" does not exist');
      }
      expect(await server().service.getContainerClient("no-such-container").exists()).toBe(false);
    });

    it("answers UNAVAILABLE when nothing listens at the endpoint, without naming it to the client", async () => {
      const port = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, "127.0.0.1", () => {
          const address = probe.address();
          probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
        });
      });
      const endpoint = `http://127.0.0.1:${port}/${server().account}`;
      const down = createAzureStore({
        account: server().account,
        key: server().key,
        endpoint,
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 },
      });
      const started = Date.now();
      const err = await stowdRejection(down.head(ref(key("x")), never));
      expect(err.reason).toBe("BACKEND_UNAVAILABLE");
      expect(err.message).not.toContain(`127.0.0.1:${port}`); // the endpoint goes to the daemon log, not to clients
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it("fails a read whose body stalls midway, after the attempt timeout", async () => {
      // A TCP proxy in front of azurite that forwards only the first 64 KiB of each answer, then goes silent.
      const upstreamPort = Number(new URL(server().blobUrl).port);
      const sockets = new Set<Socket>();
      const proxy = createServer((client) => {
        const upstream = connect(upstreamPort, "127.0.0.1");
        sockets.add(client).add(upstream);
        client.pipe(upstream);
        let forwarded = 0;
        upstream.on("data", (data: Buffer) => {
          const part = data.subarray(0, Math.max(0, 64 * 1024 - forwarded));
          forwarded += part.length;
          if (part.length > 0) client.write(part);
        });
        client.on("error", () => {});
        upstream.on("error", () => {});
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      try {
        const address = proxy.address();
        const port = typeof address === "object" && address !== null ? address.port : 0;
        const data = randomBytes(MiB);
        await store.write(ref(key("stall")), chunks(data), writeOptions(), never);
        const stalling = createAzureStore({
          account: server().account,
          key: server().key,
          endpoint: `http://127.0.0.1:${port}/${server().account}`,
          retry: { attempts: 1, attemptTimeoutMs: 300, totalTimeoutMs: 2_000 },
        });
        const opened = await stalling.read(ref(key("stall")), {}, never);
        expect(opened.length).toBe(MiB);
        const started = Date.now();
        const err = await stowdRejection(drain(opened));
        expect(err.reason).toBe("DEADLINE_EXCEEDED");
        expect(Date.now() - started).toBeLessThan(2_000);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => proxy.close(resolve));
      }
    });

    it("fails within its deadline against a tarpit that accepts connections and never answers", async () => {
      const sockets = new Set<Socket>();
      const tarpit = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => tarpit.listen(0, "127.0.0.1", resolve));
      try {
        const address = tarpit.address();
        const port = typeof address === "object" && address !== null ? address.port : 0;
        const slow = createAzureStore({
          account: server().account,
          key: server().key,
          endpoint: `http://127.0.0.1:${port}/${server().account}`,
          retry: { attempts: 3, attemptTimeoutMs: 300, totalTimeoutMs: 1_000, baseDelayMs: 10, maxDelayMs: 20 },
        });
        for (const call of [
          () => slow.head(ref(key("x")), never),
          () => slow.write(ref(key("x")), chunks(Buffer.from("x")), writeOptions(), never),
        ]) {
          const started = Date.now();
          const err = await stowdRejection(call());
          expect(err.reason).toBe("DEADLINE_EXCEEDED");
          expect(Date.now() - started).toBeLessThan(2_500);
        }
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => tarpit.close(resolve));
      }
    });
  });
});

describe("Flyte's azure stow.config", () => {
  it("maps account, key, domain_suffix and upload_concurrency", () => {
    expect(
      azureOptionsFromStowConfig({ account: "myacct", key: "c2VjcmV0", domain_suffix: "core.chinacloudapi.cn", upload_concurrency: "8" }),
    ).toEqual({
      account: "myacct",
      key: "c2VjcmV0",
      domainSuffix: "core.chinacloudapi.cn",
      blockConcurrency: 8,
    });
    expect(azureOptionsFromStowConfig({ account: "myacct", upload_concurrency: 2 })).toEqual({ account: "myacct", blockConcurrency: 2 });
  });

  it("reads the deprecated base_url as the domain suffix, after domain_suffix, like stow", () => {
    expect(azureOptionsFromStowConfig({ account: "myacct", base_url: "core.usgovcloudapi.net" }).domainSuffix).toBe(
      "core.usgovcloudapi.net",
    );
    expect(azureOptionsFromStowConfig({ account: "myacct", base_url: "old.example", domain_suffix: "new.example" }).domainSuffix).toBe(
      "new.example",
    );
    expect(azureOptionsFromStowConfig({ account: "myacct", domain_suffix: "", key: "" })).toEqual({ account: "myacct" });
  });

  it("builds https://<account>.blob.<domain_suffix> like stow (seen in a signed URL)", async () => {
    const store = createAzureStore(
      azureOptionsFromStowConfig({ account: "myacct", key: "c2VjcmV0", domain_suffix: "core.chinacloudapi.cn" }),
    );
    const signed = await store.signUrl(
      { scheme: "abfs", container: "data", authority: "data@myacct.dfs.core.chinacloudapi.cn", key: "a/b" },
      { method: "GET", expiresInSeconds: 60, contentType: "" },
      never,
    );
    expect(new URL(signed.url).origin + new URL(signed.url).pathname).toBe("https://myacct.blob.core.chinacloudapi.cn/data/a/b");
    expect(new URL(signed.url).searchParams.get("sp")).toBe("r");
  });

  it("accepts stowd's endpoint key for emulators", () => {
    expect(azureOptionsFromStowConfig({ account: "devstoreaccount1", endpoint: "http://127.0.0.1:10000/devstoreaccount1" }).endpoint).toBe(
      "http://127.0.0.1:10000/devstoreaccount1",
    );
  });

  it.each([
    [{ key: "k" }, "storage.stow.config.account"],
    [{ account: "Bad_Name" }, "storage.stow.config.account"],
    [{ account: "myacct", upload_concurrency: "four" }, "storage.stow.config.upload_concurrency"],
    [{ account: "myacct", upload_concurrency: "0" }, "storage.stow.config.upload_concurrency"],
    [{ account: "myacct", access_key_id: "x" }, "storage.stow.config.access_key_id"],
    [{ account: "myacct", endpoint: "not a url" }, "storage.stow.config.endpoint"],
    [{ account: "myacct", domain_suffix: "https://x/" }, "storage.stow.config.domain_suffix"],
  ])("refuses %j, naming %s", (config, field) => {
    let caught: unknown;
    try {
      azureOptionsFromStowConfig(config);
    } catch (err) {
      caught = err;
    }
    expect(isStowdError(caught, "INVALID_ARGUMENT")).toBe(true);
    if (isStowdError(caught)) {
      expect(caught.facts.field).toBe(field);
      expect(caught.message).toContain(field);
    }
  });
});
