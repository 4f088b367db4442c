// Writes to S3. Small bodies go up as one PutObject; larger or unknown-size
// bodies as a multipart upload whose parts stream in bounded parallel and
// which is aborted on any failure or cancel. S3 has no append.
import { createHash } from "node:crypto";
import { PutObjectCommand, UploadPartCommand, type PutObjectCommandOutput } from "@aws-sdk/client-s3";
import { StowdError, isStowdError, unsupported } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortError, abortable, throwIfAborted } from "../kit/abort.js";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { crc32cOf } from "../kit/crc32c.js";
import { unquoteEtag } from "../kit/etag.js";
import { hasPreconditions } from "../kit/preconditions.js";
import type { ObjectMeta, WriteOptions } from "../raw-store.js";
import { checkByHead, conditionalHeaders, preconditionError } from "./conditions.js";
import { S3_MAX_PARTS, call, locate, requireS3Key, type Loc, type S3Context } from "./context.js";
import { S3_KIND, isPreconditionFailure } from "./errors.js";
import { base64, checkMetadata, toS3Metadata } from "./metadata.js";
import { createPartReader, uploadParts, type BodyPart, type PartReader } from "./multipart.js";
import { partStream, type PartBody } from "./part-body.js";
import { abortUpload, completeUpload, createUpload, partSizeFor } from "./upload.js";

export async function write(
  ctx: S3Context,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const loc = locate(ref);
  requireS3Key(ref, loc);
  checkMetadata(options.metadata, loc.reference);
  throwIfAborted(signal, loc.reference);
  // Fail fast, before taking the body; the commit checks again.
  await checkByHead(ctx, loc, options.preconditions, signal);
  const size = partSizeFor(options.size, ctx.partSize);
  const reader = createPartReader(abortable(body, signal, loc.reference), size);
  let first: BodyPart;
  try {
    first = await reader.next();
  } catch (err) {
    reader.close();
    throw err;
  }
  throwIfAborted(signal, loc.reference);
  if (first.last) return putSingle(ctx, loc, first, options, signal);
  return putMultipart(ctx, loc, first, reader, size, options, signal);
}

export async function append(): Promise<never> {
  throw unsupported(S3_KIND, "append (S3 objects cannot be appended to, and emulating it is not atomic on every S3 server)");
}

function crc32cOfChunks(chunks: Uint8Array[]): number {
  return chunks.reduce((crc, chunk) => crc32cOf(chunk, crc), 0);
}

function md5(chunks: Uint8Array[]): Buffer {
  const hash = createHash("md5");
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest();
}

async function putSingle(ctx: S3Context, loc: Loc, data: PartBody, options: WriteOptions, signal: AbortSignal): Promise<ObjectMeta> {
  // The MD5 is the object's (recorded in its metadata); Content-MD5 makes S3 check it.
  const digest = md5(data.chunks);
  if (options.contentMd5 !== undefined && !digest.equals(Buffer.from(options.contentMd5))) {
    throw new StowdError("CHECKSUM_MISMATCH", `the body of ${loc.reference} does not have the declared MD5; nothing was written`, {
      reference: loc.reference,
    });
  }
  // The body is all here, so its CRC32C is known before the request's metadata is sent.
  const crc32c = options.crc32c?.value() ?? crc32cOfChunks(data.chunks);
  const pre = options.preconditions;
  const contentType = contentTypeOrDefault(options.contentType);
  let out: PutObjectCommandOutput;
  try {
    out = await call(ctx, "PUT", loc, signal, { idempotent: !hasPreconditions(pre) }, (s) =>
      ctx.client.send(
        new PutObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          Body: partStream(data),
          ContentLength: data.size,
          ContentMD5: base64(digest),
          ContentType: contentType,
          Metadata: toS3Metadata(options.metadata, digest, crc32c),
          ...conditionalHeaders(ctx, pre),
        }),
        { abortSignal: s },
      ),
    );
  } catch (err) {
    if (isPreconditionFailure(err)) throw await preconditionError(ctx, loc, pre, signal, err);
    throw err;
  }
  return {
    key: loc.key,
    size: data.size,
    etag: unquoteEtag(out.ETag),
    contentMd5: Uint8Array.from(digest),
    crc32c,
    contentType,
    metadata: { ...options.metadata },
    updated: new Date(),
    generation: out.VersionId ?? "",
  };
}

async function putMultipart(
  ctx: S3Context,
  loc: Loc,
  first: BodyPart,
  reader: PartReader,
  partBytes: number,
  options: WriteOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const contentType = contentTypeOrDefault(options.contentType);
  // The metadata goes with the first request: only a CRC32C declared before the body can be recorded.
  const crc32c = options.crc32c?.declared;
  const uploadId = await createUpload(ctx, loc, contentType, toS3Metadata(options.metadata, options.contentMd5, crc32c), signal);
  let pending: BodyPart | undefined = first;
  let done = false;
  let total = 0;
  try {
    const parts = await uploadParts<PartBody>({
      next: async () => {
        if (done) return undefined;
        const part = pending ?? (await reader.next());
        pending = undefined;
        done = part.last;
        total += part.size;
        return part;
      },
      upload: async (part, partNumber, partSignal) => {
        // The signed payload hash makes S3 check the part's bytes (no Content-MD5 pass of our own).
        const out = await call(ctx, `UPLOAD PART ${partNumber}`, loc, partSignal, { idempotent: true }, (s) =>
          ctx.client.send(
            new UploadPartCommand({
              Bucket: loc.bucket,
              Key: loc.key,
              UploadId: uploadId,
              PartNumber: partNumber,
              Body: partStream(part),
              ContentLength: part.size,
            }),
            { abortSignal: s },
          ),
        );
        return { PartNumber: partNumber, ETag: out.ETag ?? "" };
      },
      concurrency: ctx.concurrency,
      maxParts: S3_MAX_PARTS,
      tooManyParts: () =>
        new StowdError(
          "LIMIT_EXCEEDED",
          `${loc.reference}: a body of unknown size needs more than ${S3_MAX_PARTS} parts of ${partBytes} bytes; declare its size, or raise the part size`,
          {
            reference: loc.reference,
            limit: S3_MAX_PARTS * partBytes,
            backend: S3_KIND,
          },
        ),
      signal,
    });
    throwIfAborted(signal, loc.reference);
    return await completeUpload(ctx, loc, uploadId, parts, options.preconditions, signal, {
      key: loc.key,
      size: total,
      ...(options.contentMd5 === undefined ? {} : { contentMd5: Uint8Array.from(options.contentMd5) }),
      ...(crc32c === undefined ? {} : { crc32c }),
      contentType,
      metadata: { ...options.metadata },
    });
  } catch (err) {
    reader.close();
    await abortUpload(ctx, loc, uploadId);
    if (signal.aborted && !isStowdError(err)) throw abortError(signal, loc.reference);
    throw err;
  }
}
