// The local store's one identity per object: `file:///b/k` (container "",
// key "b/k") and `file://b/k` (container "b", key "k") are the same file on
// disk, so they share one lock, one metadata sidecar and one answer to every
// call. And the conflict between an object at the root and a container of
// the same name is the caller's, answered like every other file/directory
// conflict, naming both references.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { parsePrefixReference, parseReference, type Ref } from "../../server/references/reference.js";
import { createLayout, sidecarPath } from "../../server/stores/local/paths.js";
import { createLocalStore, localIdentity } from "../../server/stores/local/index.js";
import type { ObjectMeta, RawStore, WriteOptions } from "../../server/stores/raw-store.js";
import { expectReason } from "../helpers/rejections.js";
import { never } from "../helpers/store-calls.js";

const scratch: string[] = [];

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function* bytes(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield Buffer.from(chunk);
}

/** A body that fails the test if anyone reads it: the call must be refused before the body is taken. */
async function* untouchable(): AsyncGenerator<Uint8Array> {
  yield* [];
  throw new Error("the body was read, but the call should have been refused before");
}

const options = (extra: Partial<WriteOptions> = {}): WriteOptions => ({
  contentType: "text/plain",
  metadata: {},
  preconditions: {},
  ...extra,
});

async function text(store: RawStore, ref: Ref): Promise<{ content: string; meta: ObjectMeta }> {
  const opened = await store.read(ref, {}, never);
  const chunks: Buffer[] = [];
  for await (const chunk of opened.body) chunks.push(Buffer.from(chunk));
  return { content: Buffer.concat(chunks).toString(), meta: opened.meta };
}

/** Files and directories under the root, without stowd's internal directory. */
async function tree(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).filter((e) => !e.startsWith(".stowd")).sort();
}

let root: string;
let store: RawStore;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "stowd-local-aliases-"));
  scratch.push(root);
  store = await createLocalStore({ root });
});

describe("localIdentity", () => {
  it("is the path under the root, whichever way the reference splits it", () => {
    expect(localIdentity({ container: "", key: "b/k" })).toBe("b/k");
    expect(localIdentity({ container: "b", key: "k" })).toBe("b/k");
    expect(localIdentity({ container: "b", key: "x/y/z" })).toBe(localIdentity({ container: "", key: "b/x/y/z" }));
    expect(localIdentity({ container: "", key: "k" })).toBe("k");
  });

  it("makes a listing prefix's identity a string prefix of every object's under it", () => {
    const objects = ["b/k", "b/x/y", "bb/k", "b0"];
    const prefixes: Array<[string, string]> = [
      ["", ""],
      ["", "b"],
      ["", "b/"],
      ["b", ""],
      ["b", "x"],
      ["b", "x/"],
    ];
    for (const [container, key] of prefixes) {
      const prefixIdentity = localIdentity({ container, key });
      const full = container === "" ? key : `${container}/${key}`;
      for (const object of objects) {
        // An object is under the prefix exactly when its path under the root starts with the prefix's.
        if (object.startsWith(full) && (container === "" || object.startsWith(`${container}/`))) {
          expect(object.startsWith(prefixIdentity), `${object} under ${JSON.stringify([container, key])}`).toBe(true);
        }
      }
    }
    expect(localIdentity({ container: "b", key: "" })).toBe("b/");
    expect("bb/k".startsWith(localIdentity({ container: "b", key: "" }))).toBe(false);
  });

  it("is the store's identity", () => {
    expect(store.identity(parseReference("file:///b/k"))).toBe(store.identity(parseReference("file://b/k")));
  });
});

const pairs: Array<[string, string]> = [
  ["file:///b/k", "file://b/k"],
  ["file:///b/x/y/z.txt", "file://b/x/y/z.txt"],
];
const bothWays = pairs.flatMap(([a, b]): Array<[string, string]> => [
  [a, b],
  [b, a],
]);

