// Head and read on Azure. A GET carries the range and If-Match; a suffix
// range needs the size first, so it HEADs and then pins the GET to that
// etag. Each wait for the next body chunk gets the attempt timeout, so a
// backend that stalls mid-body fails the read instead of hanging it.
import { StowdError } from "../../../common/errors.js";
import { nextOrAbort } from "../../next-or-abort.js";
import type { Ref } from "../../references/reference.js";
import { abortError } from "../kit/abort.js";
import { resolveRange } from "../kit/byte-range.js";
import { emptyRead } from "../kit/empty-read.js";
import { parseContentRange } from "../kit/content-range.js";
import { quoteEtag } from "../kit/etag.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkEtag } from "../kit/preconditions.js";
import type { ObjectMeta, ReadOptions, ReadResult } from "../raw-store.js";
import { blobOf, checkRef, fail, run, type AzureContext } from "./context.js";
import { AZURE_KIND, isAzure } from "./errors.js";
import { toMeta, type BlobProps } from "./metadata.js";

export async function head(ctx: AzureContext, ref: Ref, signal: AbortSignal): Promise<ObjectMeta | undefined> {
  checkRef(ctx, ref, true);
  return headMeta(ctx, ref, signal);
}

/** The blob's properties, or undefined when it does not exist. */
export async function getProps(ctx: AzureContext, ref: Ref, signal: AbortSignal) {
  try {
    return await run(ctx, "HEAD", ref, signal, true, (s) => blobOf(ctx, ref).getProperties({ abortSignal: s }));
  } catch (err) {
    if (isAzure(err, 404, "BlobNotFound") || isAzure(err, 404, "")) return undefined;
    throw fail(ctx, err, ref, signal);
  }
}

export async function headMeta(ctx: AzureContext, ref: Ref, signal: AbortSignal): Promise<ObjectMeta | undefined> {
  const props = await getProps(ctx, ref, signal);
  return props === undefined ? undefined : toMeta(ref.key, props);
}

/** The blob's info; NOT_FOUND when it does not exist. */
export async function existingMeta(ctx: AzureContext, ref: Ref, signal: AbortSignal): Promise<ObjectMeta> {
  const meta = await headMeta(ctx, ref, signal);
  if (meta === undefined)
    throw new StowdError("NOT_FOUND", `${referenceOf(ref)} does not exist`, { reference: referenceOf(ref), backend: AZURE_KIND });
  return meta;
}

export async function read(ctx: AzureContext, ref: Ref, options: ReadOptions, signal: AbortSignal): Promise<ReadResult> {
  const reference = referenceOf(ref);
  checkRef(ctx, ref, true);
  const range = options.range;
  for (let attempt = 1; ; attempt++) {
    let offset = 0;
    let count: number | undefined;
    let known: ObjectMeta | undefined;
    if (range !== undefined && range.suffixLength > 0) {
      // A suffix needs the size first; the GET then pins the version by etag.
      known = await existingMeta(ctx, ref, signal);
      checkEtag(known, options.ifMatchEtag, reference, "nothing was read");
      const resolved = resolveRange(range, known.size, reference);
      if (resolved.length === 0) return emptyRead(known, resolved.offset);
      offset = resolved.offset;
      count = resolved.length;
    } else if (range !== undefined) {
      offset = range.offset;
      count = range.length === 0 ? undefined : range.length;
    }
    const ifMatch = known?.etag ?? options.ifMatchEtag;
    let opened;
    try {
      opened = await openDownload(ctx, ref, offset, count, ifMatch, signal);
    } catch (err) {
      if (isAzure(err, 416)) {
        // Past the end, or any range of an empty blob: resolveRange decides which.
        const current = await existingMeta(ctx, ref, signal);
        checkEtag(current, options.ifMatchEtag, reference, "nothing was read");
        const resolved = resolveRange(range, current.size, reference);
        if (resolved.length === 0) return emptyRead(current, resolved.offset);
        if (attempt < 3) continue; // it grew meanwhile
      }
      if (isAzure(err, 412)) {
        const current = await existingMeta(ctx, ref, signal);
        checkEtag(current, options.ifMatchEtag, reference, "nothing was read");
        if (known !== undefined && attempt < 3) continue; // replaced between HEAD and GET
      }
      throw fail(ctx, err, ref, signal);
    }
    const { response, stream, release } = opened;
    const served = parseContentRange(response.contentRange);
    const length = response.contentLength ?? 0;
    // The SDK's download response exposes its fields as getters: pick them, do not spread.
    const props: BlobProps = {
      etag: response.etag,
      contentType: response.contentType,
      contentMD5: response.blobContentMD5 ?? (served === undefined ? response.contentMD5 : undefined),
      lastModified: response.lastModified,
      versionId: response.versionId,
      metadata: response.metadata,
    };
    const meta = toMeta(ref.key, props, served?.size ?? length);
    if (range !== undefined && range.suffixLength === 0) {
      try {
        resolveRange(range, meta.size, reference); // azurite serves 0 bytes at offset == size where Azure answers 416
      } catch (err) {
        release();
        throw err;
      }
    }
    if (stream === undefined || length === 0) {
      release();
      return emptyRead(meta, served?.start ?? offset);
    }
    return { meta, offset: served?.start ?? offset, length, body: body(ctx, ref, stream, release, signal), close: async () => release() };
  }
}

