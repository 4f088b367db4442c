// Deletes on S3. S3 deletes a missing key "successfully", so a delete HEADs
// first to answer false. DeletePrefix lists and deletes in batches of 1000
// with DeleteObjects (one call per batch, not one per key).
import { DeleteObjectCommand, DeleteObjectsCommand } from "@aws-sdk/client-s3";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { checkEtag } from "../kit/preconditions.js";
import type { DeleteOptions } from "../raw-store.js";
import { call, checkBucket, ifMatchValue, locate, type S3Context } from "./context.js";
import { S3_KIND, isPreconditionFailure } from "./errors.js";
import { listedPages } from "./list.js";
import { headMeta } from "./read.js";

const DELETE_BATCH = 1000;

export async function remove(ctx: S3Context, ref: Ref, options: DeleteOptions, signal: AbortSignal): Promise<boolean> {
  const loc = locate(ref);
  const current = await headMeta(ctx, loc, signal);
  if (current === undefined) return false;
  // RGW 16 ignores If-Match on DELETE, so the comparison here is what
  // guards it there (a write between it and the delete is lost); AWS S3
  // checks the If-Match we also send atomically.
  checkEtag(current, options.ifMatchEtag, loc.reference, "nothing was deleted");
  try {
    await call(ctx, "DELETE", loc, signal, { idempotent: true }, (s) =>
      ctx.client.send(
        new DeleteObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          ...(options.ifMatchEtag === undefined ? {} : { IfMatch: ifMatchValue(ctx, options.ifMatchEtag) }),
        }),
        {
          abortSignal: s,
        },
      ),
    );
  } catch (err) {
    if (isPreconditionFailure(err)) {
      throw new StowdError(
        "PRECONDITION_FAILED",
        `${loc.reference} no longer has etag "${options.ifMatchEtag ?? ""}"; nothing was deleted`,
        { reference: loc.reference, backend: S3_KIND, cause: err },
      );
    }
    throw err;
  }
  return true;
}

export async function deletePrefix(ctx: S3Context, prefix: Ref, signal: AbortSignal): Promise<number> {
  const loc = locate(prefix);
  checkBucket(loc);
  let count = 0;
  for await (const { keys } of listedPages(ctx, loc, { delimiter: "", maxKeys: DELETE_BATCH, afterLastKey: true }, signal)) {
    if (keys.length === 0) continue;
    const result = await call(ctx, "DELETE OBJECTS", loc, signal, { idempotent: true }, (s) =>
      ctx.client.send(new DeleteObjectsCommand({ Bucket: loc.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }), {
        abortSignal: s,
      }),
    );
    const errors = result.Errors ?? [];
    count += keys.length - errors.length;
    const firstError = errors[0];
    if (firstError !== undefined) {
      const reason = firstError.Code === "AccessDenied" ? "PERMISSION_DENIED" : "INTERNAL";
      throw new StowdError(
        reason,
        `deleting under ${loc.reference} failed for ${errors.length} object(s) after ${count} were deleted; first: ${firstError.Key ?? "?"}: ${firstError.Code ?? "?"} ${firstError.Message ?? ""}`,
        { reference: loc.reference, backend: S3_KIND },
      );
    }
  }
  return count;
}
