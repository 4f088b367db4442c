// A multipart upload's life on the server, shared by streamed writes and
// large copies: create it, commit its parts under the write's
// preconditions, or abort it so no parts are left behind. (multipart.ts
// cuts bodies into parts and uploads them in bounded parallel.)
import { MiB } from "../../../common/units.js";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type CompleteMultipartUploadCommandOutput,
} from "@aws-sdk/client-s3";
import { StowdError } from "../../../common/errors.js";
import { log } from "../../observability/log.js";
import { throwIfAborted } from "../kit/abort.js";
import { unquoteEtag } from "../kit/etag.js";
import { hasPreconditions } from "../kit/preconditions.js";
import type { ObjectMeta, Preconditions } from "../raw-store.js";
import { checkByHead, conditionalHeaders, preconditionError } from "./conditions.js";
import { S3_MAX_PART_BYTES, S3_MAX_PARTS, call, cleanupSignal, type Loc, type S3Context } from "./context.js";
import { S3_KIND, isPreconditionFailure, s3Code, s3Status } from "./errors.js";
import type { UploadedPart } from "./multipart.js";
import { headMeta } from "./read.js";

/** `configured`, or whole MiB large enough for `size` bytes to fit in 10000 parts. */
export function partSizeFor(size: number | undefined, configured: number): number {
  const needed = size === undefined ? 0 : Math.ceil(size / S3_MAX_PARTS);
  return needed <= configured ? configured : Math.min(S3_MAX_PART_BYTES, Math.ceil(needed / MiB) * MiB);
}

export async function createUpload(
  ctx: S3Context,
  loc: Loc,
  contentType: string,
  metadata: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  // Not repeated after an answer that might have created an upload we would then never abort.
  const out = await call(
    ctx,
    "CREATE MULTIPART UPLOAD",
    loc,
    signal,
    { idempotent: true, isRetryable: (err) => s3Code(err) === "ECONNREFUSED" || s3Status(err) === 503 },
    (s) =>
      ctx.client.send(
        new CreateMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, ContentType: contentType, Metadata: metadata }),
        { abortSignal: s },
      ),
  );
  if (out.UploadId === undefined)
    throw new StowdError("INTERNAL", `S3 answered CreateMultipartUpload for ${loc.reference} without an upload id`, {
      reference: loc.reference,
      backend: S3_KIND,
    });
  return out.UploadId;
}

export async function abortUpload(ctx: S3Context, loc: Loc, uploadId: string): Promise<void> {
  try {
    await call(ctx, "ABORT MULTIPART UPLOAD", loc, cleanupSignal(), { idempotent: true }, (s) =>
      ctx.client.send(new AbortMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId }), { abortSignal: s }),
    );
  } catch (err) {
    if (s3Code((err as StowdError).facts?.cause) === "NoSuchUpload") return;
    log("warn", "could not abort an S3 multipart upload; its parts stay until a lifecycle rule removes them", {
      reference: loc.reference,
      uploadId,
      endpoint: ctx.endpoint,
      error: String(err),
    });
  }
}

/**
 * Commits uploaded parts under `pre`: checked by HEAD first (servers like
 * RGW 16 ignore conditional CompleteMultipartUpload), then sent with the
 * conditional headers (atomic where honoured). Returns the new object's info.
 */
export async function completeUpload(
  ctx: S3Context,
  loc: Loc,
  uploadId: string,
  parts: UploadedPart[],
  pre: Preconditions,
  signal: AbortSignal,
  known: Omit<ObjectMeta, "etag" | "updated" | "generation">,
): Promise<ObjectMeta> {
  await checkByHead(ctx, loc, pre, signal);
  throwIfAborted(signal, loc.reference);
  let out: CompleteMultipartUploadCommandOutput;
  try {
    out = await call(ctx, "COMPLETE MULTIPART UPLOAD", loc, signal, { idempotent: !hasPreconditions(pre) }, (s) =>
      ctx.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...conditionalHeaders(ctx, pre),
        }),
        {
          abortSignal: s,
        },
      ),
    );
  } catch (err) {
    if (isPreconditionFailure(err)) throw await preconditionError(ctx, loc, pre, signal, err);
    throw err;
  }
  // RGW answers some completions with an empty ETag: read the committed object's info.
  const etag = unquoteEtag(out.ETag);
  const head = await headMeta(ctx, loc, cleanupSignal()).catch(() => undefined);
  if (head !== undefined && (etag === "" || head.etag === etag)) {
    return { ...head, ...(known.contentMd5 === undefined ? {} : { contentMd5: known.contentMd5 }) };
  }
  return { ...known, etag, updated: new Date(), generation: out.VersionId ?? "" };
}
