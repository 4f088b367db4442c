// Server-side copies on S3: one CopyObject up to its 5 GiB limit (or the
// configured threshold), part by part with UploadPartCopy above it. The
// source is pinned to the version a HEAD just saw; when the source changes
// under a copy, the copy is tried again (up to three times).
import { CopyObjectCommand, UploadPartCopyCommand } from "@aws-sdk/client-s3";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { quoteEtag, unquoteEtag } from "../kit/etag.js";
import { checkEtag, hasPreconditions } from "../kit/preconditions.js";
import type { CopyOptions, ObjectMeta, Preconditions } from "../raw-store.js";
import { checkByHead, conditionalHeaders, preconditionError } from "./conditions.js";
import { S3_MAX_PARTS, call, locate, nameable, requireS3Key, type Loc, type S3Context } from "./context.js";
import { S3_KIND, isPreconditionFailure } from "./errors.js";
import { toS3Metadata } from "./metadata.js";
import { uploadParts } from "./multipart.js";
import { headMeta } from "./read.js";
import { abortUpload, completeUpload, createUpload, partSizeFor } from "./upload.js";

export async function copy(ctx: S3Context, source: Ref, destination: Ref, options: CopyOptions, signal: AbortSignal): Promise<ObjectMeta> {
  const from = locate(source);
  const to = locate(destination);
  requireS3Key(destination, to);
  throwIfAborted(signal, to.reference);
  if (!nameable(from))
    throw new StowdError("NOT_FOUND", `${from.reference} does not exist; nothing was copied`, {
      reference: from.reference,
      backend: S3_KIND,
    });
  return copyObject(ctx, from, to, options, signal);
}

/** `x-amz-copy-source`: bucket and key, URL-encoded. */
function copySource(loc: Loc): string {
  return `${loc.bucket}/${loc.key.split("/").map(encodeURIComponent).join("/")}`;
}

async function copyObject(ctx: S3Context, from: Loc, to: Loc, options: CopyOptions, signal: AbortSignal): Promise<ObjectMeta> {
  const pre = options.preconditions;
  for (let attempt = 1; ; attempt++) {
    const source = await headMeta(ctx, from, signal);
    if (source === undefined)
      throw new StowdError("NOT_FOUND", `${from.reference} does not exist; nothing was copied`, {
        reference: from.reference,
        backend: S3_KIND,
      });
    checkEtag(source, options.ifSourceMatchEtag, from.reference, "nothing was copied");
    // Best effort where the server ignores conditional copies (RGW 16); atomic on AWS S3.
    await checkByHead(ctx, to, pre, signal);
    throwIfAborted(signal, to.reference);
    const rawMetadata = toS3Metadata(source.metadata, source.contentMd5, source.crc32c);
    try {
      if (source.size > ctx.copyThreshold) return await copyInParts(ctx, from, to, source, rawMetadata, pre, signal);
      const sameObject = from.bucket === to.bucket && from.key === to.key;
      const out = await call(ctx, "COPY", to, signal, { idempotent: !hasPreconditions(pre) }, (s) =>
        ctx.client.send(
          new CopyObjectCommand({
            Bucket: to.bucket,
            Key: to.key,
            CopySource: copySource(from),
            // The version we just looked at, so the info we return is the copy's.
            CopySourceIfMatch: quoteEtag(source.etag),
            // S3 refuses to copy an object onto itself unless the metadata is replaced (with itself).
            ...(sameObject
              ? { MetadataDirective: "REPLACE", ContentType: source.contentType, Metadata: rawMetadata }
              : { MetadataDirective: "COPY" }),
            ...conditionalHeaders(ctx, pre),
          }),
          { abortSignal: s },
        ),
      );
      return {
        ...source,
        key: to.key,
        etag: unquoteEtag(out.CopyObjectResult?.ETag) || source.etag,
        updated: out.CopyObjectResult?.LastModified ?? new Date(),
        generation: out.VersionId ?? "",
      };
    } catch (err) {
      if (!isPreconditionFailure(err)) throw err;
      // Which condition failed: the source's (it changed since the HEAD) or the destination's?
      const now = await headMeta(ctx, from, signal);
      if (now?.etag === source.etag) throw await preconditionError(ctx, to, pre, signal, err);
      if (attempt >= 3)
        throw new StowdError("BACKEND_UNAVAILABLE", `${from.reference} kept changing while it was copied; nothing was copied`, {
          reference: from.reference,
          backend: S3_KIND,
          cause: err,
        });
    }
  }
}

/** Copies above CopyObject's 5 GiB limit, part by part on the server. */
async function copyInParts(
  ctx: S3Context,
  from: Loc,
  to: Loc,
  source: ObjectMeta,
  rawMetadata: Record<string, string>,
  pre: Preconditions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const size = partSizeFor(source.size, ctx.copyPartSize);
  const uploadId = await createUpload(ctx, to, source.contentType, rawMetadata, signal);
  try {
    let start = 0;
    const parts = await uploadParts<{ start: number; end: number }>({
      next: async () => {
        if (start >= source.size) return undefined;
        const range = { start, end: Math.min(source.size, start + size) - 1 };
        start = range.end + 1;
        return range;
      },
      upload: async (range, partNumber, partSignal) => {
        const out = await call(ctx, `COPY PART ${partNumber}`, to, partSignal, { idempotent: true }, (s) =>
          ctx.client.send(
            new UploadPartCopyCommand({
              Bucket: to.bucket,
              Key: to.key,
              UploadId: uploadId,
              PartNumber: partNumber,
              CopySource: copySource(from),
              CopySourceRange: `bytes=${range.start}-${range.end}`,
              CopySourceIfMatch: quoteEtag(source.etag),
            }),
            { abortSignal: s },
          ),
        );
        return { PartNumber: partNumber, ETag: out.CopyPartResult?.ETag ?? "" };
      },
      concurrency: ctx.concurrency,
      maxParts: S3_MAX_PARTS,
      tooManyParts: () =>
        new StowdError("INTERNAL", `copying ${from.reference} needs more than ${S3_MAX_PARTS} parts`, { reference: to.reference }),
      signal,
    });
    // RGW 16 ignores the source condition on part copies: make sure every part came from one version.
    const after = await headMeta(ctx, from, signal);
    if (after?.etag !== source.etag) {
      throw new StowdError("PRECONDITION_FAILED", `${from.reference} changed while it was copied; nothing was copied`, {
        reference: from.reference,
        backend: S3_KIND,
      });
    }
    return await completeUpload(ctx, to, uploadId, parts, pre, signal, {
      key: to.key,
      size: source.size,
      ...(source.contentMd5 === undefined ? {} : { contentMd5: source.contentMd5 }),
      ...(source.crc32c === undefined ? {} : { crc32c: source.crc32c }),
      contentType: source.contentType,
      metadata: source.metadata,
    });
  } catch (err) {
    await abortUpload(ctx, to, uploadId);
    throw err;
  }
}