describe("one object under two names", () => {
  it.each(bothWays)("an overwrite through %s is what %s reads, with its metadata", async (first, second) => {
    const one = parseReference(first);
    const other = parseReference(second);
    await store.write(one, bytes("old"), options({ contentType: "text/old", metadata: { v: "1" } }), never);
    await store.write(other, bytes("new!"), options({ contentType: "text/new", metadata: { v: "2" } }), never);
    const written = await store.write(other, bytes("newer"), options({ contentType: "text/newer", metadata: { v: "3" } }), never);
    for (const ref of [one, other]) {
      const head = await store.head(ref, never);
      expect(head).toMatchObject({ key: ref.key, size: 5, etag: written.etag, contentType: "text/newer", metadata: { v: "3" } });
      const read = await text(store, ref);
      expect(read.content).toBe("newer");
      expect(read.meta).toMatchObject({ etag: written.etag, contentType: "text/newer", metadata: { v: "3" } });
    }
  });

  it.each(bothWays)("concurrent create-only writes through %s and %s: exactly one wins", async (first, second) => {
    for (let round = 0; round < 20; round++) {
      const one = parseReference(`${first}-${round}`);
      const other = parseReference(`${second}-${round}`);
      const results = await Promise.allSettled([
        store.write(one, bytes("from one"), options({ preconditions: { ifNotExists: true } }), never),
        store.write(other, bytes("from other"), options({ preconditions: { ifNotExists: true } }), never),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won, `round ${round}`).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected");
      expect(isStowdError(lost?.reason, "ALREADY_EXISTS"), String(lost?.reason)).toBe(true);
      const winner = won[0]?.status === "fulfilled" ? won[0].value : undefined;
      expect((await store.head(one, never))?.etag).toBe(winner?.etag);
      expect((await store.head(other, never))?.etag).toBe(winner?.etag);
    }
  });

  it.each(bothWays)("a delete through %s makes %s missing", async (first, second) => {
    const one = parseReference(first);
    const other = parseReference(second);
    await store.write(other, bytes("x"), options(), never);
    expect(await store.delete(one, {}, never)).toBe(true);
    expect(await store.head(other, never)).toBeUndefined();
    await expectReason(store.read(other, {}, never), "NOT_FOUND");
    expect(await store.delete(other, {}, never)).toBe(false);
  });

  it.each(bothWays)("an etag from %s is the etag %s checks (if-match, append)", async (first, second) => {
    const one = parseReference(first);
    const other = parseReference(second);
    const written = await store.write(one, bytes("abc"), options({ contentType: "text/csv", metadata: { m: "1" } }), never);
    const appended = await store.append(
      other,
      bytes("def"),
      { createIfMissing: false, contentType: "", ifMatchEtag: written.etag, expectedOffset: 3 },
      never,
    );
    expect(appended).toMatchObject({ size: 6, contentType: "text/csv", metadata: { m: "1" } });
    expect(await store.head(one, never)).toMatchObject({ etag: appended.etag, size: 6 });
    await expectReason(
      store.write(one, bytes("x"), options({ preconditions: { ifMatchEtag: written.etag } }), never),
      "PRECONDITION_FAILED",
    );
    expect((await text(store, one)).content).toBe("abcdef");
  });

  it("a copy onto one name replaces what the other name reads, metadata included", async () => {
    await store.write(
      parseReference("file:///src/a"),
      bytes("source"),
      options({ contentType: "text/src", metadata: { from: "src" } }),
      never,
    );
    await store.write(parseReference("file:///dst/b"), bytes("old"), options({ contentType: "text/old" }), never);
    const copied = await store.copy(parseReference("file://src/a"), parseReference("file://dst/b"), { preconditions: {} }, never);
    expect(await store.head(parseReference("file:///dst/b"), never)).toMatchObject({
      etag: copied.etag,
      contentType: "text/src",
      metadata: { from: "src" },
    });
  });

  it("a listing through either name returns the metadata head returns", async () => {
    const written = await store.write(
      parseReference("file:///b/dir/k"),
      bytes("x"),
      options({ contentType: "text/a", metadata: { a: "1" } }),
      never,
    );
    const viaRoot = await store.list(parsePrefixReference("file:///b/"), { pageSize: 10, pageToken: "", delimiter: "" }, never);
    const viaContainer = await store.list(parsePrefixReference("file://b/"), { pageSize: 10, pageToken: "", delimiter: "" }, never);
    expect(viaRoot.objects).toMatchObject([{ key: "b/dir/k", etag: written.etag, contentType: "text/a", metadata: { a: "1" } }]);
    expect(viaContainer.objects).toMatchObject([{ key: "dir/k", etag: written.etag, contentType: "text/a", metadata: { a: "1" } }]);
  });

  it("keeps the metadata of an object written as file:///b/k before this change (sidecar at the old place)", async () => {
    const ref = parseReference("file:///b/k");
    const written = await store.write(ref, bytes("kept"), options({ contentType: "text/kept", metadata: { old: "yes" } }), never);
    // Move the sidecar to where stowd kept it for (container "", key "b/k") before identities were canonical.
    const layout = createLayout(root);
    const canonical = sidecarPath(layout, "b", "k");
    const legacy = sidecarPath(layout, "", "b/k");
    expect(canonical).not.toBe(legacy);
    const sidecar = JSON.parse(await readFile(canonical, "utf8")) as { container: string; key: string };
    await mkdir(path.dirname(legacy), { recursive: true });
    await writeFile(legacy, JSON.stringify({ ...sidecar, container: "", key: "b/k" }));
    await rm(canonical);
    for (const name of ["file:///b/k", "file://b/k"]) {
      expect(await store.head(parseReference(name), never)).toMatchObject({
        etag: written.etag,
        contentType: "text/kept",
        metadata: { old: "yes" },
      });
    }
    // The next write moves the metadata to the canonical place and removes the old sidecar.
    const next = await store.write(parseReference("file://b/k"), bytes("next"), options({ contentType: "text/next" }), never);
    await expect(readFile(legacy)).rejects.toThrow();
    expect(await store.head(ref, never)).toMatchObject({ etag: next.etag, contentType: "text/next" });
  });
});

describe("an object at the root versus a container of the same name", () => {
  it("refuses file://newc/x when file:///newc is an object, naming both, FAILED_PRECONDITION (PATH_CONFLICT), not INTERNAL", async () => {
    await store.write(parseReference("file:///newc"), bytes("root object"), options(), never);
    const { message } = await expectReason(store.write(parseReference("file://newc/x"), untouchable(), options(), never), "PATH_CONFLICT");
    expect(message).toContain("file:///newc");
    expect(message).toContain("file://newc/x");
    const { message: appendMessage } = await expectReason(
      store.append(parseReference("file://newc/x"), untouchable(), { createIfMissing: true, contentType: "" }, never),
      "PATH_CONFLICT",
    );
    expect(appendMessage).toContain("file:///newc");
    await expectReason(
      store.copy(parseReference("file:///newc"), parseReference("file://newc/x"), { preconditions: {} }, never),
      "PATH_CONFLICT",
    );
    expect(await store.head(parseReference("file://newc/x"), never)).toBeUndefined();
    expect((await text(store, parseReference("file:///newc"))).content).toBe("root object");
    expect(await tree(root)).toEqual(["newc"]);
    expect(await readdir(path.join(root, ".stowd", "tmp"))).toEqual([]);
  });

  it("names both references when a deeper object blocks a key, in either spelling", async () => {
    await store.write(parseReference("file://b/a"), bytes("object"), options(), never);
    const { message: viaContainer } = await expectReason(
      store.write(parseReference("file://b/a/c/d"), untouchable(), options(), never),
      "PATH_CONFLICT",
    );
    expect(viaContainer).toContain("file://b/a/c/d");
    expect(viaContainer).toContain("file://b/a ");
    const { message: viaRoot } = await expectReason(
      store.write(parseReference("file:///b/a/c"), untouchable(), options(), never),
      "PATH_CONFLICT",
    );
    expect(viaRoot).toContain("file:///b/a/c");
    expect(viaRoot).toContain("file:///b/a ");
  });

  it("refuses file:///newc when a container newc holds objects", async () => {
    await store.write(parseReference("file://newc/x"), bytes("x"), options(), never);
    await expectReason(store.write(parseReference("file:///newc"), bytes("x"), options(), never), "PATH_CONFLICT");
    expect(await store.head(parseReference("file:///newc"), never)).toBeUndefined();
  });
});
