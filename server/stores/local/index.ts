// The local store (`file://`), stowd's embedded default: objects are files at
// `<root>/<container>/<key>`, metadata lives in sidecars under
// `<root>/.stowd/meta` (sidecar.ts), and every write goes to a temp file in
// `<root>/.stowd/tmp` (same file system), is fsynced, and is renamed into
// place under a per-key lock after the preconditions pass (commit.ts).
// Readers stream from the file they opened, so an overwrite never mixes
// versions, and no path ever leaves the root (paths.ts). An object has one
// identity, its path under the root: `file:///b/k` and `file://b/k` share one
// lock and one sidecar. List resumes by binary search into cached sorted
// directory listings (listing.ts).
import { bindOperations } from "../kit/bind-operations.js";
import type { Capabilities, RawStore } from "../raw-store.js";
import type { LocalStoreOptions } from "./config.js";
import { openLocalContext } from "./context.js";
import { copy } from "./copy.js";
import { deletePrefix, remove } from "./delete.js";
import { KIND } from "./errors.js";
import { list } from "./list.js";
import { localIdentity } from "./paths.js";
import { head, read } from "./read.js";
import { signUrlWith } from "./signed-urls.js";
import { append, write } from "./write.js";

export type { LocalStoreOptions } from "./config.js";
export { localIdentity };

/** With a URL signer, the daemon signs and serves URLs for the store's files (signed-urls.ts). */
export function localStoreCapabilities(options: Pick<LocalStoreOptions, "urlSigner">): Capabilities {
  return {
    rangedReads: true,
    append: true,
    conditionalWrites: true,
    signedUrls: options.urlSigner !== undefined,
    delimiterListing: true,
    serverSideCopy: true,
  };
}

export async function createLocalStore(options: LocalStoreOptions): Promise<RawStore> {
  const ctx = await openLocalContext(options);
  const signUrl = signUrlWith(options.urlSigner);
  return {
    kind: KIND,
    capabilities: localStoreCapabilities(options),
    identity: localIdentity,
    ...bindOperations(ctx, { head, read, write, append, list, delete: remove, deletePrefix, copy, signUrl }),
    async close() {
      // No handles outlive a call: reads own their file handle until closed.
    },
  };
}
