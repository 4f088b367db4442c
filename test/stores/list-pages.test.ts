// Listing order and the shared pager, tested directly.
import { describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { compareKeys, encodePageToken, pageKeys } from "../../server/stores/kit/list-pages.js";
import type { ListOptions } from "../../server/stores/raw-store.js";

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe("compareKeys", () => {
  it("orders byte-wise in UTF-8, not by UTF-16 code units", () => {
    expect(compareKeys("\uFFFF", "\u{1F600}")).toBe(-1);
    expect("\uFFFF" < "\u{1F600}").toBe(false); // what JS comparison would get wrong
    expect(compareKeys("\u{1F600}", "\uFFFF")).toBe(1);
    expect(compareKeys("a", "a")).toBe(0);
    expect(compareKeys("a", "ab")).toBe(-1);
    expect(compareKeys("a-b", "a/b")).toBe(-1);
    expect(compareKeys("\u{1F600}a", "\u{1F601}")).toBe(-1);
  });

  it("agrees with Buffer.compare on a mixed corpus", () => {
    const corpus = ["", "a", "A", "é", "\uE000", "\uFFFF", "\u{10000}", "\u{1F600}", "\u{1F600}x", "z", "/", "a/", "a0", "ﬀ", "日本"];
    for (const a of corpus) for (const b of corpus) expect(Math.sign(compareKeys(a, b)), `${a} vs ${b}`).toBe(Math.sign(utf8Order(a, b)));
  });
});

describe("pageKeys", () => {
  const keys = ["p/a", "p/b/1", "p/b/2", "p/c", "p/d/e/f", "p/g"];
  const opts = (extra: Partial<ListOptions> = {}): ListOptions => ({ pageSize: 1000, pageToken: "", delimiter: "", ...extra });

  async function all(prefix: string, extra: Partial<ListOptions>) {
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await pageKeys(keys, prefix, opts({ ...extra, pageToken }), "mem://b/p");
      seen.push(...page.keys, ...page.commonPrefixes.map((p) => `[${p}]`));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return seen;
  }

  it("pages through keys and common prefixes in order", async () => {
    expect(await all("p/", { pageSize: 1, delimiter: "/" })).toEqual(["p/a", "[p/b/]", "p/c", "[p/d/]", "p/g"]);
    expect(await all("p/", { pageSize: 2 })).toEqual(keys);
    expect(await all("p/b", { pageSize: 1 })).toEqual(["p/b/1", "p/b/2"]);
  });

  it("skips everything under a common prefix named by the token, and tells the producer", async () => {
    const rolled: string[] = [];
    const page = await pageKeys(
      keys,
      "p/",
      opts({ delimiter: "/", pageToken: encodePageToken({ entry: "p/b/", isCommonPrefix: true }) }),
      "mem://b/p",
      (cp) => rolled.push(cp),
    );
    expect(page.keys).toEqual(["p/c", "p/g"]);
    expect(page.commonPrefixes).toEqual(["p/d/"]);
    expect(rolled).toEqual(["p/d/"]);
  });

  it("stops consuming the source once the page is full and one more entry exists", async () => {
    let pulled = 0;
    function* source() {
      for (const key of keys) {
        pulled++;
        yield key;
      }
    }
    const page = await pageKeys(source(), "p/", opts({ pageSize: 2 }), "mem://b/p");
    expect(page.keys).toEqual(["p/a", "p/b/1"]);
    expect(pulled).toBe(3);
  });

  it.each([
    ["garbage", "%%%"],
    ["not base64url-canonical", "a"],
    ["another prefix", encodePageToken({ entry: "q/a", isCommonPrefix: false })],
    ["a common prefix without a delimiter", encodePageToken({ entry: "p/b/", isCommonPrefix: true })],
    ["an unknown kind", Buffer.from("xp/a").toString("base64url")],
  ])("refuses a token that is %s with INVALID_ARGUMENT on page_token", async (_label, pageToken) => {
    const err: unknown = await pageKeys(keys, "p/", opts({ pageToken }), "mem://b/p").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStowdError(err, "INVALID_ARGUMENT")).toBe(true);
    if (isStowdError(err)) expect(err.facts.field).toBe("page_token");
  });
});
