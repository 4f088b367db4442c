// The one conformance suite every RawStore runs: backends (memory, local,
// s3, gcs, azure, redis) and decorators over a memory store. A store's test
// file calls describeRawStoreConformance with a factory; every test uses its
// own key prefix, so tests are independent and may share one store. Tests
// of optional features branch on the store's declared capabilities: a
// capable store must do it right, any other must answer UNSUPPORTED.
import { createHash, randomBytes } from "node:crypto";
import { crc32c } from "@node-rs/crc32";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStowdError, type ErrorReason } from "../../common/errors.js";
import { expectReason } from "../helpers/rejections.js";
import { chunked, drain, failingAfter, never, sha256, writeOptions } from "../helpers/store-calls.js";
import { formatReference, parseReference, type Ref } from "../../server/references/reference.js";
import { checkBody, type BodyChecks } from "../../server/services/checked-body.js";
import type {
  AppendOptions,
  ListOptions,
  ListPage,
  ObjectMeta,
  RawStore,
  ReadOptions,
  WriteOptions,
} from "../../server/stores/raw-store.js";

/** What `create` returns: a store and the container the suite may use. */
export interface ConformanceTarget {
  store: RawStore;
  /** Scheme of the references the suite builds, e.g. "mem", "file", "s3". */
  scheme: string;
  /** Container (bucket, ...) to use; "" is allowed (e.g. `file:///`). */
  container: string;
  /** Authority printed in references; defaults to `container` (abfs: `container@account...`). */
  authority?: string;
  /** Called once after all tests, after `store.close()`: stop servers, remove directories. */
  cleanup?: () => Promise<void>;
}

export interface RawStoreConformanceOptions {
  /** Called once, before the first test. */
  create: () => Promise<ConformanceTarget>;
  /**
   * The awkward-key corpus (unicode, spaces, `+`, `%`, `\`, `//`, very long,
   * every printable ASCII, emoji): "accept-all" = every key must round-trip;
   * "accept-or-reject" = each key must round-trip or be refused with
   * INVALID_ARGUMENT / INVALID_REFERENCE, storing nothing.
   */
  awkwardKeys: "accept-all" | "accept-or-reject";
  /** Size of the multi-MiB objects; default 5 MiB + 3 (spans S3's 5 MiB multipart part size). */
  largeObjectBytes?: number;
  /**
   * Whether the store keeps the CRC32C of a multi-MiB body (largeObjectBytes)
   * when it was not declared before the body (a trailer's, or none): "kept"
   * (default), or "not-kept" (S3: a multipart upload sends the object's
   * metadata before its first part), in which case it must report no CRC32C
   * for such an object, never a wrong one.
   */
  streamedCrc32c?: "kept" | "not-kept";
}

const MiB = 1 << 20;
const DEFAULT_CONTENT_TYPE = "application/octet-stream";
const INVALID: ErrorReason[] = ["INVALID_ARGUMENT", "INVALID_REFERENCE"];

async function* empty(): AsyncGenerator<Uint8Array> {}

