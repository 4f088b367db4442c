// The read cache (Flyte's `cache.max_size_mbs`): small objects, with their
// full info, in an LRU bounded in bytes. Flyte's rule is kept: an object is
// cached only if it is at most 1/1024 of the cache. Flyte's flaws are fixed:
// a hit returns the same info (etag, metadata) a miss would; an object too
// big to cache is never buffered; every mutation through the daemon
// invalidates (also an overwrite by a too-big object, and a copy's
// destination); concurrent misses on one key share one backend read; and
// invalidations can travel to other replicas (see redis-invalidation-bus.ts);
// while that bus is down the cache serves nothing it holds.
import { LRUCache } from "lru-cache";
import { StowdError } from "../../common/errors.js";
import { formatReference, type Ref } from "../references/reference.js";
import { resolveRange } from "../stores/kit/byte-range.js";
import { checkEtag } from "../stores/kit/preconditions.js";
import type { ObjectMeta, RawStore, ReadResult } from "../stores/raw-store.js";
import { MiB } from "../../common/units.js";

/** Bytes charged per entry on top of its data, for the key and the info. */
const ENTRY_OVERHEAD_BYTES = 512;
const READ_CHUNK_BYTES = 1024 * 1024;

export interface CacheEvents {
  hit(): void;
  miss(): void;
  /** An object was read but not cached because it is larger than 1/1024 of the cache. */
  skippedTooLarge(): void;
  evicted(): void;
  /** Called after every change of the cache's contents. */
  changed(entries: number, bytes: number): void;
}

/** Carries invalidations between daemon replicas (Redis pub/sub) and between one daemon's workers (worker-invalidation-bus.ts). */
export interface InvalidationBus {
  /** A promise, when returned, resolves once the others dropped the key (the workers' bus): the mutation returns only then. */
  publish(message: Invalidation): void | Promise<void>;
  subscribe(handler: (message: Invalidation) => void): void;
  /** False while other replicas' invalidations may be lost (disconnected, not yet subscribed again); absent = always true. */
  isDelivering?(): boolean;
  /** `handler` runs each time the bus stops delivering, i.e. an outage starts. */
  onOutage?(handler: () => void): void;
}

export type Invalidation = { key: string } | { prefix: string };

export interface CachedStoreOptions {
  /** `cache.max_size_mbs`. */
  maxSizeMbs: number;
  /** Entry lifetime; 0 = until evicted or invalidated. */
  ttlSeconds: number;
  events?: Partial<CacheEvents>;
  bus?: InvalidationBus;
}

export interface CachedStore extends RawStore {
  /** Largest object the cache holds, in bytes (1/1024 of the cache). */
  readonly maxEntryBytes: number;
}

interface Entry {
  meta: ObjectMeta;
  data: Uint8Array;
}

/** What a shared miss found: the cached entry, or that the object is too big or missing. */
type Fetched = { kind: "entry"; entry: Entry } | { kind: "too-big" } | { kind: "missing" };

/**
 * While the bus may be losing other replicas' invalidations, nothing cached
 * can be trusted: `dropAll` runs when an outage starts (in-flight fills are
 * dropped too), and the returned check says to read through, caching
 * nothing, until the bus delivers again.
 */
function watchBusOutages(bus: InvalidationBus | undefined, dropAll: () => void): () => boolean {
  if (bus?.isDelivering === undefined) return () => false;
  bus.onOutage?.(dropAll);
  return () => bus.isDelivering?.() === false;
}

