// Head and read on S3. A missing object answers HEAD with 404 whether or not
// its bucket exists, so a miss checks the bucket once (then remembers it).
// Reads send the range and If-Match with the GET and check what came back:
// S3 refuses any range of an empty object, and RGW 16 matches If-Match on
// GET by prefix.
import type { Readable } from "node:stream";
import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, type GetObjectCommandOutput } from "@aws-sdk/client-s3";
import { StowdError, isStowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortable, throwIfAborted } from "../kit/abort.js";
import { withoutWhereabouts } from "../kit/backend-error-text.js";
import { resolveRange } from "../kit/byte-range.js";
import { emptyRead } from "../kit/empty-read.js";
import { parseContentRange } from "../kit/content-range.js";
import { unquoteEtag } from "../kit/etag.js";
import { checkEtag } from "../kit/preconditions.js";
import type { ObjectMeta, RangeRequest, ReadOptions, ReadResult } from "../raw-store.js";
import { call, ifMatchValue, locate, nameable, type Loc, type S3Context } from "./context.js";
import { S3_KIND, isPreconditionFailure, noSuchBucket, s3Status } from "./errors.js";
import { metaOf } from "./metadata.js";

export async function head(ctx: S3Context, ref: Ref, signal: AbortSignal): Promise<ObjectMeta | undefined> {
  return headMeta(ctx, locate(ref), signal);
}

export async function read(ctx: S3Context, ref: Ref, options: ReadOptions, signal: AbortSignal): Promise<ReadResult> {
  const loc = locate(ref);
  throwIfAborted(signal, loc.reference);
  if (!nameable(loc)) throw new StowdError("NOT_FOUND", `${loc.reference} does not exist`, { reference: loc.reference, backend: S3_KIND });
  return readObject(ctx, loc, options.range, options.ifMatchEtag, signal);
}

/** The object's info, or undefined when it does not exist (NOT_FOUND when its bucket does not). */
export async function headMeta(ctx: S3Context, loc: Loc, signal: AbortSignal): Promise<ObjectMeta | undefined> {
  if (!nameable(loc)) return undefined;
  const out = await call(ctx, "HEAD", loc, signal, { idempotent: true }, async (s) => {
    try {
      return await ctx.client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: s });
    } catch (err) {
      if (s3Status(err) === 404) return undefined;
      throw err;
    }
  });
  if (out === undefined) {
    await ensureBucket(ctx, loc, signal);
    return undefined;
  }
  ctx.knownBuckets.add(loc.bucket);
  return metaOf(loc.key, out.ContentLength ?? 0, out);
}

/** Throws the missing-bucket error if `bucket` does not exist (checked once per bucket). */
async function ensureBucket(ctx: S3Context, loc: Loc, signal: AbortSignal): Promise<void> {
  if (ctx.knownBuckets.has(loc.bucket)) return;
  const exists = await call(ctx, "HEAD BUCKET", loc, signal, { idempotent: true }, async (s) => {
    try {
      await ctx.client.send(new HeadBucketCommand({ Bucket: loc.bucket }), { abortSignal: s });
      return true;
    } catch (err) {
      if (s3Status(err) === 404) return false;
      // Credentials limited to objects may not look at the bucket: assume it exists.
      if (s3Status(err) === 403) return undefined;
      throw err;
    }
  });
  if (exists === false)
    throw noSuchBucket({ reference: loc.reference, bucket: loc.bucket, endpoint: ctx.endpoint, operation: "HEAD BUCKET" });
  if (exists === true) ctx.knownBuckets.add(loc.bucket);
}

/** The Range header for a request; undefined = the whole object. */
function rangeHeader(range: RangeRequest | undefined): string | undefined {
  if (range === undefined) return undefined;
  if (range.suffixLength > 0) return `bytes=-${range.suffixLength}`;
  if (range.offset === 0 && range.length === 0) return undefined;
  return `bytes=${range.offset}-${range.length > 0 ? range.offset + range.length - 1 : ""}`;
}

/** Opens a GET; the response body stays attached to `controller`, not to the attempt's timeout. */
async function openGet(ctx: S3Context, loc: Loc, range: string | undefined, ifMatchEtag: string | undefined, signal: AbortSignal) {
  return call(ctx, "GET", loc, signal, { idempotent: true }, async (attemptSignal) => {
    const controller = new AbortController();
    const relay = () => controller.abort(attemptSignal.reason);
    attemptSignal.addEventListener("abort", relay, { once: true });
    try {
      const out: GetObjectCommandOutput = await ctx.client.send(
        new GetObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          ...(range === undefined ? {} : { Range: range }),
          ...(ifMatchEtag === undefined ? {} : { IfMatch: ifMatchValue(ctx, ifMatchEtag) }),
        }),
        { abortSignal: controller.signal },
      );
      return { out, controller };
    } catch (err) {
      if (s3Status(err) === 416) return "unsatisfiable" as const;
      throw err;
    } finally {
      attemptSignal.removeEventListener("abort", relay);
    }
  });
}