export function describeRawStoreConformance(name: string, options: RawStoreConformanceOptions): void {
  const largeBytes = options.largeObjectBytes ?? 5 * MiB + 3;
  const runId = `conformance-${randomBytes(4).toString("hex")}`;
  let target: ConformanceTarget | undefined;
  let testCount = 0;

  function fixture(): ConformanceTarget {
    if (target === undefined) throw new Error("the conformance target was not created");
    return target;
  }

  /** A test's own key space: `<run>/<n>/`. */
  function scope() {
    const { store, scheme, container } = fixture();
    const authority = fixture().authority ?? container;
    const base = `${runId}/t${String(++testCount).padStart(3, "0")}/`;
    const ref = (key: string): Ref => ({ scheme, container, authority, key: base + key });
    const write = (key: string, data: Uint8Array, extra: Partial<WriteOptions> = {}) =>
      store.write(ref(key), chunked(data), writeOptions(extra), never);
    const read = async (key: string, readOptions: ReadOptions = {}) => {
      const result = await store.read(ref(key), readOptions, never);
      return { ...result, bytes: await drain(result) };
    };
    const list = (prefix: string, listOptions: Partial<ListOptions> = {}): Promise<ListPage> =>
      store.list(ref(prefix), { pageSize: 1000, pageToken: "", delimiter: "", ...listOptions }, never);
    /** Every page of a listing, with the entries of each page (objects and common prefixes, relative to base). */
    const listAll = async (prefix: string, listOptions: Partial<ListOptions> = {}) => {
      const pages: Array<{ objects: string[]; commonPrefixes: string[] }> = [];
      let pageToken = "";
      do {
        const page = await list(prefix, { ...listOptions, pageToken });
        pages.push({
          objects: page.objects.map((o) => o.key.slice(base.length)),
          commonPrefixes: page.commonPrefixes.map((p) => p.slice(base.length)),
        });
        pageToken = page.nextPageToken;
        expect(pages.length, "listing did not end").toBeLessThan(200);
      } while (pageToken !== "");
      return pages;
    };
    const append = (key: string, data: Uint8Array, extra: Partial<AppendOptions> = {}) =>
      store.append(ref(key), chunked(data), { createIfMissing: false, contentType: "", ...extra }, never);
    return { store, base, ref, write, read, list, listAll, append };
  }

  describe(`RawStore conformance: ${name}`, () => {
    beforeAll(async () => {
      target = await options.create();
    });

    afterAll(async () => {
      if (target === undefined) return;
      await target.store.close();
      await target.cleanup?.();
    });

    it("declares its kind and every capability", () => {
      const { store } = fixture();
      expect(store.kind).toMatch(/^[a-z][a-z0-9-]*$/);
      for (const capability of [
        "rangedReads",
        "append",
        "conditionalWrites",
        "signedUrls",
        "delimiterListing",
        "serverSideCopy",
      ] as const) {
        expect(typeof store.capabilities[capability], capability).toBe("boolean");
      }
    });

    it("gives every object one identity: distinct keys differ, and a prefix's identity prefixes its objects'", async () => {
      const s = scope();
      const id = (key: string) => s.store.identity(s.ref(key));
      expect(id("dir/a")).not.toBe(id("dir/b"));
      expect(id("dir/a")).not.toBe(id("dir/a/b"));
      expect(id("dir/a")).toBe(id("dir/a"));
      for (const object of ["dir/a", "dir/a/b", "dirx"]) expect(id(object).startsWith(id("dir")), object).toBe(true);
      expect(id("dir/a").startsWith(id("dir/"))).toBe(true);
      expect(id("dirx").startsWith(id("dir/"))).toBe(false);
    });

    describe("round trips", () => {
      it("stores a 0-byte object (no chunks, or one empty chunk), which exists", async () => {
        const s = scope();
        const meta = await s.store.write(s.ref("empty"), empty(), writeOptions(), never);
        expect(meta.size).toBe(0);
        async function* oneEmptyChunk() {
          yield new Uint8Array(0);
        }
        await s.store.write(s.ref("empty-chunk"), oneEmptyChunk(), writeOptions(), never);
        for (const key of ["empty", "empty-chunk"]) {
          const head = await s.store.head(s.ref(key), never);
          expect(head?.size).toBe(0);
          const got = await s.read(key);
          expect(got.bytes.length).toBe(0);
          expect(got.offset).toBe(0);
          expect(got.length).toBe(0);
        }
      });

      it.each([
        ["1 B", 1],
        ["1 MiB - 1", MiB - 1],
        ["1 MiB", MiB],
        ["1 MiB + 1", MiB + 1],
        ["multi-MiB", 0],
      ])("round-trips %s delivered in odd chunk sizes", async (_label, size) => {
        const s = scope();
        const data = randomBytes(size === 0 ? largeBytes : size);
        const meta = await s.write("object", data);
        expect(meta.size).toBe(data.length);
        expect(meta.key).toBe(s.base + "object");
        const head = await s.store.head(s.ref("object"), never);
        expect(head?.size).toBe(data.length);
        expect(head?.etag).toBe(meta.etag);
        const got = await s.read("object");
        expect(got.length).toBe(data.length);
        expect(got.bytes.length).toBe(data.length);
        expect(sha256(got.bytes)).toBe(sha256(data));
        expect(got.meta.etag).toBe(meta.etag);
      });

      it("reports etags without quotes or W/, and a sensible update time", async () => {
        const s = scope();
        const before = Date.now();
        const meta = await s.write("object", Buffer.from("etag"));
        expect(meta.etag).not.toBe("");
        expect(meta.etag).not.toMatch(/^(W\/)?"/);
        expect(Math.abs(meta.updated.getTime() - before)).toBeLessThan(10 * 60_000);
      });

      it("gives a new etag on every write", async () => {
        const s = scope();
        const etags = new Set<string>();
        for (let i = 0; i < 3; i++) {
          // Same size, different bytes: content-hash etags (S3) must differ too.
          etags.add((await s.write("object", Buffer.from(`version ${i}`))).etag);
          etags.add((await s.store.head(s.ref("object"), never))?.etag ?? "");
        }
        expect(etags.size).toBe(3);
      });

      it("answers head of a missing object with undefined and read with NOT_FOUND", async () => {
        const s = scope();
        expect(await s.store.head(s.ref("missing"), never)).toBeUndefined();
        await expectReason(s.store.read(s.ref("missing"), {}, never), "NOT_FOUND");
      });

      it("does not treat a prefix of other objects as an object", async () => {
        const s = scope();
        await s.write("dir/child", Buffer.from("x"));
        expect(await s.store.head(s.ref("dir"), never)).toBeUndefined();
        await expectReason(s.store.read(s.ref("dir"), {}, never), "NOT_FOUND");
      });

      it("releases an opened read through close() or break, and close() is idempotent", async () => {
        const s = scope();
        const data = randomBytes(3 * MiB);
        await s.write("object", data);
        const unread = await s.store.read(s.ref("object"), {}, never);
        await unread.close();
        await unread.close();
        const partial = await s.store.read(s.ref("object"), {}, never);
        let first = 0;
        for await (const chunk of partial.body) {
          first = chunk.length;
          break;
        }
        expect(first).toBeGreaterThan(0);
        await partial.close();
        expect(await s.store.delete(s.ref("object"), {}, never)).toBe(true);
      });
    });

    describe("ranges", () => {
      const size = 2 * MiB + 5;
      const data = randomBytes(size);
      const cases: Array<[string, { offset: number; length: number; suffixLength: number }, number, number]> = [
        ["offset to the end", { offset: 10, length: 0, suffixLength: 0 }, 10, size - 10],
        ["offset + length", { offset: 10, length: 20, suffixLength: 0 }, 10, 20],
        ["a range across a 1 MiB boundary", { offset: MiB - 5, length: 10, suffixLength: 0 }, MiB - 5, 10],
        ["a length past the end, cut", { offset: size - 10, length: 100, suffixLength: 0 }, size - 10, 10],
        ["offset 0, length 0 = everything", { offset: 0, length: 0, suffixLength: 0 }, 0, size],
        ["a suffix", { offset: 0, length: 0, suffixLength: 10 }, size - 10, 10],
        ["a suffix longer than the object = everything", { offset: 0, length: 0, suffixLength: size + 100 }, 0, size],
      ];

      it.each(cases)("reads %s", async (_label, range, offset, length) => {
        const s = scope();
        await s.write("object", data);
        if (!s.store.capabilities.rangedReads) {
          await expectReason(s.store.read(s.ref("object"), { range }, never), "UNSUPPORTED");
          return;
        }
        const got = await s.read("object", { range });
        expect(got.offset).toBe(offset);
        expect(got.length).toBe(length);
        expect(got.meta.size).toBe(size);
        expect(sha256(got.bytes)).toBe(sha256(data.subarray(offset, offset + length)));
      });

      it("refuses an offset at or past the end with OUT_OF_RANGE", async () => {
        const s = scope();
        await s.write("object", Buffer.from("0123456789"));
        const expected: ErrorReason = s.store.capabilities.rangedReads ? "OUT_OF_RANGE" : "UNSUPPORTED";
        await expectReason(s.store.read(s.ref("object"), { range: { offset: 10, length: 0, suffixLength: 0 } }, never), expected);
        await expectReason(s.store.read(s.ref("object"), { range: { offset: 11, length: 5, suffixLength: 0 } }, never), expected);
      });

      it("accepts offset 0 and suffixes on an empty object", async () => {
        const s = scope();
        await s.write("empty", new Uint8Array(0));
        if (!s.store.capabilities.rangedReads) {
          await expectReason(s.store.read(s.ref("empty"), { range: { offset: 0, length: 5, suffixLength: 0 } }, never), "UNSUPPORTED");
          return;
        }
        for (const range of [
          { offset: 0, length: 0, suffixLength: 0 },
          { offset: 0, length: 5, suffixLength: 0 },
          { offset: 0, length: 0, suffixLength: 5 },
        ]) {
          const got = await s.read("empty", { range });
          expect(got.length).toBe(0);
          expect(got.bytes.length).toBe(0);
        }
      });
    });

    describe("read preconditions", () => {
      it("reads with a matching if-match etag and refuses a different one", async () => {
        const s = scope();
        const meta = await s.write("object", Buffer.from("content"));
        const got = await s.read("object", { ifMatchEtag: meta.etag });
        expect(got.bytes.toString()).toBe("content");
        await expectReason(s.store.read(s.ref("object"), { ifMatchEtag: `${meta.etag}-other` }, never), "PRECONDITION_FAILED");
      });
    });

    describe("write preconditions", () => {
      /** Runs `body` when the store has conditional writes; otherwise asserts UNSUPPORTED. */
      async function conditional(s: ReturnType<typeof scope>, body: () => Promise<void>): Promise<void> {
        if (s.store.capabilities.conditionalWrites) return body();
        await expectReason(s.write("unsupported", Buffer.from("x"), { preconditions: { ifNotExists: true } }), "UNSUPPORTED");
        expect(await s.store.head(s.ref("unsupported"), never)).toBeUndefined();
      }

      it("if_not_exists creates a missing object and refuses an existing one, which stays intact", async () => {
        const s = scope();
        await conditional(s, async () => {
          await s.write("object", Buffer.from("first"), { preconditions: { ifNotExists: true } });
          const before = await s.store.head(s.ref("object"), never);
          await expectReason(s.write("object", Buffer.from("second"), { preconditions: { ifNotExists: true } }), "ALREADY_EXISTS");
          const got = await s.read("object");
          expect(got.bytes.toString()).toBe("first");
          expect(got.meta.etag).toBe(before?.etag);
        });
      });

      it("if_exists replaces an existing object and refuses a missing one, storing nothing", async () => {
        const s = scope();
        await conditional(s, async () => {
          await expectReason(s.write("missing", Buffer.from("x"), { preconditions: { ifExists: true } }), "NOT_FOUND");
          expect(await s.store.head(s.ref("missing"), never)).toBeUndefined();
          await s.write("object", Buffer.from("first"));
          await s.write("object", Buffer.from("second"), { preconditions: { ifExists: true } });
          expect((await s.read("object")).bytes.toString()).toBe("second");
        });
      });

      it("if_match_etag replaces the matching version only", async () => {
        const s = scope();
        await conditional(s, async () => {
          const first = await s.write("object", Buffer.from("first"));
          const second = await s.write("object", Buffer.from("second"), { preconditions: { ifMatchEtag: first.etag } });
          expect(second.etag).not.toBe(first.etag);
          await expectReason(
            s.write("object", Buffer.from("third"), { preconditions: { ifMatchEtag: first.etag } }),
            "PRECONDITION_FAILED",
          );
          const got = await s.read("object");
          expect(got.bytes.toString()).toBe("second");
          expect(got.meta.etag).toBe(second.etag);
          await expectReason(s.write("missing", Buffer.from("x"), { preconditions: { ifMatchEtag: first.etag } }), "NOT_FOUND");
          expect(await s.store.head(s.ref("missing"), never)).toBeUndefined();
        });
      });

      it("checks preconditions on the chunked (multipart) path too", async () => {
        const s = scope();
        await conditional(s, async () => {
          const big = randomBytes(largeBytes);
          const first = await s.write("object", big, { preconditions: { ifNotExists: true } });
          await expectReason(s.write("object", randomBytes(largeBytes), { preconditions: { ifNotExists: true } }), "ALREADY_EXISTS");
          await expectReason(
            s.write("object", randomBytes(largeBytes), { preconditions: { ifMatchEtag: `${first.etag}-other` } }),
            "PRECONDITION_FAILED",
          );
          const replacement = randomBytes(largeBytes);
          await s.write("object", replacement, { preconditions: { ifMatchEtag: first.etag } });
          expect(sha256((await s.read("object")).bytes)).toBe(sha256(replacement));
          await expectReason(s.write("missing", big, { preconditions: { ifExists: true } }), "NOT_FOUND");
          expect(await s.store.head(s.ref("missing"), never)).toBeUndefined();
        });
      });

      it("lets exactly one of two racing if_not_exists writes win", async () => {
        const s = scope();
        await conditional(s, async () => {
          const results = await Promise.allSettled([
            s.write("object", Buffer.from("writer A"), { preconditions: { ifNotExists: true } }),
            s.write("object", Buffer.from("writer B"), { preconditions: { ifNotExists: true } }),
          ]);
          const won = results.filter((r) => r.status === "fulfilled");
          const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
          expect(won).toHaveLength(1);
          expect(lost).toHaveLength(1);
          expect(isStowdError(lost[0]?.reason, "ALREADY_EXISTS")).toBe(true);
          const winner = results[0]?.status === "fulfilled" ? "writer A" : "writer B";
          expect((await s.read("object")).bytes.toString()).toBe(winner);
        });
      });
    });

    describe("cancelled and failed writes leave nothing", () => {
      async function expectUnchanged(s: ReturnType<typeof scope>, key: string, old: { data: Uint8Array; etag: string } | undefined) {
        const head = await s.store.head(s.ref(key), never);
        if (old === undefined) {
          expect(head).toBeUndefined();
          expect((await s.list(key)).objects).toEqual([]);
        } else {
          expect(head?.etag).toBe(old.etag);
          expect(sha256((await s.read(key)).bytes)).toBe(sha256(old.data));
        }
        // The key stays usable (no lock or temp state left behind).
        const data = Buffer.from("after");
        await s.write(key, data);
        expect((await s.read(key)).bytes.toString()).toBe("after");
      }

      async function existing(s: ReturnType<typeof scope>, key: string) {
        const data = randomBytes(1000);
        return { data, etag: (await s.write(key, data)).etag };
      }

      it("a body that throws midway stores nothing", async () => {
        const s = scope();
        await expect(
          s.store.write(s.ref("new"), failingAfter(randomBytes(2 * MiB), MiB + 17), writeOptions(), never),
        ).rejects.toBeDefined();
        await expect(s.store.write(s.ref("new"), failingAfter(randomBytes(100), 50), writeOptions(), never)).rejects.toBeDefined();
        await expectUnchanged(s, "new", undefined);
      });

      it("a body that throws midway keeps the old version intact", async () => {
        const s = scope();
        const old = await existing(s, "object");
        await expect(
          s.store.write(s.ref("object"), failingAfter(randomBytes(2 * MiB), MiB + 17), writeOptions(), never),
        ).rejects.toBeDefined();
        await expectUnchanged(s, "object", old);
      });

      it("a multi-MiB body that throws after several MiB stores nothing", async () => {
        const s = scope();
        await expect(
          s.store.write(s.ref("big"), failingAfter(randomBytes(largeBytes + 2 * MiB), largeBytes + MiB), writeOptions(), never),
        ).rejects.toBeDefined();
        await expectUnchanged(s, "big", undefined);
      });

      it("a signal aborted midway stores nothing, even if the body then completes", async () => {
        const s = scope();
        const old = await existing(s, "object");
        for (const key of ["new", "object"]) {
          const controller = new AbortController();
          const data = randomBytes(2 * MiB);
          async function* body() {
            yield data.slice(0, MiB);
            controller.abort();
            await new Promise((resolve) => setTimeout(resolve, 5));
            yield data.slice(MiB);
          }
          await expect(s.store.write(s.ref(key), body(), writeOptions(), controller.signal)).rejects.toBeDefined();
        }
        await expectUnchanged(s, "new", undefined);
        await expectUnchanged(s, "object", old);
      });

      it("a signal aborted while the body is stalled fails the write promptly", async () => {
        const s = scope();
        const controller = new AbortController();
        async function* stalled() {
          yield randomBytes(1000);
          await new Promise(() => {}); // the client never sends more
        }
        const writing = s.store.write(s.ref("stalled"), stalled(), writeOptions(), controller.signal);
        setTimeout(() => controller.abort(), 20);
        const outcome = await Promise.race([
          writing.then(
            () => "stored",
            () => "failed",
          ),
          new Promise((resolve) => setTimeout(() => resolve("hung"), 5_000)),
        ]);
        expect(outcome).toBe("failed");
        await expectUnchanged(s, "stalled", undefined);
      });

      it("an already aborted signal stores nothing", async () => {
        const s = scope();
        const controller = new AbortController();
        controller.abort();
        await expect(s.store.write(s.ref("new"), chunked(Buffer.from("data")), writeOptions(), controller.signal)).rejects.toBeDefined();
        await expectUnchanged(s, "new", undefined);
      });
    });

    describe("concurrent writes and reads", () => {
      it("a read opened before an overwrite commits returns the complete old bytes", async () => {
        const s = scope();
        const v1 = randomBytes(3 * MiB + 5);
        const v2 = randomBytes(2 * MiB + 9);
        const first = await s.write("object", v1);
        const opened = await s.store.read(s.ref("object"), {}, never);
        const chunks: Buffer[] = [];
        const it = opened.body[Symbol.asyncIterator]();
        const head = await it.next();
        if (!head.done) chunks.push(Buffer.from(head.value));
        await s.write("object", v2);
        for (let next = await it.next(); !next.done; next = await it.next()) chunks.push(Buffer.from(next.value));
        await opened.close();
        expect(opened.meta.etag).toBe(first.etag);
        expect(sha256(Buffer.concat(chunks))).toBe(sha256(v1));
        expect(sha256((await s.read("object")).bytes)).toBe(sha256(v2));
      });

      it("a write in progress is invisible until it completes", async () => {
        const s = scope();
        const old = await s.write("object", Buffer.from("old"));
        let release = (): void => {};
        const gate = new Promise<void>((resolve) => (release = resolve));
        const consumed = { first: false };
        async function* slow() {
          yield Buffer.from("new ");
          consumed.first = true;
          await gate;
          yield Buffer.from("content");
        }
        const writing = s.store.write(s.ref("object"), slow(), writeOptions(), never);
        for (let i = 0; i < 100 && !consumed.first; i++) await new Promise((resolve) => setTimeout(resolve, 5));
        expect((await s.store.head(s.ref("object"), never))?.etag).toBe(old.etag);
        expect((await s.read("object")).bytes.toString()).toBe("old");
        release();
        const written = await writing;
        expect((await s.read("object")).bytes.toString()).toBe("new content");
        expect((await s.store.head(s.ref("object"), never))?.etag).toBe(written.etag);
      });
    });

    describe("list", () => {
      // Byte-wise UTF-8 order: "-" < "/" < "0"; é (C3 A9) < Ａ U+FF21 (EF BC A1) < 😀 (F0 9F 98 80),
      // although JS (UTF-16) comparison puts 😀 before Ａ.
      const ordered = ["a-b", "a/b", "a/c", "a0", "b", "é", "\uFF21", "\u{1F600}"];

      it("lists with page size 1 in byte-wise order, every key once", async () => {
        const s = scope();
        for (const key of [...ordered].reverse()) await s.write(key, Buffer.from(key));
        const pages = await s.listAll("", { pageSize: 1 });
        for (const page of pages) expect(page.objects.length + page.commonPrefixes.length).toBeLessThanOrEqual(1);
        expect(pages.flatMap((p) => p.objects)).toEqual(ordered);
      });

      it("returns metadata equal to head for every listed object", async () => {
        const s = scope();
        await s.write("one", Buffer.from("1"), { contentType: "text/plain", metadata: { color: "red" } });
        await s.write("two", Buffer.from("22"));
        const page = await s.list("");
        expect(page.objects.map((o) => o.key)).toEqual([s.base + "one", s.base + "two"]);
        for (const listed of page.objects) {
          const head = await s.store.head(s.ref(listed.key.slice(s.base.length)), never);
          expect(listed.size).toBe(head?.size);
          expect(listed.etag).toBe(head?.etag);
        }
        expect(page.objects[0]?.contentType).toBe("text/plain");
      });

      it("ends with an empty token exactly when nothing remains", async () => {
        const s = scope();
        for (const key of ["k1", "k2", "k3"]) await s.write(key, Buffer.from(key));
        const full = await s.list("", { pageSize: 3 });
        expect(full.objects).toHaveLength(3);
        expect(full.nextPageToken).toBe("");
        const first = await s.list("", { pageSize: 2 });
        expect(first.nextPageToken).not.toBe("");
        const second = await s.list("", { pageSize: 2, pageToken: first.nextPageToken });
        expect(second.objects.map((o) => o.key)).toEqual([s.base + "k3"]);
        expect(second.nextPageToken).toBe("");
      });

      it("never repeats or reorders when objects are created and deleted between pages", async () => {
        const s = scope();
        for (const key of ["k1", "k2", "k3", "k4", "k5", "k6"]) await s.write(key, Buffer.from(key));
        const first = await s.list("", { pageSize: 2 });
        expect(first.objects.map((o) => o.key.slice(s.base.length))).toEqual(["k1", "k2"]);
        await s.store.delete(s.ref("k2"), {}, never);
        await s.store.delete(s.ref("k3"), {}, never);
        for (const key of ["k0", "k2a", "k7"]) await s.write(key, Buffer.from(key));
        const rest: string[] = [];
        let pageToken = first.nextPageToken;
        while (pageToken !== "") {
          const page = await s.list("", { pageSize: 2, pageToken });
          rest.push(...page.objects.map((o) => o.key.slice(s.base.length)));
          pageToken = page.nextPageToken;
        }
        expect(rest).toEqual(["k2a", "k4", "k5", "k6", "k7"]);
      });

      it("rolls keys up into common prefixes with a delimiter, across pages", async () => {
        const s = scope();
        for (const key of ["d/a", "d/b/1", "d/b/2", "d/c/x/y", "d/e", "d-f"]) await s.write(key, Buffer.from(key));
        if (!s.store.capabilities.delimiterListing) {
          await expectReason(s.list("d/", { delimiter: "/" }), "UNSUPPORTED");
          return;
        }
        const whole = await s.list("d/", { delimiter: "/" });
        expect(whole.objects.map((o) => o.key)).toEqual([s.base + "d/a", s.base + "d/e"]);
        expect(whole.commonPrefixes).toEqual([s.base + "d/b/", s.base + "d/c/"]);
        expect(whole.nextPageToken).toBe("");
        const pages = await s.listAll("d/", { delimiter: "/", pageSize: 1 });
        expect(pages.map((p) => [...p.objects, ...p.commonPrefixes])).toEqual([["d/a"], ["d/b/"], ["d/c/"], ["d/e"]]);
        const byTwo = await s.listAll("d/", { delimiter: "/", pageSize: 2 });
        expect(byTwo).toEqual([
          { objects: ["d/a"], commonPrefixes: ["d/b/"] },
          { objects: ["d/e"], commonPrefixes: ["d/c/"] },
        ]);
        // A prefix without the trailing "/" rolls up at the first delimiter after it.
        const raw = await s.list("d", { delimiter: "/" });
        expect(raw.objects.map((o) => o.key)).toEqual([s.base + "d-f"]);
        expect(raw.commonPrefixes).toEqual([s.base + "d/"]);
      });

      it("matches the prefix as a raw string: run1 lists run10, run1/ does not", async () => {
        const s = scope();
        for (const key of ["run1/x", "run10", "run2"]) await s.write(key, Buffer.from(key));
        expect((await s.list("run1")).objects.map((o) => o.key)).toEqual([s.base + "run1/x", s.base + "run10"]);
        expect((await s.list("run1/")).objects.map((o) => o.key)).toEqual([s.base + "run1/x"]);
      });

      it("answers an empty listing with no objects and no token", async () => {
        const s = scope();
        const page = await s.list("nothing-here/", { delimiter: s.store.capabilities.delimiterListing ? "/" : "" });
        expect(page).toEqual({ objects: [], commonPrefixes: [], nextPageToken: "" });
      });

      it("refuses a malformed page token or one from another listing with INVALID_ARGUMENT", async () => {
        const s = scope();
        for (const key of ["tok/a", "tok/b", "other/a"]) await s.write(key, Buffer.from(key));
        const first = await s.list("tok/", { pageSize: 1 });
        expect(first.nextPageToken).not.toBe("");
        await expectReason(s.list("tok/", { pageToken: "not a page token!" }), "INVALID_ARGUMENT");
        await expectReason(s.list("other/", { pageToken: first.nextPageToken }), "INVALID_ARGUMENT");
      });
    });

    describe("awkward keys", () => {
      const printableAscii = String.fromCharCode(...Array.from({ length: 95 }, (_, i) => 32 + i));
      const corpus: Array<[string, string]> = [
        ["unicode", "unicode/日本語/ファイル-ñ-ü"],
        ["spaces", "spaces in/a name  with spaces "],
        ["plus", "plus+sign+c++"],
        ["percent", "percent%20literal%2F%"],
        ["backslash", "back\\slash\\"],
        ["double slash inside", "double//slash"],
        ["very long", Array.from({ length: 5 }, (_, i) => String(i) + "l".repeat(199)).join("/")],
        ["every printable ASCII", printableAscii],
        ["emoji", "emoji/😀🎉👩‍👩‍👧"],
        ["dots", ".hidden/..a/a..b/..."],
        ["query and fragment characters", "q?x=1&y#frag"],
      ];

      it.each(corpus)("%s: round-trips (write, head, read, list, reference) or is refused cleanly", async (_label, key) => {
        const s = scope();
        const data = Buffer.from(`content of ${key}`);
        let meta: ObjectMeta;
        try {
          meta = await s.write(key, data);
        } catch (err) {
          if (options.awkwardKeys === "accept-all") throw err;
          expect(isStowdError(err), String(err)).toBe(true);
          if (isStowdError(err)) expect(INVALID).toContain(err.reason);
          expect((await s.list("")).objects).toEqual([]);
          return;
        }
        const full = s.base + key;
        expect(meta.key).toBe(full);
        expect((await s.store.head(s.ref(key), never))?.key).toBe(full);
        const got = await s.read(key);
        expect(got.bytes.equals(data)).toBe(true);
        expect(got.meta.key).toBe(full);
        const listed = await s.list("");
        expect(listed.objects.map((o) => o.key)).toEqual([full]);
        // The listed key makes a reference that parses back to the same key.
        const { scheme, authority = fixture().container } = fixture();
        expect(parseReference(formatReference({ scheme, authority }, full)).key).toBe(full);
        expect(await s.store.delete(s.ref(key), {}, never)).toBe(true);
        expect(await s.store.head(s.ref(key), never)).toBeUndefined();
      });
    });

    describe("metadata", () => {
      it("round-trips content type and user metadata through head, read and list", async () => {
        const s = scope();
        const metadata = { color: "blue", "run-id": "r_42" };
        const written = await s.write("object", Buffer.from("{}"), { contentType: "application/json", metadata });
        expect(written.contentType).toBe("application/json");
        expect(written.metadata).toEqual(metadata);
        const head = await s.store.head(s.ref("object"), never);
        expect(head?.contentType).toBe("application/json");
        expect(head?.metadata).toEqual(metadata);
        const got = await s.read("object");
        expect(got.meta.metadata).toEqual(metadata);
        expect((await s.list("")).objects[0]?.metadata).toEqual(metadata);
      });

      it("replaces (does not merge) metadata on overwrite, and defaults an empty content type", async () => {
        const s = scope();
        await s.write("object", Buffer.from("a"), { contentType: "text/plain", metadata: { old: "1" } });
        await s.write("object", Buffer.from("b"), { contentType: "", metadata: { new: "2" } });
        const head = await s.store.head(s.ref("object"), never);
        expect(head?.metadata).toEqual({ new: "2" });
        expect(head?.contentType).toBe(DEFAULT_CONTENT_TYPE);
      });

      it("reports the content MD5 it was given, if it reports one", async () => {
        const s = scope();
        const data = Buffer.from("md5 me");
        const md5 = Uint8Array.from(createHash("md5").update(data).digest());
        await s.write("object", data, { contentMd5: md5 });
        const head = await s.store.head(s.ref("object"), never);
        expect(head).toBeDefined();
        if (head?.contentMd5 !== undefined) expect(Buffer.from(head.contentMd5).equals(Buffer.from(md5))).toBe(true);
      });
    });

    describe("integrity (CRC32C)", () => {
      const streamedKept = (options.streamedCrc32c ?? "kept") === "kept";
      /** The body as the service hands it over: checked, with its CRC32C computed (server/services/checked-body.ts). */
      function checked(data: Uint8Array, reference: string, checks: Partial<BodyChecks> = {}) {
        return checkBody(chunked(data), { reference, maxBytes: 0, signal: never, end: { confirm: async () => {} }, ...checks });
      }
      async function expectCrc32c(s: ReturnType<typeof scope>, key: string, expected: number | undefined) {
        expect((await s.store.head(s.ref(key), never))?.crc32c, "head").toBe(expected);
        expect((await s.read(key)).meta.crc32c, "read").toBe(expected);
        expect((await s.list(key)).objects.find((o) => o.key === s.base + key)?.crc32c, "list").toBe(expected);
      }

      it("records the CRC32C of a write that declared none, and head, read and list report it", async () => {
        const s = scope();
        const small = randomBytes(1000);
        expect((await s.write("small", small)).crc32c).toBe(crc32c(small));
        await expectCrc32c(s, "small", crc32c(small));
        await s.store.write(s.ref("empty"), empty(), writeOptions(), never);
        await expectCrc32c(s, "empty", 0);
        // Through the service's body check, as WriteRaw does it.
        const large = randomBytes(largeBytes);
        const body = checked(large, "large");
        await s.store.write(s.ref("large"), body.body, writeOptions({ crc32c: body.crc32c }), never);
        await expectCrc32c(s, "large", streamedKept ? crc32c(large) : undefined);
      });

      it.each([
        ["header", "small", 1000],
        ["header", "multi-MiB", 0],
        ["trailer", "small", 1000],
        ["trailer", "multi-MiB", 0],
        // A declared size that is a whole number of parts: the last part is complete before the body ends.
        ["header", "4 MiB", 4 * MiB],
        ["trailer", "4 MiB", 4 * MiB],
      ] as const)("fails a wrong %s CRC32C (%s body) with CHECKSUM_MISMATCH, storing nothing", async (where, _label, size) => {
        const s = scope();
        const old = randomBytes(100);
        const before = await s.write("object", old);
        const data = randomBytes(size === 0 ? largeBytes : size);
        const wrong = { value: (crc32c(data) ^ 1) >>> 0, field: `${where}.crc32c` };
        for (const key of ["object", "new"]) {
          const body = checked(data, key, {
            declaredSize: data.length,
            ...(where === "header" ? { crc32c: wrong } : { trailerCrc32c: () => wrong }),
          });
          const err = await expectReason(
            s.store.write(s.ref(key), body.body, writeOptions({ crc32c: body.crc32c, size: data.length }), never),
            "CHECKSUM_MISMATCH",
          );
          expect(err.message).toContain(`${where}.crc32c`);
          expect(err.message).toContain(wrong.value.toString(16).padStart(8, "0"));
        }
        expect(await s.store.head(s.ref("new"), never)).toBeUndefined();
        const got = await s.read("object");
        expect(got.meta.etag).toBe(before.etag);
        expect(sha256(got.bytes)).toBe(sha256(old));
        expect(got.meta.crc32c).toBe(crc32c(old));
      });

      it.each([
        ["header", "small", 1000],
        ["header", "multi-MiB", 0],
        ["trailer", "small", 1000],
        ["trailer", "multi-MiB", 0],
      ] as const)("stores a body whose %s CRC32C is right (%s body)", async (where, label, size) => {
        const s = scope();
        const data = randomBytes(size === 0 ? largeBytes : size);
        const right = { value: crc32c(data), field: `${where}.crc32c` };
        const body = checked(data, "object", where === "header" ? { crc32c: right } : { trailerCrc32c: () => right });
        await s.store.write(s.ref("object"), body.body, writeOptions({ crc32c: body.crc32c }), never);
        expect(sha256((await s.read("object")).bytes)).toBe(sha256(data));
        // Only a multi-MiB body whose CRC32C came after it may go unrecorded, where the store declares so.
        const kept = streamedKept || where === "header" || label === "small";
        await expectCrc32c(s, "object", kept ? right.value : undefined);
      });

      it("extends the CRC32C over appended bytes, and a wrong one appends nothing", async () => {
        const s = scope();
        if (!s.store.capabilities.append) {
          await s.write("log", Buffer.from("hello"));
          await expectReason(s.append("log", Buffer.from(" world")), "UNSUPPORTED");
          await expectCrc32c(s, "log", crc32c(Buffer.from("hello")));
          return;
        }
        const first = await s.write("log", Buffer.from("hello"));
        await s.append("log", Buffer.from(" world"));
        await expectCrc32c(s, "log", crc32c(Buffer.from("hello world")));
        const more = randomBytes(MiB + 5);
        const body = checked(more, "log", { crc32c: { value: crc32c(more), field: "header.crc32c" } });
        await s.store.append(s.ref("log"), body.body, { createIfMissing: false, contentType: "", crc32c: body.crc32c }, never);
        const all = Buffer.concat([Buffer.from("hello world"), more]);
        await expectCrc32c(s, "log", crc32c(all));
        const before = await s.store.head(s.ref("log"), never);
        const bad = checked(Buffer.from("!"), "log", { crc32c: { value: 1, field: "header.crc32c" } });
        await expectReason(
          s.store.append(s.ref("log"), bad.body, { createIfMissing: false, contentType: "", crc32c: bad.crc32c }, never),
          "CHECKSUM_MISMATCH",
        );
        const got = await s.read("log");
        expect(got.meta.etag).toBe(before?.etag);
        expect(sha256(got.bytes)).toBe(sha256(all));
        expect(got.meta.etag).not.toBe(first.etag);
        await s.append("created", Buffer.from("new"), { createIfMissing: true });
        await expectCrc32c(s, "created", crc32c(Buffer.from("new")));
      });

      it("keeps the source's CRC32C on copy", async () => {
        const s = scope();
        const data = randomBytes(3000);
        await s.write("source", data);
        const copied = await s.store.copy(s.ref("source"), s.ref("copy"), { preconditions: {} }, never);
        expect(copied.crc32c).toBe(crc32c(data));
        await expectCrc32c(s, "copy", crc32c(data));
      });
    });

    describe("copy", () => {
      it("copies content, content type and metadata", async () => {
        const s = scope();
        const data = randomBytes(largeBytes);
        const source = await s.write("source", data, { contentType: "image/png", metadata: { a: "b" } });
        const copied = await s.store.copy(s.ref("source"), s.ref("copy/dest"), { preconditions: {} }, never);
        expect(copied.key).toBe(s.base + "copy/dest");
        expect(copied.size).toBe(data.length);
        expect(copied.contentType).toBe("image/png");
        expect(copied.metadata).toEqual({ a: "b" });
        const got = await s.read("copy/dest");
        expect(sha256(got.bytes)).toBe(sha256(data));
        expect(got.meta.etag).toBe(copied.etag);
        // The source is untouched.
        expect((await s.store.head(s.ref("source"), never))?.etag).toBe(source.etag);
      });

      it("applies preconditions to the destination and leaves it intact when they fail", async () => {
        const s = scope();
        await s.write("source", Buffer.from("source"));
        const dest = await s.write("dest", Buffer.from("dest"));
        if (s.store.capabilities.conditionalWrites) {
          await expectReason(
            s.store.copy(s.ref("source"), s.ref("dest"), { preconditions: { ifNotExists: true } }, never),
            "ALREADY_EXISTS",
          );
          await expectReason(
            s.store.copy(s.ref("source"), s.ref("dest"), { preconditions: { ifMatchEtag: `${dest.etag}-other` } }, never),
            "PRECONDITION_FAILED",
          );
          await expectReason(s.store.copy(s.ref("source"), s.ref("missing"), { preconditions: { ifExists: true } }, never), "NOT_FOUND");
          expect(await s.store.head(s.ref("missing"), never)).toBeUndefined();
          expect((await s.read("dest")).bytes.toString()).toBe("dest");
          await s.store.copy(s.ref("source"), s.ref("dest"), { preconditions: { ifMatchEtag: dest.etag } }, never);
          expect((await s.read("dest")).bytes.toString()).toBe("source");
        } else {
          await expectReason(s.store.copy(s.ref("source"), s.ref("dest"), { preconditions: { ifNotExists: true } }, never), "UNSUPPORTED");
          expect((await s.read("dest")).bytes.toString()).toBe("dest");
        }
      });

      it("checks if_source_match_etag and refuses a missing source", async () => {
        const s = scope();
        const source = await s.write("source", Buffer.from("source"));
        await expectReason(
          s.store.copy(s.ref("source"), s.ref("dest"), { preconditions: {}, ifSourceMatchEtag: `${source.etag}-other` }, never),
          "PRECONDITION_FAILED",
        );
        expect(await s.store.head(s.ref("dest"), never)).toBeUndefined();
        await s.store.copy(s.ref("source"), s.ref("dest"), { preconditions: {}, ifSourceMatchEtag: source.etag }, never);
        expect((await s.read("dest")).bytes.toString()).toBe("source");
        await expectReason(s.store.copy(s.ref("missing"), s.ref("dest2"), { preconditions: {} }, never), "NOT_FOUND");
        expect(await s.store.head(s.ref("dest2"), never)).toBeUndefined();
      });
    });

    describe("delete", () => {
      it("deletes an existing object and answers false for a missing one", async () => {
        const s = scope();
        await s.write("object", Buffer.from("x"));
        expect(await s.store.delete(s.ref("object"), {}, never)).toBe(true);
        expect(await s.store.head(s.ref("object"), never)).toBeUndefined();
        await expectReason(s.store.read(s.ref("object"), {}, never), "NOT_FOUND");
        expect(await s.store.delete(s.ref("object"), {}, never)).toBe(false);
        expect(await s.store.delete(s.ref("never-existed"), {}, never)).toBe(false);
      });

      it("deletes only the version named by if_match_etag", async () => {
        const s = scope();
        const meta = await s.write("object", Buffer.from("x"));
        await expectReason(s.store.delete(s.ref("object"), { ifMatchEtag: `${meta.etag}-other` }, never), "PRECONDITION_FAILED");
        expect((await s.store.head(s.ref("object"), never))?.etag).toBe(meta.etag);
        expect(await s.store.delete(s.ref("object"), { ifMatchEtag: meta.etag }, never)).toBe(true);
        expect(await s.store.head(s.ref("object"), never)).toBeUndefined();
      });

      it("deletes a prefix (a raw string match) and returns the count", async () => {
        const s = scope();
        for (const key of ["dp/a", "dp/b/c", "dp2", "other"]) await s.write(key, Buffer.from(key));
        expect(await s.store.deletePrefix(s.ref("dp/"), never)).toBe(2);
        expect((await s.list("")).objects.map((o) => o.key)).toEqual([s.base + "dp2", s.base + "other"]);
        expect(await s.store.deletePrefix(s.ref("dp"), never)).toBe(1);
        expect(await s.store.deletePrefix(s.ref("dp"), never)).toBe(0);
        expect((await s.list("")).objects.map((o) => o.key)).toEqual([s.base + "other"]);
      });
    });

    describe("append", () => {
      /** Runs `body` when the store can append; otherwise asserts UNSUPPORTED and that nothing changed. */
      async function appendable(s: ReturnType<typeof scope>, body: () => Promise<void>): Promise<void> {
        if (s.store.capabilities.append) return body();
        await s.write("existing", Buffer.from("x"));
        await expectReason(s.append("existing", Buffer.from("y")), "UNSUPPORTED");
        await expectReason(s.append("missing", Buffer.from("y"), { createIfMissing: true }), "UNSUPPORTED");
        expect((await s.read("existing")).bytes.toString()).toBe("x");
        expect(await s.store.head(s.ref("missing"), never)).toBeUndefined();
      }

      it("creates a missing object only with create_if_missing", async () => {
        const s = scope();
        await appendable(s, async () => {
          await expectReason(s.append("log", Buffer.from("hello")), "NOT_FOUND");
          expect(await s.store.head(s.ref("log"), never)).toBeUndefined();
          const created = await s.append("log", Buffer.from("hello"), { createIfMissing: true, contentType: "text/plain" });
          expect(created.size).toBe(5);
          expect(created.contentType).toBe("text/plain");
          expect((await s.read("log")).bytes.toString()).toBe("hello");
        });
      });

      it("appends with a matching expected offset and etag, keeping content type and metadata", async () => {
        const s = scope();
        await appendable(s, async () => {
          const first = await s.write("log", Buffer.from("hello"), { contentType: "text/plain", metadata: { kind: "log" } });
          const second = await s.append("log", Buffer.from(" world"), { expectedOffset: 5, ifMatchEtag: first.etag });
          expect(second.size).toBe(11);
          expect(second.etag).not.toBe(first.etag);
          const got = await s.read("log");
          expect(got.bytes.toString()).toBe("hello world");
          expect(got.meta.contentType).toBe("text/plain");
          expect(got.meta.metadata).toEqual({ kind: "log" });
        });
      });

      it("refuses a wrong expected offset or etag with PRECONDITION_FAILED, changing nothing", async () => {
        const s = scope();
        await appendable(s, async () => {
          const first = await s.write("log", Buffer.from("hello"));
          await expectReason(s.append("log", Buffer.from("!"), { expectedOffset: 4 }), "PRECONDITION_FAILED");
          await expectReason(s.append("log", Buffer.from("!"), { ifMatchEtag: `${first.etag}-other` }), "PRECONDITION_FAILED");
          await expectReason(s.append("new", Buffer.from("!"), { createIfMissing: true, expectedOffset: 3 }), "PRECONDITION_FAILED");
          expect(await s.store.head(s.ref("new"), never)).toBeUndefined();
          const got = await s.read("log");
          expect(got.bytes.toString()).toBe("hello");
          expect(got.meta.etag).toBe(first.etag);
          await s.append("new", Buffer.from("!"), { createIfMissing: true, expectedOffset: 0 });
          expect((await s.read("new")).bytes.toString()).toBe("!");
        });
      });

      it("appends multi-MiB bodies to multi-MiB objects, and a failed append changes nothing", async () => {
        const s = scope();
        await appendable(s, async () => {
          const base = randomBytes(2 * MiB + 1);
          const more = randomBytes(MiB + 3);
          const first = await s.write("log", base);
          await expect(
            s.store.append(s.ref("log"), failingAfter(more, MiB), { createIfMissing: false, contentType: "" }, never),
          ).rejects.toBeDefined();
          expect((await s.store.head(s.ref("log"), never))?.etag).toBe(first.etag);
          await s.append("log", more, { expectedOffset: base.length });
          expect(sha256((await s.read("log")).bytes)).toBe(sha256(Buffer.concat([base, more])));
        });
      });

      it("applies concurrent appends atomically, each exactly once", async () => {
        const s = scope();
        await appendable(s, async () => {
          await s.write("log", new Uint8Array(0));
          const parts = Array.from({ length: 6 }, (_, i) => Buffer.alloc(1000 + i, 65 + i));
          await Promise.all(parts.map((part) => s.append("log", part)));
          const got = (await s.read("log")).bytes.toString("latin1");
          expect(got.length).toBe(parts.reduce((n, p) => n + p.length, 0));
          const runs = got.match(/(.)\1*/g) ?? [];
          expect(runs.map((run) => run.length).sort()).toEqual(parts.map((p) => p.length).sort());
          // Each append extended the CRC32C of the version it landed on, whatever the order.
          expect((await s.store.head(s.ref("log"), never))?.crc32c).toBe(crc32c(Buffer.from(got, "latin1")));
        });
      });
    });

    describe("signed URLs", () => {
      it("signs GET and PUT URLs when capable, else answers UNSUPPORTED", async () => {
        const s = scope();
        await s.write("object", Buffer.from("x"));
        for (const method of ["GET", "PUT"] as const) {
          const signing = s.store.signUrl(s.ref("object"), { method, expiresInSeconds: 300, contentType: "" }, never);
          if (!s.store.capabilities.signedUrls) {
            await expectReason(signing, "UNSUPPORTED");
            continue;
          }
          const signed = await signing;
          expect(new URL(signed.url).protocol).toMatch(/^https?:$/);
          expect(signed.expires.getTime()).toBeGreaterThan(Date.now());
          expect(signed.expires.getTime()).toBeLessThanOrEqual(Date.now() + 301_000);
        }
      });

      it("enforces content_length where the daemon signs (the URL carries it), else refuses it naming the field", async () => {
        const s = scope();
        const signing = s.store.signUrl(s.ref("sized"), { method: "PUT", expiresInSeconds: 300, contentType: "", contentLength: 5 }, never);
        if (!s.store.capabilities.signedUrls) {
          await expectReason(signing, "UNSUPPORTED");
          return;
        }
        const signed = await signing.catch((err: unknown) => err);
        if (signed instanceof Error) {
          const err = await expectReason(Promise.reject(signed), "INVALID_ARGUMENT");
          expect(err.facts.field).toBe("content_length");
          return;
        }
        expect(new URL((signed as { url: string }).url).searchParams.get("X-Stowd-Content-Length")).toBe("5");
      });
    });
  });
}
