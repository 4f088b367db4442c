// Head and read on GCS. A read looks at the object first and then reads
// that very generation, so the bytes always match the info it returns. GCS
// answers 404 for a missing object and a missing bucket alike; a miss asks
// which it was (remembered for a while per bucket).
import type { Readable } from "node:stream";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortError, abortable, throwIfAborted } from "../kit/abort.js";
import { resolveRange } from "../kit/byte-range.js";
import { emptyRead } from "../kit/empty-read.js";
import { checkEtag } from "../kit/preconditions.js";
import type { ObjectMeta, ReadOptions, ReadResult } from "../raw-store.js";
import { checkedReference, fail, fileOf, nameProblem, retrying, type GcsContext } from "./context.js";
import { GCS_KIND, bucketMissing, gcsStatus } from "./errors.js";
import { toMeta, type GcsObject } from "./metadata.js";
import { apiRequest, settleOrAbort } from "./requests.js";

/** A bucket seen to exist is not checked again for this long (only a missing object's head asks). */
const BUCKET_CACHE_MS = 60_000;

export async function head(ctx: GcsContext, ref: Ref, signal: AbortSignal): Promise<ObjectMeta | undefined> {
  const resource = await headResource(ctx, ref, signal);
  return resource === undefined ? undefined : toMeta(ref.key, resource);
}

export async function read(ctx: GcsContext, ref: Ref, options: ReadOptions, signal: AbortSignal): Promise<ReadResult> {
  const reference = checkedReference(ref);
  throwIfAborted(signal, reference);
  for (let attempt = 1; ; attempt++) {
    const resource = await headResource(ctx, ref, signal);
    if (resource === undefined) throw new StowdError("NOT_FOUND", `${reference} does not exist`, { reference, backend: GCS_KIND });
    const meta = toMeta(ref.key, resource);
    checkEtag(meta, options.ifMatchEtag, reference, "nothing was read");
    const { offset, length } = resolveRange(options.range, meta.size, reference);
    if (length === 0) return emptyRead(meta, offset);
    let stream: Readable;
    try {
      // Pinned to the generation just seen, so the bytes always match `meta`.
      stream = await openMedia(ctx, ref, resource, offset, length, signal, reference);
    } catch (err) {
      // That generation was replaced in between: look again.
      if (gcsStatus(err) === 404 && attempt < 3) continue;
      if (signal.aborted) throw abortError(signal, reference);
      throw fail(ctx, err, reference, "reading");
    }
    return {
      meta,
      offset,
      length,
      body: streamBody(ctx, stream, signal, reference),
      close: async () => {
        stream.destroy();
      },
    };
  }
}

/** The object's resource, or undefined when it does not exist (NOT_FOUND when the bucket does not). */
export async function headResource(ctx: GcsContext, ref: Ref, signal: AbortSignal): Promise<GcsObject | undefined> {
  const reference = checkedReference(ref);
  if (nameProblem(ref.key) !== undefined) return undefined;
  try {
    const [resource] = await retrying(ctx, reference, "reading the metadata of", signal, (s) =>
      settleOrAbort(fileOf(ctx, ref).getMetadata(), s),
    );
    return resource;
  } catch (err) {
    if (gcsStatus(err) !== 404) throw fail(ctx, err, reference, "reading the metadata of");
    await requireBucket(ctx, ref.container, reference, signal, true);
    return undefined;
  }
}

/**
 * Throws NOT_FOUND naming the bucket when it does not exist. GCS answers
 * 404 for a missing object and a missing bucket alike; a one-item listing
 * tells them apart with the permission the store needs anyway
 * (storage.objects.list, unlike buckets.get, which object-level roles lack).
 */
export async function requireBucket(
  ctx: GcsContext,
  bucket: string,
  reference: string,
  signal: AbortSignal,
  useCache: boolean,
): Promise<void> {
  const seen = ctx.knownBuckets.get(bucket);
  if (useCache && seen !== undefined && Date.now() - seen < BUCKET_CACHE_MS) return;
  try {
    await retrying(ctx, reference, "checking the bucket of", signal, (s) =>
      apiRequest(ctx.storage.bucket(bucket), { uri: "/o", qs: { maxResults: 1 } }, s),
    );
    ctx.knownBuckets.set(bucket, Date.now());
  } catch (err) {
    if (gcsStatus(err) === 404) {
      ctx.knownBuckets.delete(bucket);
      throw bucketMissing(bucket, reference);
    }
    throw fail(ctx, err, reference, "checking the bucket of");
  }
}

/** Opens the media of one generation; resolves once GCS answered with the bytes. */
function openMedia(
  ctx: GcsContext,
  ref: Ref,
  resource: GcsObject,
  offset: number,
  length: number,
  signal: AbortSignal,
  reference: string,
): Promise<Readable> {
  const size = Number(resource.size ?? 0);
  return retrying(ctx, reference, "reading", signal, (s) => {
    const whole = offset === 0 && length === size;
    // Whole reads are checked against GCS's hash: MD5 when it has one (node's MD5 is several times faster than the SDK's JS CRC32C), else CRC32C (composite objects).
    const stream = fileOf(ctx, ref, Number(resource.generation)).createReadStream(
      whole ? { validation: resource.md5Hash === undefined ? "crc32c" : "md5" } : { start: offset, end: offset + length - 1 },
    );
    stream.on("error", () => {}); // the iterator or the promise below reports it
    return new Promise<Readable>((resolve, reject) => {
      const onAbort = () => {
        stream.destroy();
        reject(s.reason as unknown);
      };
      s.addEventListener("abort", onAbort, { once: true });
      const done = () => s.removeEventListener("abort", onAbort);
      stream.once("response", (res: { statusCode?: number }) => {
        // An error answer is followed by the stream's error (after its body is read).
        if ((res.statusCode ?? 0) < 300) {
          done();
          resolve(stream);
        }
      });
      stream.once("error", (err) => {
        done();
        reject(err);
      });
      stream.read(0); // starts the request
    });
  });
}

async function* streamBody(ctx: GcsContext, stream: Readable, signal: AbortSignal, reference: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of abortable(stream as AsyncIterable<Buffer>, signal, reference)) yield chunk;
  } catch (err) {
    throw fail(ctx, err, reference, "reading");
  } finally {
    stream.destroy();
  }
}
