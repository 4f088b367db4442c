// Uploads to GCS, shared by writes and append's staging: a body of known
// size up to `singleRequestMaxBytes`, or one of unknown size that ends
// before that, goes in one multipart request (with its MD5, which GCS
// verifies); anything larger is a resumable upload in `chunkBytes` chunks.
// Either way nothing is visible until GCS commits, and a failed upload's
// session is cancelled.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortable, abortError, throwIfAborted } from "../kit/abort.js";
import { crc32cOf, crc32cToBase64 } from "../kit/crc32c.js";
import type { Preconditions } from "../raw-store.js";
import { preconditionFailure, type Conditions } from "./conditions.js";
import { fail, fileOf, retrying, type GcsContext } from "./context.js";
import { GCS_KIND, gcsStatus } from "./errors.js";
import type { GcsObject, UploadResource } from "./metadata.js";
import { requireBucket } from "./read.js";
import { addRequestOptions, settleOrAbort } from "./requests.js";

/** Body chunks are gathered (and copied) into pieces of about this size for the upload stream. */
const BATCH_BYTES = 256 * 1024;
const CANCEL_SESSION_MS = 5_000;

/** Uploads `body`; picks one request or a resumable session by size (known, or found out by reading ahead). */
export async function upload(
  ctx: GcsContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  resource: UploadResource,
  conditions: Conditions,
  size: number | undefined,
  signal: AbortSignal,
  reference: string,
): Promise<GcsObject> {
  const source = abortable(watched(ctx, body), signal, reference)[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let firstBytes = 0;
  // Unknown size: read ahead up to the single-request limit. Known: the size decides.
  const limit = size === undefined ? ctx.singleRequestMaxBytes : size <= ctx.singleRequestMaxBytes ? Infinity : -1;
  try {
    for (;;) {
      if (firstBytes > limit) break;
      const next = await source.next();
      if (next.done) {
        throwIfAborted(signal, reference);
        return await singleRequest(ctx, ref, Buffer.concat(first), resource, conditions, signal, reference);
      }
      first.push(Buffer.from(next.value)); // a copy: callers may reuse their chunks
      firstBytes += next.value.length;
    }
    return await resumable(ctx, ref, first, source, resource, conditions, size, signal, reference);
  } finally {
    // Release the caller's body when the upload failed before taking all of it (a no-op after the end).
    void source.return?.(undefined)?.catch(() => {});
  }
}

/** The error for a failed upload: the caller's own body failure as it is, 412 → the precondition's error, 404 → the missing bucket. */
export async function uploadFailure(
  ctx: GcsContext,
  err: unknown,
  ref: Ref,
  pre: Preconditions,
  signal: AbortSignal,
  reference: string,
  doing: string,
): Promise<unknown> {
  if (err instanceof StowdError || ctx.bodyFailures.has(err as object)) return err;
  if (signal.aborted) return abortError(signal, reference);
  const status = gcsStatus(err);
  if (status === 412) return preconditionFailure(ctx, ref, pre, signal, reference, err);
  if (status === 404) await requireBucket(ctx, ref.container, reference, signal, false);
  return fail(ctx, err, reference, doing);
}

/** `body`, noting what it throws in bodyFailures. */
async function* watched(ctx: GcsContext, body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await it.next();
      } catch (err) {
        if (err !== null && typeof err === "object") ctx.bodyFailures.add(err);
        throw err;
      }
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) void it.return?.()?.catch(() => {});
  }
}

/** One multipart request: all or nothing, with the MD5 and CRC32C GCS checks. */
async function singleRequest(
  ctx: GcsContext,
  ref: Ref,
  data: Buffer,
  resource: UploadResource,
  conditions: Conditions,
  signal: AbortSignal,
  reference: string,
): Promise<GcsObject> {
  const md5Hash = resource.md5Hash ?? createHash("md5").update(data).digest("base64");
  const crc32c = resource.crc32c ?? crc32cToBase64(crc32cOf(data));
  return retrying(ctx, reference, "writing", signal, (s) => {
    const file = fileOf(ctx, ref);
    const stream = file.createWriteStream({
      resumable: false,
      validation: false,
      metadata: { ...resource, md5Hash, crc32c },
      preconditionOpts: conditions,
    });
    stream.on("error", () => {}); // the promise below reports it
    return settleOrAbort(
      new Promise<GcsObject>((resolve, reject) => {
        s.addEventListener("abort", () => stream.destroy(), { once: true });
        stream.once("error", reject);
        stream.once("finish", () => resolve(file.metadata));
        stream.end(data);
      }),
      s,
    );
  });
}

