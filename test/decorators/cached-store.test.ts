// The cache decorator: the shared conformance suite over cache(memory), then
// Flyte's 1/1024 rule at its boundary, every invalidation path, no stale
// reads, full info on hits, single-flight misses and replica invalidation.
import { describe, expect, it } from "vitest";
import { withCache, type Invalidation, type InvalidationBus } from "../../server/decorators/cached-store.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { bodyOf, counting, never, put, readAll, ref } from "./store-helpers.js";

describeRawStoreConformance("cache(memory)", {
  create: async () => ({
    store: withCache(createMemoryStore(), { maxSizeMbs: 64, ttlSeconds: 0 }),
    scheme: "mem",
    container: "conformance",
  }),
  awkwardKeys: "accept-all",
});

/** 1 MiB cache: objects up to 1024 bytes are cached. */
function setup(options: { ttlSeconds?: number; bus?: InvalidationBus } = {}) {
  const inner = counting(createMemoryStore());
  const cache = withCache(inner, { maxSizeMbs: 1, ttlSeconds: options.ttlSeconds ?? 0, ...(options.bus ? { bus: options.bus } : {}) });
  return { inner, cache };
}

describe("cache", () => {
  it("caches an object of exactly 1/1024 of the cache and not one byte more", async () => {
    const { inner, cache } = setup();
    expect(cache.maxEntryBytes).toBe(1024);
    await put(cache, ref("fits"), Buffer.alloc(1024, 1));
    await put(cache, ref("too-big"), Buffer.alloc(1025, 2));
    for (let i = 0; i < 3; i++) {
      expect((await readAll(cache, ref("fits"))).length).toBe(1024);
      expect((await readAll(cache, ref("too-big"))).length).toBe(1025);
    }
    // fits: one fill; too-big: read through every time.
    expect(inner.calls.read).toBe(1 + 3);
  });

  it("answers a head hit with the same info a miss gives, etag and metadata included", async () => {
    const { cache } = setup();
    const r = ref("info");
    await cache.write(
      r,
      bodyOf(Buffer.from("hello")),
      { contentType: "text/plain", metadata: { team: "a" }, preconditions: {}, size: 5 },
      never,
    );
    const miss = await cache.head(r, never);
    await readAll(cache, r);
    const hit = await cache.head(r, never);
    expect(hit).toEqual(miss);
    expect(hit?.etag).not.toBe("");
    expect(hit?.metadata).toEqual({ team: "a" });
  });

  it("serves ranges and if-match from a cached entry", async () => {
    const { cache } = setup();
    const r = ref("ranges");
    await put(cache, r, "0123456789");
    await readAll(cache, r);
    expect((await readAll(cache, r, { range: { offset: 2, length: 3, suffixLength: 0 } })).toString()).toBe("234");
    expect((await readAll(cache, r, { range: { offset: 0, length: 0, suffixLength: 4 } })).toString()).toBe("6789");
    await expect(readAll(cache, r, { ifMatchEtag: "nope" })).rejects.toMatchObject({ reason: "PRECONDITION_FAILED" });
  });

  it.each([
    ["write", async (c: ReturnType<typeof setup>["cache"]) => put(c, ref("k"), "v2")],
    [
      "append",
      async (c: ReturnType<typeof setup>["cache"]) =>
        void (await c.append(ref("k"), bodyOf(Buffer.from("+")), { createIfMissing: false, contentType: "" }, never)),
    ],
    ["delete", async (c: ReturnType<typeof setup>["cache"]) => void (await c.delete(ref("k"), {}, never))],
    ["deletePrefix", async (c: ReturnType<typeof setup>["cache"]) => void (await c.deletePrefix(ref("k"), never))],
    [
      "copy onto it",
      async (c: ReturnType<typeof setup>["cache"]) => {
        await put(c, ref("other"), "copied");
        await c.copy(ref("other"), ref("k"), { preconditions: {} }, never);
      },
    ],
    ["an overwrite too big to cache", async (c: ReturnType<typeof setup>["cache"]) => put(c, ref("k"), Buffer.alloc(5000, 7))],
  ])("never serves a stale object after %s", async (_name, mutate) => {
    const { inner, cache } = setup();
    await put(cache, ref("k"), "v1");
    expect((await readAll(cache, ref("k"))).toString()).toBe("v1");
    await mutate(cache);
    const truth = await inner.head(ref("k"), never);
    const seen = await cache.head(ref("k"), never);
    expect(seen).toEqual(truth);
    if (truth !== undefined) expect((await readAll(cache, ref("k"))).equals(await readAll(inner, ref("k")))).toBe(true);
    else await expect(readAll(cache, ref("k"))).rejects.toMatchObject({ reason: "NOT_FOUND" });
  });

  it("shares one backend read among concurrent misses on one key", async () => {
    const { inner, cache } = setup();
    await put(inner, ref("hot"), "popular");
    const results = await Promise.all(Array.from({ length: 20 }, () => readAll(cache, ref("hot"))));
    expect(results.every((r) => r.toString() === "popular")).toBe(true);
    expect(inner.calls.read).toBe(1);
    expect(inner.calls.head).toBe(1);
  });

  it("does not cache what a read fetched while a write replaced it", async () => {
    const { inner, cache } = setup();
    await put(cache, ref("race"), "old");
    const reading = readAll(cache, ref("race"));
    await put(cache, ref("race"), "new");
    await reading;
    expect((await readAll(cache, ref("race"))).toString()).toBe("new");
    expect(inner.calls.read).toBeGreaterThanOrEqual(2);
  });

  it("expires entries after the TTL", async () => {
    const { inner, cache } = setup({ ttlSeconds: 0.05 });
    await put(inner, ref("ttl"), "v1");
    await readAll(cache, ref("ttl"));
    await put(inner, ref("ttl"), "v2-behind-the-cache");
    expect((await readAll(cache, ref("ttl"))).toString()).toBe("v1");
    await new Promise((r) => setTimeout(r, 80));
    expect((await readAll(cache, ref("ttl"))).toString()).toBe("v2-behind-the-cache");
  });

  it("drops entries when another replica publishes an invalidation", async () => {
    const subscribers: ((m: Invalidation) => void)[] = [];
    const bus: InvalidationBus = { publish: (m) => subscribers.forEach((s) => s(m)), subscribe: (h) => void subscribers.push(h) };
    const shared = createMemoryStore();
    const a = withCache(shared, { maxSizeMbs: 1, ttlSeconds: 0, bus });
    const b = withCache(shared, { maxSizeMbs: 1, ttlSeconds: 0, bus });
    await put(a, ref("x"), "v1");
    expect((await readAll(b, ref("x"))).toString()).toBe("v1");
    await put(a, ref("x"), "v2");
    expect((await readAll(b, ref("x"))).toString()).toBe("v2");
    await a.deletePrefix(ref(""), never);
    expect(await b.head(ref("x"), never)).toBeUndefined();
  });
});
