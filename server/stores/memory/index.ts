// The memory store (`mem://`): for tests and ephemeral use, with the same
// semantics as every other store. Objects are immutable lists of byte
// segments (segments.ts) replaced whole on commit, so a read keeps the
// snapshot it opened and writes are atomic. One object may not be larger
// than the memory the daemon can have (config.ts).
import { bindOperations } from "../kit/bind-operations.js";
import { containerKeyIdentity } from "../kit/object-identity.js";
import type { Capabilities, RawStore } from "../raw-store.js";
import type { MemoryStoreOptions } from "./config.js";
import { createMemoryContext } from "./context.js";
import { copy } from "./copy.js";
import { deletePrefix, remove } from "./delete.js";
import { KIND } from "./errors.js";
import { list } from "./list.js";
import { head, read } from "./read.js";
import { signUrlWith } from "./signed-urls.js";
import { append, write } from "./write.js";

export type { MemoryStoreOptions } from "./config.js";

export function createMemoryStore(options: MemoryStoreOptions = {}): RawStore {
  const ctx = createMemoryContext(options);
  const capabilities: Capabilities = {
    rangedReads: true,
    append: true,
    conditionalWrites: true,
    // With a URL signer, the daemon signs and serves URLs for the store's objects (signed-urls.ts).
    signedUrls: options.urlSigner !== undefined,
    delimiterListing: true,
    serverSideCopy: true,
  };
  const signUrl = signUrlWith(options.urlSigner);
  return {
    kind: KIND,
    identity: containerKeyIdentity,
    capabilities,
    ...bindOperations(ctx, { head, read, write, append, list, delete: remove, deletePrefix, copy, signUrl }),
    async close() {
      ctx.containers.clear();
    },
  };
}