/** Starts a resumable session (idempotent: nothing exists until the last chunk). */
async function startSession(
  ctx: GcsContext,
  ref: Ref,
  resource: UploadResource,
  conditions: Conditions,
  size: number | undefined,
  signal: AbortSignal,
  reference: string,
): Promise<string> {
  return retrying(ctx, reference, "starting an upload of", signal, async (s) => {
    const file = fileOf(ctx, ref);
    // Resumable requests go through gaxios, which takes a signal and timeout per request.
    file.interceptors.push(addRequestOptions({ signal: s, timeout: ctx.policy.attemptTimeoutMs }));
    const metadata = { ...resource, ...(size === undefined ? {} : { contentLength: size }) };
    const [uri] = await settleOrAbort(file.createResumableUpload({ metadata, preconditionOpts: conditions }), s);
    return uri;
  });
}

/** Cancels a session that will never finish (GCS would expire it after a week). Best effort. */
function cancelSession(uri: string): void {
  // The session URI is its own credential: no token needed.
  void fetch(uri, { method: "DELETE", signal: AbortSignal.timeout(CANCEL_SESSION_MS) })
    .then((res) => res.body?.cancel())
    .catch(() => {});
}

async function resumable(
  ctx: GcsContext,
  ref: Ref,
  first: Buffer[],
  rest: AsyncIterator<Uint8Array>,
  resource: UploadResource,
  conditions: Conditions,
  size: number | undefined,
  signal: AbortSignal,
  reference: string,
): Promise<GcsObject> {
  const uri = await startSession(ctx, ref, resource, conditions, size, signal, reference);
  const md5 = createHash("md5");
  async function* pieces(): AsyncGenerator<Buffer> {
    for (const piece of first) {
      md5.update(piece);
      yield piece;
    }
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    for (let next = await rest.next(); !next.done; next = await rest.next()) {
      pending.push(next.value);
      pendingBytes += next.value.length;
      if (pendingBytes < BATCH_BYTES) continue;
      // A copy: the SDK keeps a chunk's buffers until GCS acknowledges it, and callers may reuse theirs.
      const piece = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      md5.update(piece);
      yield piece;
    }
    if (pendingBytes > 0) {
      const piece = Buffer.concat(pending);
      md5.update(piece);
      yield piece;
    }
  }
  const file = fileOf(ctx, ref);
  // Each chunk is buffered before it is sent, so a per-request timeout blames only GCS, never a slow client.
  file.interceptors.push(addRequestOptions({ timeout: ctx.policy.attemptTimeoutMs }));
  const upload = file.createWriteStream({
    uri,
    offset: 0,
    resumable: true,
    chunkSize: ctx.chunkBytes,
    validation: false,
    metadata: size === undefined ? {} : { contentLength: size },
  });
  upload.on("error", () => {}); // pipeline reports it
  try {
    await pipeline(Readable.from(pieces()), upload, { signal });
  } catch (err) {
    cancelSession(uri);
    throw err;
  }
  const uploaded = file.metadata;
  const digest = md5.digest("base64");
  if (uploaded.md5Hash !== undefined && uploaded.md5Hash !== digest) {
    // GCS stored other bytes than were sent: take that version back out.
    await retrying(ctx, reference, "removing a corrupt upload of", signal, (s) =>
      settleOrAbort(fileOf(ctx, ref).delete({ ifGenerationMatch: Number(uploaded.generation) }), s),
    ).catch(() => {});
    throw new StowdError(
      "CHECKSUM_MISMATCH",
      `GCS stored ${reference} with MD5 ${uploaded.md5Hash}, but the bytes sent have MD5 ${digest}; the upload was removed`,
      { reference, backend: GCS_KIND },
    );
  }
  return uploaded;
}
