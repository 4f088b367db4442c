// The scheme router: one RawStore that dispatches every call to the backend
// configured for the reference's scheme (`mem://` to memory, `file://` to
// local disk, `redis://` to Redis, ...). Backends are built lazily, once:
// concurrent first uses share one dial, and a failed dial is not remembered,
// so the next call tries again. An unknown scheme is INVALID_ARGUMENT naming
// the configured ones; Flyte silently sends it to the primary store instead.
// Copies between two schemes stream through the daemon. Schemes that share
// one Backend (abfs and abfss) are aliases: one built store serves them, and
// object identities name the first of them, so `abfss://c@a/k` and
// `abfs://c@a/k` are one object to the cache and to the container policy.
import { StowdError } from "../../common/errors.js";
import { formatReference, type Ref } from "../references/reference.js";
import { formatCrc32c, runningCrc32c } from "../stores/kit/crc32c.js";
import type { Capabilities, RawStore } from "../stores/raw-store.js";

/** How to build the backend of one scheme, and what it will be. */
export interface Backend {
  kind: string;
  capabilities: Capabilities;
  /** The configured default container reference, e.g. `s3://bucket`; "" when none. */
  baseContainerReference: string;
  /** RawStore.identity of the store create() builds; known before it is built. */
  identity(ref: Ref): string;
  create(): Promise<RawStore>;
}

export interface SchemeRouter extends RawStore {
  /** The configured schemes, in configuration order. */
  readonly routes: ReadonlyArray<{ scheme: string; backend: Backend }>;
  /** The backend description of a scheme; throws UNKNOWN_SCHEME. */
  backendFor(scheme: string): Backend;
  /** The first configured scheme served by the same backend as `scheme`, or undefined for an unknown scheme. */
  canonicalScheme(scheme: string): string | undefined;
}

/** A backend that is already built, e.g. in tests. */
export function builtBackend(store: RawStore, baseContainerReference = ""): Backend {
  return {
    kind: store.kind,
    capabilities: store.capabilities,
    baseContainerReference,
    identity: (ref) => store.identity(ref),
    create: async () => store,
  };
}

export function createSchemeRouter(routes: Record<string, Backend>): SchemeRouter {
  const table = new Map(Object.entries(routes).map(([scheme, backend]) => [scheme.toLowerCase(), backend]));
  if (table.size === 0) throw new Error("the scheme router needs at least one backend");
  /** Built stores by backend, so aliased schemes share one. */
  const built = new Map<Backend, Promise<RawStore>>();
  const canonical = new Map<string, string>();
  for (const [scheme, backend] of table) {
    canonical.set(scheme, [...table].find(([, b]) => b === backend)?.[0] ?? scheme);
  }

  function backendFor(scheme: string): Backend {
    const backend = table.get(scheme);
    if (backend === undefined) {
      const known = [...table.keys()].map((s) => `${s}://`).join(", ");
      throw new StowdError("UNKNOWN_SCHEME", `no backend is configured for scheme "${scheme}://"; configured schemes: ${known}`, {});
    }
    return backend;
  }

  function storeFor(scheme: string): Promise<RawStore> {
    const backend = backendFor(scheme);
    let store = built.get(backend);
    if (store === undefined) {
      store = backend.create();
      built.set(backend, store);
      // Forget a failed dial so that the next call tries again.
      store.catch(() => built.delete(backend));
    }
    return store;
  }

  const all = [...table.values()];
  const capabilities: Capabilities = {
    rangedReads: all.every((b) => b.capabilities.rangedReads),
    append: all.every((b) => b.capabilities.append),
    conditionalWrites: all.every((b) => b.capabilities.conditionalWrites),
    signedUrls: all.every((b) => b.capabilities.signedUrls),
    delimiterListing: all.every((b) => b.capabilities.delimiterListing),
    serverSideCopy: all.every((b) => b.capabilities.serverSideCopy),
  };

  return {
    kind: "router",
    capabilities,
    routes: [...table].map(([scheme, backend]) => ({ scheme, backend })),
    backendFor,
    canonicalScheme: (scheme) => canonical.get(scheme),
    identity: (ref) => `${canonical.get(ref.scheme) ?? ref.scheme}://${backendFor(ref.scheme).identity(ref)}`,
    head: async (ref, signal) => (await storeFor(ref.scheme)).head(ref, signal),
    read: async (ref, options, signal) => (await storeFor(ref.scheme)).read(ref, options, signal),
    write: async (ref, body, options, signal) => (await storeFor(ref.scheme)).write(ref, body, options, signal),
    append: async (ref, body, options, signal) => (await storeFor(ref.scheme)).append(ref, body, options, signal),
    list: async (prefix, options, signal) => (await storeFor(prefix.scheme)).list(prefix, options, signal),
    delete: async (ref, options, signal) => (await storeFor(ref.scheme)).delete(ref, options, signal),
    deletePrefix: async (prefix, signal) => (await storeFor(prefix.scheme)).deletePrefix(prefix, signal),
    signUrl: async (ref, options, signal) => (await storeFor(ref.scheme)).signUrl(ref, options, signal),
    async copy(source, destination, options, signal) {
      const from = await storeFor(source.scheme);
      const to = await storeFor(destination.scheme);
      if (from === to) return from.copy(source, destination, options, signal);
      return streamCopy(from, source, to, destination, options, signal);
    },
    async close() {
      const stores = await Promise.allSettled(built.values());
      built.clear();
      await Promise.all(stores.filter((s) => s.status === "fulfilled").map((s) => s.value.close()));
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
    // The source's CRC32C, known up front, is the destination's (S3 records it only when known before a multipart
    // upload starts); the bytes are checked against it before the destination commits.
    const crc32c = runningCrc32c(meta.crc32c);
    return await to.write(
      destination,
      checkedAgainstSource(opened.body, crc32c, source),
      {
        contentType: meta.contentType,
        metadata: meta.metadata,
        preconditions: options.preconditions,
        size: meta.size,
        crc32c,
        ...(meta.contentMd5 === undefined ? {} : { contentMd5: meta.contentMd5 }),
      },
      signal,
    );
  } finally {
    await opened.close();
  }
}

/** The source's bytes; throws before the end when they do not have the CRC32C the source recorded. */
async function* checkedAgainstSource(
  body: AsyncIterable<Uint8Array>,
  crc32c: ReturnType<typeof runningCrc32c>,
  source: Ref,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    crc32c.update(chunk);
    yield chunk;
  }
  crc32c.end();
  if (crc32c.declared !== undefined && crc32c.value() !== crc32c.declared) {
    const reference = formatReference(source, source.key);
    throw new StowdError(
      "CHECKSUM_MISMATCH",
      `the copy source ${reference} read back with CRC32C ${formatCrc32c(crc32c.value())}, not the ${formatCrc32c(crc32c.declared)} it was stored with; nothing was copied`,
      { reference },
    );
  }
}
