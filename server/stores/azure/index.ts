// The azure store (`abfs://`, `abfss://`): Azure Blob Storage through
// @azure/storage-blob. References are `abfs://container@account.dfs.core.windows.net/key`
// (the container is the user part) or `abfs://container/key`.
//
// Every backend call runs under withRetries (per-attempt timeout inside a
// total deadline); the SDK's own retry policy is off (maxTries 1) so the two
// do not multiply each other's attempts and delays (context.ts).
// Topic files: read.ts, write.ts (block uploads: blocks.ts; appends:
// block-list.ts, append-blob.ts), copy.ts, list.ts (in stowd's order:
// listing.ts), delete.ts, signed-urls.ts; conditions.ts carries
// preconditions to Azure, metadata.ts escapes metadata names.
import { bindOperations } from "../kit/bind-operations.js";
import { containerKeyIdentity } from "../kit/object-identity.js";
import type { Capabilities, RawStore } from "../raw-store.js";
import type { AzureStoreOptions } from "./config.js";
import { createAzureContext } from "./context.js";
import { copy } from "./copy.js";
import { deletePrefix, remove } from "./delete.js";
import { AZURE_KIND } from "./errors.js";
import { list } from "./list.js";
import { head, read } from "./read.js";
import { signUrl } from "./signed-urls.js";
import { append, write } from "./write.js";

export type { AzureStoreOptions } from "./config.js";

export function createAzureStore(options: AzureStoreOptions): RawStore {
  const ctx = createAzureContext(options);
  const capabilities: Capabilities = {
    rangedReads: true,
    append: true,
    conditionalWrites: true,
    signedUrls: ctx.sharedKey !== undefined,
    delimiterListing: true,
    serverSideCopy: true,
  };
  return {
    kind: AZURE_KIND,
    identity: containerKeyIdentity,
    capabilities,
    ...bindOperations(ctx, { head, read, write, append, list, delete: remove, deletePrefix, copy, signUrl }),
    async close() {
      // The SDK holds no resources beyond keep-alive sockets, which close when idle.
    },
  };
}
