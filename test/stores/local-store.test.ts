// The local store against the shared conformance suite, plus its own rules:
// paths never leave the root, nothing partial or temporary is left behind,
// the file/directory conflict is explained, and a reopened root keeps its objects.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Ref } from "../../server/references/reference.js";
import { createLayout, sidecarPath } from "../../server/stores/local/paths.js";
import { createLocalStore } from "../../server/stores/local/index.js";
import type { RawStore, WriteOptions } from "../../server/stores/raw-store.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { expectReason } from "../helpers/rejections.js";
import { never } from "../helpers/store-calls.js";

const scratch: string[] = [];

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "stowd-local-"));
  scratch.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeRawStoreConformance("local", {
  create: async () => ({ store: await createLocalStore({ root: await scratchDir() }), scheme: "file", container: "" }),
  awkwardKeys: "accept-or-reject",
});

async function* bytes(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield Buffer.from(chunk);
}

async function* failing(): AsyncGenerator<Uint8Array> {
  yield Buffer.from("partial");
  throw new Error("client went away");
}

const options = (extra: Partial<WriteOptions> = {}): WriteOptions => ({
  contentType: "text/plain",
  metadata: {},
  preconditions: {},
  ...extra,
});

/** Every file and directory under `dir`, relative, excluding stowd's internal directory. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((e) => !e.startsWith(".stowd")).sort();
}

describe("local store", () => {
  let outer: string;
  let root: string;
  let outside: string;
  let store: RawStore;
  const ref = (key: string, container = ""): Ref => ({ scheme: "file", container, authority: container, key });
  const write = (key: string, content: string, container = "") => store.write(ref(key, container), bytes(content), options(), never);

  beforeEach(async () => {
    outer = await scratchDir();
    root = path.join(outer, "root");
    outside = path.join(outer, "outside");
    await mkdir(outside);
    await writeFile(path.join(outside, "secret"), "secret");
    store = await createLocalStore({ root });
  });

  describe("path safety", () => {
    it.each([".", "..", ".stowd", "a/b"])("refuses container %j", async (container) => {
      await expectReason(store.write(ref("k", container), bytes("x"), options(), never), "INVALID_REFERENCE");
      await expectReason(store.head(ref("k", container), never), "INVALID_REFERENCE");
      await expectReason(store.read(ref("k", container), {}, never), "INVALID_REFERENCE");
      await expectReason(store.list(ref("", container), { pageSize: 10, pageToken: "", delimiter: "" }, never), "INVALID_REFERENCE");
    });

    it.each([
      ["a parent segment", "../outside/secret"],
      ["a nested parent segment", "a/../../outside/secret"],
      ["an absolute path", "/etc/passwd"],
      ["an empty segment", "a//b"],
      ["a trailing slash", "a/"],
      ["a dot segment", "a/./b"],
      ["the internal directory", ".stowd/meta/x"],
      ["the internal directory itself", ".stowd"],
      ["a segment over 255 bytes", `a/${"é".repeat(128)}`],
      ["an empty key", ""],
      ["a NUL character", "a\0b"],
    ])("refuses a key with %s, creating nothing", async (_label, key) => {
      const { message } = await expectReason(store.write(ref(key), bytes("x"), options(), never), "INVALID_REFERENCE");
      expect(message).toMatch(/local store/);
      await expectReason(store.read(ref(key), {}, never), "INVALID_REFERENCE");
      expect(await readdir(outer)).toEqual(["outside", "root"]);
      expect(await readdir(outside)).toEqual(["secret"]);
      expect(await tree(root)).toEqual([]);
    });

    it("allows .stowd as a key segment outside the root container's top level", async () => {
      await write("x/.stowd", "fine");
      await write(".stowd", "fine", "bucket");
      expect(await readFile(path.join(root, "x", ".stowd"), "utf8")).toBe("fine");
      expect(await readFile(path.join(root, "bucket", ".stowd"), "utf8")).toBe("fine");
    });

    it("never follows a directory symlink that points outside the root", async () => {
      await symlink(outside, path.join(root, "link"));
      await expectReason(write("link/new", "x"), "PERMISSION_DENIED");
      await expectReason(write("link/sub/new", "x"), "PERMISSION_DENIED");
      await expectReason(store.read(ref("link/secret"), {}, never), "PERMISSION_DENIED");
      await expectReason(store.head(ref("link/secret"), never), "PERMISSION_DENIED");
      await expectReason(store.copy(ref("link/secret"), ref("stolen"), { preconditions: {} }, never), "PERMISSION_DENIED");
      const listed = await store.list(ref(""), { pageSize: 100, pageToken: "", delimiter: "" }, never);
      expect(listed.objects).toEqual([]);
      expect(await store.deletePrefix(ref("link"), never)).toBe(0);
      expect(await readdir(outside)).toEqual(["secret"]);
      expect(await readFile(path.join(outside, "secret"), "utf8")).toBe("secret");
      expect(existsSync(path.join(root, "stolen"))).toBe(false);
    });

    it("never follows a file symlink, for reads or writes", async () => {
      await symlink(path.join(outside, "secret"), path.join(root, "file-link"));
      await expectReason(store.read(ref("file-link"), {}, never), "PERMISSION_DENIED");
      await expectReason(write("file-link", "overwritten"), "PERMISSION_DENIED");
      await expectReason(store.delete(ref("file-link"), {}, never), "PERMISSION_DENIED");
      expect(await readFile(path.join(outside, "secret"), "utf8")).toBe("secret");
    });

    it("refuses a container directory that is a symlink", async () => {
      await symlink(outside, path.join(root, "bucket"));
      await expectReason(write("new", "x", "bucket"), "PERMISSION_DENIED");
      await expectReason(store.read(ref("secret", "bucket"), {}, never), "PERMISSION_DENIED");
      await expectReason(store.list(ref("", "bucket"), { pageSize: 10, pageToken: "", delimiter: "" }, never), "PERMISSION_DENIED");
      expect(await readdir(outside)).toEqual(["secret"]);
    });
  });

  describe("layout and atomicity", () => {
    it('stores data at <root>/<container>/<key>, container "" being the root', async () => {
      await write("a/b/c.txt", "in root");
      await write("k", "in bucket", "bucket");
      expect(await readFile(path.join(root, "a", "b", "c.txt"), "utf8")).toBe("in root");
      expect(await readFile(path.join(root, "bucket", "k"), "utf8")).toBe("in bucket");
    });

    it("leaves the temp directory empty after successful, failed, cancelled and refused writes", async () => {
      await write("ok", "fine");
      await expect(store.write(ref("failed"), failing(), options(), never)).rejects.toBeDefined();
      const controller = new AbortController();
      controller.abort();
      await expect(store.write(ref("cancelled"), bytes("x"), options(), controller.signal)).rejects.toBeDefined();
      await expectReason(store.write(ref("ok"), bytes("x"), options({ preconditions: { ifNotExists: true } }), never), "ALREADY_EXISTS");
      await store.append(ref("ok"), bytes(" appended"), { createIfMissing: false, contentType: "" }, never);
      await expect(store.append(ref("ok"), failing(), { createIfMissing: false, contentType: "" }, never)).rejects.toBeDefined();
      await store.copy(ref("ok"), ref("copied"), { preconditions: {} }, never);
      expect(await readdir(path.join(root, ".stowd", "tmp"))).toEqual([]);
      expect(await tree(root)).toEqual(["copied", "ok"]);
    });

    it("a read opened before two overwrites still returns its version, with its metadata", async () => {
      const first = await store.write(ref("v"), bytes("version one"), options({ metadata: { v: "1" } }), never);
      const opened = await store.read(ref("v"), {}, never);
      await write("v", "version two!");
      await write("v", "version three");
      const chunks: Buffer[] = [];
      for await (const chunk of opened.body) chunks.push(Buffer.from(chunk));
      expect(Buffer.concat(chunks).toString()).toBe("version one");
      expect(opened.meta).toMatchObject({ etag: first.etag, metadata: { v: "1" } });
      expect((await store.head(ref("v"), never))?.size).toBe("version three".length);
    });

    it("changes the etag even when identical bytes are rewritten", async () => {
      const first = await write("same", "identical");
      const second = await write("same", "identical");
      expect(second.etag).not.toBe(first.etag);
    });

    it("prunes directories emptied by deletes, up to the container", async () => {
      await write("a/b/c/d", "x");
      await write("a/keep", "x");
      expect(await store.delete(ref("a/b/c/d"), {}, never)).toBe(true);
      expect(await tree(root)).toEqual(["a", path.join("a", "keep")]);
      await write("k", "x", "bucket");
      expect(await store.deletePrefix(ref("", "bucket"), never)).toBe(1);
      expect(existsSync(path.join(root, "bucket"))).toBe(true);
    });
  });

  describe("failed writes leave no directories behind", () => {
    /** A key under `first` whose full path is `total` bytes: segments of 200 bytes, the last one shorter. */
    const keyOfPathLength = (first: string, base: string, total: number): string => {
      const segments = [first];
      let length = base.length + 1 + first.length;
      while (length + 201 < total) {
        segments.push("s".repeat(200));
        length += 201;
      }
      segments.push("f".repeat(Math.min(255, total - length - 1)));
      return segments.join("/");
    };

    it.each([
      ["write", "file:///"],
      ["append", "file:///"],
      ["copy", "file:///"],
      ["write", "file://newbucket/"],
    ])("%s to a path longer than the file system allows (%s)", async (op, spelling) => {
      await write("source", "x");
      const key = keyOfPathLength("deep", root, 5000);
      const target = spelling === "file:///" ? ref(key) : ref(key.slice("deep/".length), "newbucket");
      const attempt =
        op === "write"
          ? store.write(target, bytes("x"), options(), never)
          : op === "append"
            ? store.append(target, bytes("x"), { createIfMissing: true, contentType: "" }, never)
            : store.copy(ref("source"), target, { preconditions: {} }, never);
      await expectReason(attempt, "INVALID_REFERENCE");
      expect((await tree(root)).map((entry) => entry.slice(0, 60))).toEqual(["source"]);
      expect(await readdir(path.join(root, ".stowd", "tmp"))).toEqual([]);
    });

    it("a commit that fails after creating directories removes them, the new container included", async () => {
      // Block the metadata directory of newbucket/p/q with a file, so the commit fails after the data directories exist.
      const sidecar = sidecarPath(createLayout(await realpath(root)), "newbucket", "p/q");
      await mkdir(path.dirname(path.dirname(sidecar)), { recursive: true });
      await writeFile(path.dirname(sidecar), "in the way");
      await expectReason(write("p/q", "x", "newbucket"), "INTERNAL");
      expect(await tree(root)).toEqual([]);
      await expectReason(store.write(ref("newbucket/p/q"), bytes("x"), options(), never), "INTERNAL");
      expect(await tree(root)).toEqual([]);
      await expectReason(store.append(ref("p/q", "newbucket"), bytes("x"), { createIfMissing: true, contentType: "" }, never), "INTERNAL");
      expect(await tree(root)).toEqual([]);
      // Directories that existed before are kept.
      await mkdir(path.join(root, "newbucket"));
      await expectReason(write("p/q", "x", "newbucket"), "INTERNAL");
      expect(await tree(root)).toEqual(["newbucket"]);
      expect(await readdir(path.join(root, ".stowd", "tmp"))).toEqual([]);
    });
  });

  describe("objects versus directories", () => {
    it("refuses to store under a key that is an object, explaining the limitation", async () => {
      await write("a", "object");
      const { message } = await expectReason(write("a/b", "x"), "PATH_CONFLICT");
      expect(message).toContain("cannot store file:///a/b: file:///a is an object");
      expect(await readFile(path.join(root, "a"), "utf8")).toBe("object");
    });

    it("refuses to make an object of a key that has objects under it; head calls it missing", async () => {
      await write("c/d", "x");
      const { message } = await expectReason(write("c", "x"), "PATH_CONFLICT");
      expect(message).toMatch(/both an object and a "directory"/);
      expect(await store.head(ref("c"), never)).toBeUndefined();
      await expectReason(store.read(ref("c"), {}, never), "NOT_FOUND");
      expect(await store.delete(ref("c"), {}, never)).toBe(false);
      expect(await readdir(path.join(root, ".stowd", "tmp"))).toEqual([]);
      expect(await tree(root)).toEqual(["c", path.join("c", "d")]);
    });
  });

  describe("persistence", () => {
    it("a store reopened on the same root sees the same objects, etags and metadata", async () => {
      const written = await store.write(ref("p/q"), bytes("kept"), options({ contentType: "text/csv", metadata: { a: "1" } }), never);
      const reopened = await createLocalStore({ root });
      const head = await reopened.head(ref("p/q"), never);
      expect(head).toMatchObject({ key: "p/q", size: 4, etag: written.etag, contentType: "text/csv", metadata: { a: "1" } });
      const listed = await reopened.list(ref("p/"), { pageSize: 10, pageToken: "", delimiter: "" }, never);
      expect(listed.objects.map((o) => o.etag)).toEqual([written.etag]);
    });

    it("serves files placed in the root by hand, with a stable etag", async () => {
      await mkdir(path.join(root, "hand"));
      await writeFile(path.join(root, "hand", "made.bin"), randomBytes(10));
      const first = await store.head(ref("hand/made.bin"), never);
      expect(first).toMatchObject({ size: 10, contentType: "application/octet-stream", metadata: {} });
      expect((await store.head(ref("hand/made.bin"), never))?.etag).toBe(first?.etag);
      const read = await store.read(ref("hand/made.bin"), {}, never);
      await read.close();
      expect(read.meta.etag).toBe(first?.etag);
    });
  });
});

describe("local store factory", () => {
  let root: string;
  beforeAll(async () => {
    root = path.join(await scratchDir(), "nested", "root");
  });

  it("creates the root and its internal directories", async () => {
    await createLocalStore({ root });
    expect((await readdir(path.join(root, ".stowd"))).sort()).toEqual(["meta", "tmp"]);
  });
});