export function withCache(inner: RawStore, options: CachedStoreOptions): CachedStore {
  const maxBytes = Math.floor(options.maxSizeMbs * MiB);
  const maxEntryBytes = Math.floor(maxBytes / 1024);
  const events = options.events ?? {};
  const cache = new LRUCache<string, Entry>({
    maxSize: maxBytes,
    sizeCalculation: (entry, key) => entry.data.length + key.length + ENTRY_OVERHEAD_BYTES,
    ...(options.ttlSeconds > 0 ? { ttl: options.ttlSeconds * 1000 } : {}),
    dispose: (_entry, _key, reason) => {
      if (reason === "evict") events.evicted?.();
    },
  });
  /** Shared misses in progress, by key. */
  const inflight = new Map<string, Promise<Fetched>>();
  /** Bumped by every invalidation, so a fetch that raced a write never caches stale bytes. */
  const generations = new Map<string, number>();
  const changed = () => events.changed?.(cache.size, cache.calculatedSize);
  /**
   * The cache key of an object: the store's identity of it (Flyte used the
   * raw string), so every spelling of one object (`file:///b/k` and
   * `file://b/k`, `abfs://` and `abfss://`) shares one entry and one
   * invalidation; a prefix's identity is a prefix of its objects' keys.
   */
  const cacheKey = (ref: Ref): string => inner.identity(ref);

  function dropKey(key: string): void {
    generations.set(key, (generations.get(key) ?? 0) + 1);
    inflight.delete(key);
    if (cache.delete(key)) changed();
  }

  function dropPrefix(prefix: string): void {
    for (const key of [...cache.keys(), ...inflight.keys()]) if (key.startsWith(prefix)) dropKey(key);
  }

  function invalidate(message: Invalidation): void {
    if ("key" in message) dropKey(message.key);
    else dropPrefix(message.prefix);
  }
  options.bus?.subscribe(invalidate);
  const bypassed = watchBusOutages(options.bus, () => dropPrefix(""));

  /** Runs a mutation with the key invalidated before (no new reads join old data) and after (no read that raced it stays). */
  async function mutating<T>(message: Invalidation, mutation: () => Promise<T>): Promise<T> {
    invalidate(message);
    try {
      return await mutation();
    } finally {
      invalidate(message);
      await options.bus?.publish(message);
    }
  }

  async function fetch(ref: Ref, key: string, signal: AbortSignal): Promise<Fetched> {
    const generation = generations.get(key) ?? 0;
    const meta = await inner.head(ref, signal);
    if (meta === undefined) return { kind: "missing" };
    if (meta.size > maxEntryBytes) return { kind: "too-big" };
    const opened = await inner.read(ref, {}, signal);
    try {
      // The object may have grown since the head: never buffer a too-big one.
      if (opened.meta.size > maxEntryBytes) return { kind: "too-big" };
      const data = Buffer.allocUnsafe(opened.length);
      let filled = 0;
      for await (const chunk of opened.body) {
        if (filled + chunk.length > data.length)
          throw new StowdError("INTERNAL", `${key} changed while it was being cached`, { reference: key });
        data.set(chunk, filled);
        filled += chunk.length;
      }
      const entry = { meta: opened.meta, data: data.subarray(0, filled) };
      if ((generations.get(key) ?? 0) === generation && filled === opened.meta.size) {
        cache.set(key, entry);
        changed();
      }
      return { kind: "entry", entry };
    } finally {
      await opened.close();
    }
  }

  /** The entry's info in the caller's spelling: another alias of the object may have filled the entry. */
  function metaFor(ref: Ref, meta: ObjectMeta): ObjectMeta {
    return meta.key === ref.key ? meta : { ...meta, key: ref.key };
  }

  function serve(ref: Ref, entry: Entry, range: Parameters<RawStore["read"]>[1]): ReadResult {
    const reference = formatReference(ref, ref.key);
    if (range.ifMatchEtag !== undefined) checkEtag(entry.meta, range.ifMatchEtag, reference, "nothing was read");
    const { offset, length } = resolveRange(range.range, entry.data.length, reference);
    const data = entry.data;
    return {
      meta: metaFor(ref, entry.meta),
      offset,
      length,
      body: (async function* () {
        for (let at = offset; at < offset + length; at += READ_CHUNK_BYTES)
          yield data.subarray(at, Math.min(at + READ_CHUNK_BYTES, offset + length));
      })(),
      close: async () => {},
    };
  }

  return {
    ...inner,
    maxEntryBytes,

    async head(ref, signal) {
      if (bypassed()) return inner.head(ref, signal);
      const hit = cache.get(cacheKey(ref));
      if (hit !== undefined) {
        events.hit?.();
        return metaFor(ref, hit.meta);
      }
      events.miss?.();
      return inner.head(ref, signal);
    },

    async read(ref, readOptions, signal) {
      if (bypassed()) return inner.read(ref, readOptions, signal);
      const key = cacheKey(ref);
      const hit = cache.get(key);
      if (hit !== undefined) {
        events.hit?.();
        return serve(ref, hit, readOptions);
      }
      events.miss?.();
      let flight = inflight.get(key);
      if (flight === undefined) {
        // The shared fetch must not die with the first caller: it has its own lifetime.
        flight = fetch(ref, key, AbortSignal.timeout(60_000)).finally(() => {
          if (inflight.get(key) === flight) inflight.delete(key);
        });
        inflight.set(key, flight);
      }
      const fetched = await flight;
      if (fetched.kind === "entry") return serve(ref, fetched.entry, readOptions);
      if (fetched.kind === "too-big") events.skippedTooLarge?.();
      // Missing (the inner store says NOT_FOUND its own way) or too big: read through.
      return inner.read(ref, readOptions, signal);
    },

    write: (ref, body, writeOptions, signal) => mutating({ key: cacheKey(ref) }, () => inner.write(ref, body, writeOptions, signal)),
    append: (ref, body, appendOptions, signal) => mutating({ key: cacheKey(ref) }, () => inner.append(ref, body, appendOptions, signal)),
    delete: (ref, deleteOptions, signal) => mutating({ key: cacheKey(ref) }, () => inner.delete(ref, deleteOptions, signal)),
    deletePrefix: (prefix, signal) => mutating({ prefix: cacheKey(prefix) }, () => inner.deletePrefix(prefix, signal)),
    copy: (source, destination, copyOptions, signal) =>
      mutating({ key: cacheKey(destination) }, () => inner.copy(source, destination, copyOptions, signal)),
    async close() {
      cache.clear();
      await inner.close();
    },
  };
}
