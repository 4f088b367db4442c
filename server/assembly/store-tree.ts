// Builds the store tree from the configuration, in one place:
//
//   download limit -> cache -> container policy -> scheme router -> backends
//
// with metrics on every backend (each operation counted once) and on each
// decorator's own outcomes. The router knows every configured scheme and
// builds each backend on first use. The StoreTree type lives below the
// services that use it (decorators/store-tree.ts).
import type { StowdConfig } from "../config/config.js";
import { configuredBackends } from "./backends.js";
import { withCache, type CachedStore, type InvalidationBus } from "../decorators/cached-store.js";
import { combineInvalidationBuses } from "../decorators/combined-invalidation-bus.js";
import { containerPolicyIsOn, withContainerPolicy } from "../decorators/container-policy.js";
import { withDownloadLimit } from "../decorators/download-limit.js";
import { withMetrics } from "../decorators/metered-store.js";
import { withTracing } from "../decorators/traced-store.js";
import { daemonTracer } from "../observability/tracing.js";
import { createSchemeRouter, type Backend } from "../decorators/scheme-router.js";
import type { StoreTree } from "../decorators/store-tree.js";
import { layerOutcomeCounters, type LayerOutcomeCounters } from "../observability/layer-outcomes.js";
import type { Metrics } from "../observability/metrics.js";
import type { DaemonUrlSigner, RawStore } from "../stores/raw-store.js";
import { MiB } from "../../common/units.js";

export type { StoreTree } from "../decorators/store-tree.js";

export interface StoreTreeOptions {
  metrics: Metrics;
  /**
   * Carries cache invalidations to other replicas. Default: Redis pub/sub on
   * the redis store's Redis (`storage.schemes.redis.redis`, else
   * `storage.redis`) when Redis is configured and the cache is on.
   */
  invalidationBus?: InvalidationBus;
  /** Carries cache invalidations to this daemon's other workers (server.workers > 1), beside the bus above. */
  workersBus?: InvalidationBus;
  /** Backends to use instead of the configured ones (tests). */
  backends?: Record<string, Backend>;
  /** Signs the URLs the daemon serves for file://, mem:// and redis:// (server.signedUrls; server/signed-urls/). */
  urlSigner?: DaemonUrlSigner;
}

export async function buildStoreTree(config: StowdConfig, options: StoreTreeOptions): Promise<StoreTree> {
  const { storage } = config;
  const { metrics } = options;
  const { primaryScheme, backends } =
    options.backends === undefined
      ? await configuredBackends(storage, options.urlSigner)
      : { primaryScheme: "", backends: options.backends };

  const schemes = Object.keys(backends);
  // One metered backend per configured backend: aliased schemes (abfs, abfss) keep sharing theirs.
  const metered = new Map<Backend, Backend>();
  // Each backend is traced once too, inside its metrics, when tracing is on (observability/tracing.ts).
  const tracer = daemonTracer();
  const traced = (store: RawStore): RawStore => (tracer === undefined ? store : withTracing(store, tracer));
  const meteredOf = (backend: Backend): Backend => {
    let m = metered.get(backend);
    if (m === undefined) {
      m = { ...backend, create: async () => withMetrics(traced(await backend.create()), { metrics, schemes }) };
      metered.set(backend, m);
    }
    return m;
  };
  const router = createSchemeRouter(Object.fromEntries(Object.entries(backends).map(([scheme, backend]) => [scheme, meteredOf(backend)])));
  // Store operations are metered once, at the backend: a decorator's own outcomes (cache hits and misses,
  // download-limit refusals) have metrics of their own, and metering every layer cost a timer, a histogram
  // sample and a generator hop per chunk at each one.
  const primary = router.canonicalScheme(primaryScheme);
  let root: RawStore = withContainerPolicy(router, {
    appliesTo: (scheme) => primary !== undefined && router.canonicalScheme(scheme) === primary,
    container: storage.container,
    enableMultiContainer: storage.enableMultiContainer,
    ...(containerPolicyIsOn(storage) ? { onReject: refusalCounter(layerOutcomeCounters(metrics, "container_policy", ["refused"])) } : {}),
  });
  let bus = options.invalidationBus;
  let closeBus = async () => {};
  if (storage.cache.maxSizeMbs > 0 && bus === undefined) {
    // Replicas sharing Redis tell each other what they invalidate, connecting as the redis store does (backends.ts).
    const redis = storage.schemes.redis?.redis ?? storage.redis;
    if (redis.addr !== "" || redis.cluster.length > 0) {
      // Imported only when used, like the backends (backends.ts).
      const { createRedisInvalidationBus, redisInvalidationBusOptions } = await import("../decorators/redis-invalidation-bus.js");
      const redisBus = createRedisInvalidationBus(
        redisInvalidationBusOptions(redis, storage.schemes.redis?.redis ? "storage.schemes.redis.redis" : "storage.redis"),
      );
      bus = redisBus;
      closeBus = () => redisBus.close();
    }
  }
  if (options.workersBus !== undefined) bus = bus === undefined ? options.workersBus : combineInvalidationBuses([bus, options.workersBus]);
  if (storage.cache.maxSizeMbs > 0) {
    const outcomes = layerOutcomeCounters(metrics, "cache", ["hit", "miss", "evicted", "skipped_too_large"]);
    const cached: CachedStore = withCache(root, {
      maxSizeMbs: storage.cache.maxSizeMbs,
      ttlSeconds: storage.cache.ttlSeconds,
      events: {
        hit: () => outcomes.hit.inc(),
        miss: () => outcomes.miss.inc(),
        evicted: () => outcomes.evicted.inc(),
        skippedTooLarge: () => outcomes.skipped_too_large.inc(),
        changed: (entries, bytes) => {
          metrics.cacheEntries.set(entries);
          metrics.cacheBytes.set(bytes);
        },
      },
      ...(bus === undefined ? {} : { bus }),
    });
    root = cached;
  }
  if (storage.limits.maxDownloadMBs > 0) {
    const onReject = refusalCounter(layerOutcomeCounters(metrics, "download_limit", ["refused"]));
    root = withDownloadLimit(root, { maxDownloadMBs: storage.limits.maxDownloadMBs, onReject });
  }
  return {
    root,
    router,
    maxDownloadBytes: Math.floor(storage.limits.maxDownloadMBs * MiB),
    async close() {
      await root.close();
      await closeBus();
    },
  };
}

const refusalCounter = (outcomes: LayerOutcomeCounters<"refused">) => () => outcomes.refused.inc();
