// Two invalidation buses as one (a daemon with several workers and Redis):
// a publish goes to both and resolves once both did (the workers' bus
// acknowledges), both buses' messages arrive, and the cache is bypassed while
// either bus that can lose messages is down.
import { describe, expect, it } from "vitest";
import type { Invalidation, InvalidationBus } from "../../server/decorators/cached-store.js";
import { combineInvalidationBuses } from "../../server/decorators/combined-invalidation-bus.js";

function fakeBus(lossy: boolean) {
  const published: Invalidation[] = [];
  const handlers: ((message: Invalidation) => void)[] = [];
  const outageHandlers: (() => void)[] = [];
  let acknowledge = () => {};
  const state = { delivering: true };
  const bus: InvalidationBus = {
    publish(message) {
      published.push(message);
      return new Promise<void>((resolve) => (acknowledge = resolve));
    },
    subscribe: (handler) => handlers.push(handler),
    ...(lossy ? { isDelivering: () => state.delivering, onOutage: (handler: () => void) => outageHandlers.push(handler) } : {}),
  };
  return {
    bus,
    published,
    state,
    acknowledge: () => acknowledge(),
    deliver: (m: Invalidation) => handlers.forEach((h) => h(m)),
    outage: () => outageHandlers.forEach((h) => h()),
  };
}

describe("combineInvalidationBuses", () => {
  it("publishes to both and resolves once both did", async () => {
    const [a, b] = [fakeBus(false), fakeBus(true)];
    const combined = combineInvalidationBuses([a.bus, b.bus]);
    let done = false;
    const published = Promise.resolve(combined.publish({ key: "k" })).then(() => (done = true));
    expect(a.published).toEqual([{ key: "k" }]);
    expect(b.published).toEqual([{ key: "k" }]);
    a.acknowledge();
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    b.acknowledge();
    await published;
    expect(done).toBe(true);
  });

  it("delivers both buses' messages", () => {
    const [a, b] = [fakeBus(false), fakeBus(true)];
    const seen: Invalidation[] = [];
    combineInvalidationBuses([a.bus, b.bus]).subscribe((m) => seen.push(m));
    a.deliver({ key: "from-a" });
    b.deliver({ prefix: "from-b" });
    expect(seen).toEqual([{ key: "from-a" }, { prefix: "from-b" }]);
  });

  it("reports an outage of the lossy bus, and none when no bus can lose messages", () => {
    expect("isDelivering" in combineInvalidationBuses([fakeBus(false).bus, fakeBus(false).bus])).toBe(false);
    const [a, b] = [fakeBus(false), fakeBus(true)];
    const combined = combineInvalidationBuses([a.bus, b.bus]);
    let outages = 0;
    combined.onOutage?.(() => outages++);
    expect(combined.isDelivering?.()).toBe(true);
    b.state.delivering = false;
    b.outage();
    expect(combined.isDelivering?.()).toBe(false);
    expect(outages).toBe(1);
  });
});
