// Head and read. A reader only ever reads chunks of the data id its manifest
// named, bounded by that manifest's size, so an overwrite can never mix
// versions; when the replaced version expired under a very slow reader, the
// read fails with a retryable UNAVAILABLE instead.
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { resolveRange } from "../kit/byte-range.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkEtag } from "../kit/preconditions.js";
import type { ObjectMeta, ReadOptions, ReadResult } from "../raw-store.js";
import { callFor, cleanupCall, keysOf, manifestOf, type RedisContext } from "./context.js";
import { KIND, notFound } from "./errors.js";
import type { ObjectKeys } from "./keys.js";
import { metaOf, type Manifest } from "./manifest.js";

export async function head(ctx: RedisContext, ref: Ref, signal: AbortSignal): Promise<ObjectMeta | undefined> {
  const reference = referenceOf(ref);
  const m = await manifestOf(ctx, keysOf(ctx, ref.key), callFor(`HEAD ${reference}`, reference, signal));
  return m === undefined ? undefined : metaOf(ref.key, m);
}

export async function read(ctx: RedisContext, ref: Ref, options: ReadOptions, signal: AbortSignal): Promise<ReadResult> {
  const reference = referenceOf(ref);
  throwIfAborted(signal, reference);
  const keys = keysOf(ctx, ref.key);
  const m = await manifestOf(ctx, keys, callFor(`READ ${reference}`, reference, signal));
  if (m === undefined) throw notFound(reference);
  const meta = metaOf(ref.key, m);
  checkEtag(meta, options.ifMatchEtag, reference, "nothing was read");
  const { offset, length } = resolveRange(options.range, m.size, reference);
  let closed = false;
  return {
    meta,
    offset,
    length,
    body: readChunks(ctx, keys, m, offset, length, signal, reference, () => closed),
    // Nothing is held between chunks; closing just stops further reads.
    close: async () => {
      closed = true;
    },
  };
}

/** The bytes [offset, offset + length) of version `m`, a chunk at a time with one chunk read ahead. */
async function* readChunks(
  ctx: RedisContext,
  keys: ObjectKeys,
  m: Manifest,
  offset: number,
  length: number,
  signal: AbortSignal,
  reference: string,
  isClosed: () => boolean,
): AsyncGenerator<Uint8Array> {
  if (length === 0) return;
  const { conn } = ctx;
  const cs = m.chunkBytes;
  const end = offset + length;
  const fetch = (index: number): Promise<Buffer> => {
    const from = Math.max(offset, index * cs) - index * cs;
    const to = Math.min(end, (index + 1) * cs) - index * cs - 1;
    const reading = conn
      .run(callFor(`READ ${reference}`, reference, signal), (c) => c.callBuffer("getrange", [keys.chunk(m.dataId, index), from, to]))
      .then(async (data) => {
        if (!Buffer.isBuffer(data) || data.length !== to - from + 1) throw await vanished(ctx, keys, m, index, reference);
        return data;
      });
    reading.catch(() => {}); // read ahead: awaited (and its error seen) on the next step
    return reading;
  };
  const last = Math.floor((end - 1) / cs);
  let ahead: Promise<Buffer> | undefined = fetch(Math.floor(offset / cs));
  for (let index = Math.floor(offset / cs); ahead !== undefined; index++) {
    throwIfAborted(signal, reference);
    if (isClosed()) return;
    const current: Promise<Buffer> = ahead;
    ahead = index < last ? fetch(index + 1) : undefined;
    yield await current;
  }
}

/** The error for a chunk that is gone: the version was replaced long enough ago, or Redis lost data. */
export async function vanished(ctx: RedisContext, keys: ObjectKeys, m: Manifest, index: number, reference: string): Promise<StowdError> {
  const now = await manifestOf(ctx, keys, cleanupCall(ctx, `READ ${reference}`, reference)).catch(() => undefined);
  if (now === undefined || now.dataId !== m.dataId) {
    return new StowdError(
      "BACKEND_UNAVAILABLE",
      `${reference} was overwritten or deleted while it was read, and the version being read expired (old versions stay readable for ${ctx.settings.graceMs / 1000} s, readGraceSeconds); retry the read`,
      { reference, backend: KIND },
    );
  }
  return new StowdError("INTERNAL", `chunk ${index} of ${reference} is missing from Redis (evicted? use maxmemory-policy noeviction)`, {
    reference,
    backend: KIND,
  });
}
