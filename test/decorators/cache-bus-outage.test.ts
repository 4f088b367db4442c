// The cache's side of a bus outage (InvalidationBus.isDelivering/onOutage),
// with an in-process bus whose state the test sets: the cache is dropped when
// an outage starts, reads go through and nothing is cached while it lasts
// (also not a fill that started before it), and caching resumes after.
import { describe, expect, it } from "vitest";
import { withCache, type InvalidationBus } from "../../server/decorators/cached-store.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { counting, put, readAll, ref } from "./store-helpers.js";

function controllableBus() {
  let delivering = false;
  const outageHandlers: (() => void)[] = [];
  const bus: InvalidationBus = {
    publish: () => {},
    subscribe: () => {},
    isDelivering: () => delivering,
    onOutage: (handler) => void outageHandlers.push(handler),
  };
  return {
    bus,
    up: () => void (delivering = true),
    down: () => {
      delivering = false;
      for (const handler of outageHandlers) handler();
    },
  };
}

/** A store whose reads wait for `release()` once `hold()` was called. */
function holdingReads(inner: RawStore) {
  let gate: Promise<void> | undefined;
  let open = () => {};
  return {
    store: {
      ...inner,
      read: async (...args: Parameters<RawStore["read"]>) => {
        const opened = await inner.read(...args);
        await gate;
        return opened;
      },
    } satisfies RawStore,
    hold: () => void (gate = new Promise<void>((resolve) => (open = resolve))),
    release: () => {
      gate = undefined;
      open();
    },
  };
}

const readsOf = (s: { calls: Record<string, number> }) => s.calls.read ?? 0;

describe("cache during an invalidation bus outage", () => {
  it("reads through until the bus first delivers, drops everything when an outage starts, caches nothing until it ends", async () => {
    const backend = counting(createMemoryStore());
    const { bus, up, down } = controllableBus();
    const cache = withCache(backend, { maxSizeMbs: 1, ttlSeconds: 0, bus });
    await put(backend, ref("x"), "v1");

    // Not subscribed yet: every read reaches the backend.
    await readAll(cache, ref("x"));
    await readAll(cache, ref("x"));
    expect(readsOf(backend)).toBe(2);

    up();
    await readAll(cache, ref("x"));
    await readAll(cache, ref("x"));
    expect(await cache.head(ref("x"), new AbortController().signal)).toMatchObject({ size: 2 });
    expect(readsOf(backend)).toBe(3); // one fill, then hits

    down();
    await put(backend, ref("x"), "v2"); // another replica's write whose invalidation is lost
    expect((await readAll(cache, ref("x"))).toString()).toBe("v2");
    expect((await readAll(cache, ref("x"))).toString()).toBe("v2");
    expect(readsOf(backend)).toBe(5);

    up();
    await readAll(cache, ref("x"));
    await readAll(cache, ref("x"));
    expect(readsOf(backend)).toBe(6);
  });

  it("does not keep a fill that was in flight when the outage started", async () => {
    const backend = counting(createMemoryStore());
    const holding = holdingReads(backend);
    const { bus, up, down } = controllableBus();
    const cache = withCache(holding.store, { maxSizeMbs: 1, ttlSeconds: 0, bus });
    await put(backend, ref("x"), "v1");
    up();

    holding.hold();
    const filling = readAll(cache, ref("x")); // reads v1, then waits
    await new Promise((r) => setTimeout(r, 10));
    down();
    await put(backend, ref("x"), "v2");
    up(); // the outage is over before the fill completes
    holding.release();
    expect((await filling).toString()).toBe("v1");
    // The fill read before the outage: it must not have been cached.
    expect((await readAll(cache, ref("x"))).toString()).toBe("v2");
  });
});