/** The body of a download, each wait for a chunk bounded by the attempt timeout; releases the download when done. */
async function* body(
  ctx: AzureContext,
  ref: Ref,
  source: AsyncIterable<Buffer>,
  release: () => void,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const reference = referenceOf(ref);
  const stalled = () =>
    new StowdError("DEADLINE_EXCEEDED", `the azure backend stopped sending ${reference} for ${ctx.policy.attemptTimeoutMs} ms`, {
      reference,
      backend: AZURE_KIND,
    });
  const it = source[Symbol.asyncIterator]();
  const idle = new AbortController();
  const waiting = AbortSignal.any([signal, idle.signal]);
  try {
    for (;;) {
      const timer = setTimeout(() => idle.abort(), ctx.policy.attemptTimeoutMs);
      let next: IteratorResult<Buffer>;
      try {
        next = await nextOrAbort(it, waiting, () => (signal.aborted ? abortError(signal, reference) : stalled()));
      } finally {
        clearTimeout(timer);
      }
      if (next.done === true) return;
      yield next.value;
    }
  } catch (err) {
    throw fail(ctx, err, ref, signal);
  } finally {
    release();
  }
}

/** Opens a GET; the attempt timeout covers the wait for the answer, not the streaming of the body. */
export async function openDownload(
  ctx: AzureContext,
  ref: Ref,
  offset: number,
  count: number | undefined,
  ifMatch: string | undefined,
  signal: AbortSignal,
) {
  // One controller per attempt: an attempt that timed out aborts its own,
  // and a shared one would make every retry fail at once as "canceled".
  let own = new AbortController();
  try {
    const response = await run(ctx, "GET", ref, signal, true, async (attemptSignal) => {
      const current = (own = new AbortController());
      const onTimeout = () => current.abort(attemptSignal.reason);
      attemptSignal.addEventListener("abort", onTimeout, { once: true });
      try {
        return await blobOf(ctx, ref).download(offset, count, {
          abortSignal: AbortSignal.any([signal, current.signal]),
          // The SDK resumes a broken body from where it stopped, pinned to the etag.
          maxRetryRequests: Math.max(0, ctx.policy.attempts - 1),
          ...(ifMatch === undefined ? {} : { conditions: { ifMatch: quoteEtag(ifMatch) } }),
        });
      } finally {
        attemptSignal.removeEventListener("abort", onTimeout);
      }
    });
    const stream = response.readableStreamBody as (AsyncIterable<Buffer> & { destroy?: () => void }) | undefined;
    const release = () => {
      own.abort();
      stream?.destroy?.();
    };
    return { response, stream, release };
  } catch (err) {
    own.abort();
    throw err;
  }
}
