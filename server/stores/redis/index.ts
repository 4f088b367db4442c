// The redis store (`redis://host:port/key`). As in Flyte the host is advisory:
// the store talks to its configured node or cluster, the key is the
// reference's path, and references it returns keep the caller's container.
//
// Objects are never one Redis value: each is a manifest hash (size, etag,
// content type, metadata, data id, chunk size; manifest.ts) plus chunks of
// at most `chunkBytes` (keys.ts), so reads and writes stream and no object
// is buffered whole. A write stages its chunks under a fresh data id (with a
// TTL, so a crashed daemon leaves nothing permanent; staging.ts), then one
// Lua script checks the preconditions and swaps the manifest atomically
// (commit.ts); the replaced version's chunks stay readable for
// `readGraceSeconds`, so a read that opened the old version finishes it, and
// only then expire. A reader only ever reads chunks of the data id its
// manifest named, bounded by that manifest's size, so an overwrite can never
// mix versions; when the grace period ran out under a very slow reader it
// fails with a retryable UNAVAILABLE instead.
//
// Listing uses an ordered index (listing.ts: a sorted set, byte-wise like
// compareKeys) rather than SCAN. The index lives in its own cluster slot, so
// it cannot change in the object's scripts. The protocol keeps it safe anyway:
//  - a writer registers itself in the object's pending set, then indexes the
//    key, then commits; a crash leaves an extra entry, never a missing one;
//  - listings verify every entry against its manifest (a deleted object is
//    never listed) and prune stale entries, but only when the object has no
//    manifest and no live pending write, and only if no write re-indexed the
//    key meanwhile (a per-key token compared in the index's slot);
//  - a commit refuses when its pending registration expired, because from
//    then on a pruner may have removed its entry.
import { bindOperations } from "../kit/bind-operations.js";
import type { Capabilities, RawStore } from "../raw-store.js";
import type { RedisStoreOptions } from "./config.js";
import { createRedisContext } from "./context.js";
import { copy } from "./copy.js";
import { deletePrefix, remove } from "./delete.js";
import { KIND } from "./errors.js";
import { list } from "./list.js";
import { head, read } from "./read.js";
import { signUrlWith } from "./signed-urls.js";
import { append, write } from "./write.js";

export type { RedisStoreOptions } from "./config.js";
export type { RedisNodeAddress } from "./connection.js";

export function createRedisStore(options: RedisStoreOptions): RawStore {
  const ctx = createRedisContext(options);
  const capabilities: Capabilities = {
    rangedReads: true,
    append: true,
    conditionalWrites: true,
    // With a URL signer, the daemon signs and serves URLs for the store's objects (signed-urls.ts).
    signedUrls: options.urlSigner !== undefined,
    delimiterListing: true,
    // A cluster keeps source and destination in different slots: chunks pass through the daemon.
    serverSideCopy: !ctx.conn.isCluster,
  };
  const signUrl = signUrlWith(options.urlSigner);
  return {
    kind: KIND,
    // The host is advisory (see above): `redis://a/k` and `redis://b/k` are one object.
    identity: (ref) => ref.key,
    capabilities,
    ...bindOperations(ctx, { head, read, write, append, list, delete: remove, deletePrefix, copy, signUrl }),
    async close() {
      await ctx.conn.close();
    },
  };
}
