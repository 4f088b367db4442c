// The scheme router: one RawStore that dispatches every call to the backend
// configured for the reference's scheme (`mem://` to memory, `file://` to
// local disk, ...). An unknown scheme is INVALID_ARGUMENT naming the
// configured ones; Flyte silently sends it to the primary store instead.
// Copies between two schemes stream through the daemon.
import { StowdError } from "../errors.js";
import type { Ref } from "../references/reference.js";
import type { Capabilities, RawStore } from "../stores/raw-store.js";

export interface SchemeRouter extends RawStore {
  /** The configured schemes and their backends, in configuration order. */
  readonly routes: ReadonlyArray<{ scheme: string; store: RawStore }>;
  /** The backend for a scheme; throws UNKNOWN_SCHEME. */
  storeFor(scheme: string): RawStore;
}

export function createSchemeRouter(routes: Record<string, RawStore>): SchemeRouter {
  const table = new Map(Object.entries(routes).map(([scheme, store]) => [scheme.toLowerCase(), store]));
  if (table.size === 0) throw new Error("the scheme router needs at least one backend");

  function storeFor(scheme: string): RawStore {
    const store = table.get(scheme);
    if (store === undefined) {
      const known = [...table.keys()].map((s) => `${s}://`).join(", ");
      throw new StowdError("UNKNOWN_SCHEME", `no backend is configured for scheme "${scheme}://"; configured schemes: ${known}`, {});
    }
    return store;
  }

  const all = [...table.values()];
  const capabilities: Capabilities = {
    rangedReads: all.every((s) => s.capabilities.rangedReads),
    append: all.every((s) => s.capabilities.append),
    conditionalWrites: all.every((s) => s.capabilities.conditionalWrites),
    signedUrls: all.every((s) => s.capabilities.signedUrls),
    delimiterListing: all.every((s) => s.capabilities.delimiterListing),
    serverSideCopy: all.every((s) => s.capabilities.serverSideCopy),
  };

  return {
    kind: "router",
    capabilities,
    routes: [...table].map(([scheme, store]) => ({ scheme, store })),
    storeFor,
    head: (ref, signal) => storeFor(ref.scheme).head(ref, signal),
    read: (ref, options, signal) => storeFor(ref.scheme).read(ref, options, signal),
    write: (ref, body, options, signal) => storeFor(ref.scheme).write(ref, body, options, signal),
    append: (ref, body, options, signal) => storeFor(ref.scheme).append(ref, body, options, signal),
    list: (prefix, options, signal) => storeFor(prefix.scheme).list(prefix, options, signal),
    delete: (ref, options, signal) => storeFor(ref.scheme).delete(ref, options, signal),
    deletePrefix: (prefix, signal) => storeFor(prefix.scheme).deletePrefix(prefix, signal),
    signUrl: (ref, options, signal) => storeFor(ref.scheme).signUrl(ref, options, signal),
    async copy(source, destination, options, signal) {
      const from = storeFor(source.scheme);
      const to = storeFor(destination.scheme);
      if (from === to) return from.copy(source, destination, options, signal);
      return streamCopy(from, source, to, destination, options, signal);
    },
    async close() {
      await Promise.all(all.map((s) => s.close()));
    },
  };
}

/** Copies across backends by streaming: never buffers the whole object. */
async function streamCopy(
  from: RawStore,
  source: Ref,
  to: RawStore,
  destination: Ref,
  options: Parameters<RawStore["copy"]>[2],
  signal: AbortSignal,
) {
  const opened = await from.read(source, options.ifSourceMatchEtag === undefined ? {} : { ifMatchEtag: options.ifSourceMatchEtag }, signal);
  try {
    const { meta } = opened;
    return await to.write(
      destination,
      opened.body,
      {
        contentType: meta.contentType,
        metadata: meta.metadata,
        preconditions: options.preconditions,
        size: meta.size,
        ...(meta.contentMd5 === undefined ? {} : { contentMd5: meta.contentMd5 }),
      },
      signal,
    );
  } finally {
    await opened.close();
  }
}
