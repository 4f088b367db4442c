// Local List pages resume by binary search into cached sorted directory
// listings: a page does not read the directory again while it is unchanged,
// any change is seen by the next page, and every listing (prefixes, page
// sizes, delimiters, resumes) is exactly the memory store's for the same keys.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as fsPromises from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Ref } from "../../server/references/reference.js";
import { compareKeys } from "../../server/stores/kit/list-pages.js";
import { endOfPrefix, searchNames, sortNames } from "../../server/stores/local/listing.js";
import { createLocalStore } from "../../server/stores/local/index.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import type { ListOptions, RawStore } from "../../server/stores/raw-store.js";
import { seededRandom } from "../helpers/seeded-random.js";
import { never } from "../helpers/store-calls.js";

// Count every directory read the store makes (readdir or opendir), by path.
const directoryReads = new Map<string, number>();
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof fsPromises>();
  const count = (dir: unknown) => directoryReads.set(String(dir), (directoryReads.get(String(dir)) ?? 0) + 1);
  return {
    ...actual,
    readdir: ((dir: unknown, ...rest: unknown[]) => {
      count(dir);
      return (actual.readdir as (...args: unknown[]) => unknown)(dir, ...rest);
    }) as typeof actual.readdir,
    opendir: ((dir: unknown, ...rest: unknown[]) => {
      count(dir);
      return (actual.opendir as (...args: unknown[]) => unknown)(dir, ...rest);
    }) as typeof actual.opendir,
  };
});

const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text);
}

/** Every page of a listing: the entries of each (object keys and common prefixes). */
async function listAll(
  store: RawStore,
  prefix: Ref,
  options: Omit<ListOptions, "pageToken">,
): Promise<Array<{ objects: string[]; commonPrefixes: string[] }>> {
  const pages: Array<{ objects: string[]; commonPrefixes: string[] }> = [];
  let pageToken = "";
  do {
    const page = await store.list(prefix, { ...options, pageToken }, never);
    pages.push({ objects: page.objects.map((o) => o.key), commonPrefixes: page.commonPrefixes });
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return pages;
}

describe("sorting and searching directory names", () => {
  const alphabet = ["a", "b", "z", "-", "/", "0", "é", "\uE000", "\uFFFF", "\uFF21", "\u{1F600}", "\u{10000}", " "];

  it("sorts in byte-wise UTF-8 order across runs, surrogates included, without duplicates", async () => {
    const random = seededRandom(7);
    for (const withSurrogates of [false, true]) {
      const letters = withSurrogates ? alphabet : alphabet.filter((c) => c.length === 1);
      const names = Array.from({ length: 500 }, () =>
        Array.from({ length: 1 + Math.floor(random() * 4) }, () => letters[Math.floor(random() * letters.length)]).join(""),
      );
      const expected = [...new Set(names)].sort(compareKeys);
      for (const runLength of [1, 3, 7, 64, 1000]) expect(await sortNames(names, runLength)).toEqual(expected);
    }
  });

  it("finds where a target or the names under a prefix start and end", () => {
    const names = ["a", "b-", "b/", "b0", "ba", "c/"];
    expect(searchNames(names, "b/", true)).toBe(2);
    expect(searchNames(names, "b/", false)).toBe(3);
    expect(searchNames(names, "", true)).toBe(0);
    expect(searchNames(names, "d", true)).toBe(6);
    expect(endOfPrefix(names, "b", 0)).toBe(5);
    expect(endOfPrefix(names, "b/", 0)).toBe(3);
    expect(endOfPrefix(names, "x", 0)).toBe(6);
    expect(endOfPrefix(names, "", 0)).toBe(6);
  });
});

describe("local listing", () => {
  let root: string;
  let store: RawStore;
  const ref = (key: string): Ref => ({ scheme: "file", container: "", authority: "", key });

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), "stowd-local-listing-"));
    scratch.push(root);
    store = await createLocalStore({ root });
  });

  it("reads an unchanged directory once for all its pages, and every page sees later changes", async () => {
    const dir = path.join(await fsPromises.realpath(root), "flat");
    await mkdir(dir);
    const names = Array.from({ length: 3000 }, (_, i) => `k${String(i).padStart(5, "0")}`);
    for (const name of names) await writeFile(path.join(dir, name), "");
    // A directory changed within the last second is read again on every page (a same-tick change could go unseen).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    directoryReads.clear();
    const pages = await listAll(store, ref("flat/"), { pageSize: 100, delimiter: "" });
    expect(pages).toHaveLength(30);
    expect(pages.flatMap((p) => p.objects)).toEqual(names.map((n) => `flat/${n}`));
    expect(directoryReads.get(dir) ?? 0).toBeLessThanOrEqual(1);

    // Served from the cache, then changed between pages: the next page sees the change.
    const first = await store.list(ref("flat/"), { pageSize: 100, pageToken: "", delimiter: "" }, never);
    await store.write(ref("flat/k00150a"), bytes("new"), { contentType: "", metadata: {}, preconditions: {} }, never);
    await store.delete(ref("flat/k00151"), {}, never);
    const rest: string[] = [];
    let pageToken = first.nextPageToken;
    while (pageToken !== "") {
      const page = await store.list(ref("flat/"), { pageSize: 100, pageToken, delimiter: "" }, never);
      rest.push(...page.objects.map((o) => o.key));
      pageToken = page.nextPageToken;
    }
    const expected = [...names.slice(100, 151), "k00150a", ...names.slice(152)].map((n) => `flat/${n}`).sort(compareKeys);
    expect(rest).toEqual(expected);
  });

  it("lists exactly what the memory store lists for the same keys, page by page", async () => {
    const random = seededRandom(11);
    const memory = createMemoryStore();
    const segments = ["a", "b", "a-b", "a0", "é", "x y", "\u{1F600}", "\uFF21", "d"];
    const keys = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const depth = 1 + Math.floor(random() * 3);
      const parts = Array.from({ length: depth }, () => segments[Math.floor(random() * segments.length)] as string);
      // The local store keeps objects as files: a key cannot also be the "directory" of another.
      const key = parts.join("/");
      const conflicts = [...keys].some((k) => k.startsWith(`${key}/`) || key.startsWith(`${k}/`));
      if (!conflicts) keys.add(key);
    }
    for (const key of keys) {
      await store.write(ref(`t/${key}`), bytes(key), { contentType: "", metadata: {}, preconditions: {} }, never);
      await memory.write(
        { scheme: "mem", container: "c", authority: "c", key: `t/${key}` },
        bytes(key),
        { contentType: "", metadata: {}, preconditions: {} },
        never,
      );
    }
    for (const prefix of ["", "t/", "t/a", "t/a/", "t/a-", "t/é/", "t/\u{1F600}", "t/zz", "t"]) {
      for (const delimiter of ["", "/", "-"]) {
        for (const pageSize of [1, 2, 5, 1000]) {
          const local = await listAll(store, ref(prefix), { pageSize, delimiter });
          const expected = await listAll(memory, { scheme: "mem", container: "c", authority: "c", key: prefix }, { pageSize, delimiter });
          expect(local, `${JSON.stringify(prefix)} delimiter ${JSON.stringify(delimiter)} pageSize ${pageSize}`).toEqual(expected);
        }
      }
    }
  });
});
