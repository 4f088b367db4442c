// The GCS store (`gs://bucket/key`) over @google-cloud/storage (JSON API).
// Retries are withRetries' (per-attempt timeout inside a total deadline);
// the SDK's own are off so the two never multiply (context.ts).
// Topic files: read.ts, write.ts (writes, and append emulated with compose),
// upload.ts (one request or a resumable session), copy.ts (rewrite),
// list.ts, delete.ts, signed-urls.ts; conditions.ts maps preconditions to
// generations.
import { bindOperations } from "../kit/bind-operations.js";
import { containerKeyIdentity } from "../kit/object-identity.js";
import type { Capabilities, RawStore } from "../raw-store.js";
import type { GcsStoreOptions } from "./config.js";
import { createGcsContext } from "./context.js";
import { copy } from "./copy.js";
import { deletePrefix, remove } from "./delete.js";
import { GCS_KIND } from "./errors.js";
import { list } from "./list.js";
import { head, read } from "./read.js";
import { signUrl } from "./signed-urls.js";
import { append, write } from "./write.js";

export type { GcsServiceAccountKey, GcsStoreOptions } from "./config.js";

export function createGcsStore(options: GcsStoreOptions = {}): RawStore {
  const ctx = createGcsContext(options);
  const capabilities: Capabilities = {
    rangedReads: true,
    append: true,
    conditionalWrites: true,
    signedUrls: ctx.canSign,
    delimiterListing: true,
    serverSideCopy: true,
  };
  return {
    kind: GCS_KIND,
    identity: containerKeyIdentity,
    capabilities,
    ...bindOperations(ctx, { head, read, write, append, list, delete: remove, deletePrefix, copy, signUrl }),
    async close() {
      ctx.knownBuckets.clear();
    },
  };
}
