// The S3 store (`s3://bucket/key`), for AWS S3 and S3-compatible servers
// (verified against Ceph RGW 16). Every idempotent call runs under
// withRetries: a per-attempt timeout inside a total deadline (context.ts).
// Topic files: read.ts, write.ts (PutObject or a streamed multipart upload:
// multipart.ts, upload.ts), copy.ts, list.ts, delete.ts, signed-urls.ts;
// conditions.ts says how preconditions reach S3 and where they are only
// checked by HEAD.
import { bindOperations } from "../kit/bind-operations.js";
import { containerKeyIdentity } from "../kit/object-identity.js";
import type { Capabilities, RawStore } from "../raw-store.js";
import type { S3StoreOptions } from "./config.js";
import { createS3Context } from "./context.js";
import { copy } from "./copy.js";
import { deletePrefix, remove } from "./delete.js";
import { S3_KIND } from "./errors.js";
import { list } from "./list.js";
import { head, read } from "./read.js";
import { signUrl } from "./signed-urls.js";
import { append, write } from "./write.js";

export type { S3Credentials, S3StoreOptions } from "./config.js";

const capabilities: Capabilities = {
  rangedReads: true,
  // S3 has no append, and copy-on-write through a multipart upload would not
  // be atomic on servers that ignore conditional CompleteMultipartUpload.
  append: false,
  conditionalWrites: true,
  signedUrls: true,
  delimiterListing: true,
  serverSideCopy: true,
};

export function createS3Store(options: S3StoreOptions = {}): RawStore {
  const ctx = createS3Context(options);
  return {
    kind: S3_KIND,
    identity: containerKeyIdentity,
    capabilities,
    ...bindOperations(ctx, { head, read, write, append, list, delete: remove, deletePrefix, copy, signUrl }),
    async close() {
      ctx.client.destroy();
    },
  };
}