async function readObject(
  ctx: S3Context,
  loc: Loc,
  range: RangeRequest | undefined,
  ifMatchEtag: string | undefined,
  signal: AbortSignal,
): Promise<ReadResult> {
  const header = rangeHeader(range);
  for (let attempt = 1; ; attempt++) {
    let opened;
    try {
      opened = await openGet(ctx, loc, header, ifMatchEtag, signal);
    } catch (err) {
      if (isPreconditionFailure(err)) {
        const current = await headMeta(ctx, loc, signal);
        if (current === undefined)
          throw new StowdError("NOT_FOUND", `${loc.reference} does not exist`, { reference: loc.reference, backend: S3_KIND });
        checkEtag(current, ifMatchEtag, loc.reference, "nothing was read");
        if (attempt < 3) continue; // changed back meanwhile
      }
      throw err;
    }
    if (opened === "unsatisfiable") {
      // S3 refuses any range of an empty object and any offset past the
      // end; resolveRange decides what is really out of range.
      const current = await headMeta(ctx, loc, signal);
      if (current === undefined)
        throw new StowdError("NOT_FOUND", `${loc.reference} does not exist`, { reference: loc.reference, backend: S3_KIND });
      checkEtag(current, ifMatchEtag, loc.reference, "nothing was read");
      const resolved = resolveRange(range, current.size, loc.reference);
      if (resolved.length === 0) return emptyRead(current, resolved.offset);
      if (attempt < 3) continue; // the object grew meanwhile
      throw new StowdError("OUT_OF_RANGE", `the range is outside ${loc.reference}`, {
        reference: loc.reference,
        size: current.size,
        field: "range",
      });
    }
    const { out, controller } = opened;
    const stream = out.Body as Readable | undefined;
    // RGW 16 matches If-Match on GET by prefix: check the served version exactly.
    if (ifMatchEtag !== undefined && unquoteEtag(out.ETag) !== ifMatchEtag) {
      stream?.destroy();
      controller.abort();
      throw new StowdError(
        "PRECONDITION_FAILED",
        `${loc.reference} has etag "${unquoteEtag(out.ETag)}", not the expected "${ifMatchEtag}"; nothing was read`,
        {
          reference: loc.reference,
          backend: S3_KIND,
        },
      );
    }
    const contentRange = parseContentRange(out.ContentRange);
    const size = contentRange?.size ?? out.ContentLength ?? 0;
    const meta = metaOf(loc.key, size, out);
    let offset: number;
    let length: number;
    let skip = 0;
    if (contentRange !== undefined) {
      offset = contentRange.start;
      length = contentRange.end - contentRange.start + 1;
    } else {
      // A whole-object answer (no range asked, or a server that ignored it): cut it here.
      ({ offset, length } = resolveRange(range, size, loc.reference));
      skip = offset;
    }
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      stream?.destroy();
      controller.abort();
    };
    return { meta, offset, length, body: body(ctx, loc, stream, skip, length, close, signal), close };
  }
}

/** The served bytes: `skip` dropped, cut at `length`, and a short body is an error. */
async function* body(
  ctx: S3Context,
  loc: Loc,
  stream: Readable | undefined,
  skip: number,
  length: number,
  close: () => Promise<void>,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  let toSkip = skip;
  try {
    if (stream === undefined) return;
    for await (const raw of abortable(stream as AsyncIterable<Uint8Array>, signal, loc.reference)) {
      let chunk = raw;
      if (toSkip > 0) {
        const n = Math.min(toSkip, chunk.length);
        toSkip -= n;
        chunk = chunk.subarray(n);
      }
      if (received + chunk.length > length) chunk = chunk.subarray(0, length - received);
      if (chunk.length === 0) continue;
      received += chunk.length;
      yield chunk;
      if (received === length) break;
    }
  } catch (err) {
    if (isStowdError(err)) throw err;
    throw new StowdError(
      "BACKEND_UNAVAILABLE",
      `reading ${loc.reference} from S3 broke off after ${received} of ${length} bytes: ${withoutWhereabouts(String(err), { backend: S3_KIND, endpoint: ctx.endpoint })}`,
      {
        reference: loc.reference,
        backend: S3_KIND,
        cause: err,
      },
    );
  } finally {
    await close();
  }
  if (received !== length) {
    throw new StowdError("BACKEND_UNAVAILABLE", `reading ${loc.reference} from S3 ended after ${received} of ${length} bytes`, {
      reference: loc.reference,
      backend: S3_KIND,
    });
  }
}
