// Two buses as one: a daemon with several workers and Redis sends each
// invalidation to its other workers (worker-invalidation-bus.ts) and to the
// other daemons (redis-invalidation-bus.ts). A worker hears its siblings'
// invalidations on both; dropping a key twice is harmless.
import type { Invalidation, InvalidationBus } from "./cached-store.js";

export function combineInvalidationBuses(buses: InvalidationBus[]): InvalidationBus {
  const combined: InvalidationBus = {
    async publish(message: Invalidation) {
      await Promise.all(buses.map(async (bus) => bus.publish(message)));
    },
    subscribe(handler) {
      for (const bus of buses) bus.subscribe(handler);
    },
  };
  // Only a bus that can lose messages reports outages; the cache trusts the others always.
  if (buses.some((bus) => bus.isDelivering !== undefined)) {
    combined.isDelivering = () => buses.every((bus) => bus.isDelivering?.() !== false);
    combined.onOutage = (handler) => {
      for (const bus of buses) bus.onOutage?.(handler);
    };
  }
  return combined;
}
