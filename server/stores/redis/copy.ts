// Copy within the redis store: the source's chunks are copied on the same
// chunk grid into staging keys of the destination, inside Redis on a single
// node (COPY_CHUNK) and through the daemon on a cluster (the two objects'
// keys live in different slots), then committed as a new version.
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { mapLimit } from "../kit/map-limit.js";
import { referenceOf, requireKey } from "../kit/object-reference.js";
import { checkEtag, checkPreconditions } from "../kit/preconditions.js";
import type { CopyOptions, ObjectMeta } from "../raw-store.js";
import { writeVersion } from "./commit.js";
import { callFor, keysOf, manifestOf, newId, type RedisContext } from "./context.js";
import { notFound } from "./errors.js";
import { chunkCount } from "./keys.js";
import { metaOf } from "./manifest.js";
import { vanished } from "./read.js";
import { COPY_CHUNK } from "./scripts.js";
import { begin, discard } from "./staging.js";

/** Chunk copies in flight per copy. */
const COPY_CONCURRENCY = 4;

export async function copy(
  ctx: RedisContext,
  source: Ref,
  destination: Ref,
  options: CopyOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const { conn, settings } = ctx;
  const from = referenceOf(source);
  const to = referenceOf(destination);
  requireKey(destination, to);
  throwIfAborted(signal, to);
  const sourceKeys = keysOf(ctx, source.key);
  const src = await manifestOf(ctx, sourceKeys, callFor(`COPY ${from}`, from, signal));
  if (src === undefined) throw notFound(from);
  checkEtag(metaOf(source.key, src), options.ifSourceMatchEtag, from, "nothing was copied");
  const keys = keysOf(ctx, destination.key);
  const writeId = newId();
  const current = await begin(ctx, keys, writeId, callFor(`COPY ${to}`, to, signal));
  try {
    checkPreconditions(current === undefined ? undefined : metaOf(destination.key, current), options.preconditions, to);
  } catch (err) {
    await discard(ctx, destination.key, keys, writeId, [], false, to);
    throw err;
  }
  const attributes = {
    contentType: src.contentType,
    metadata: src.metadata,
    ...(src.contentMd5 === undefined ? {} : { contentMd5: src.contentMd5 }),
    ...(src.crc32c === undefined ? {} : { crc32c: src.crc32c }),
  };
  return writeVersion(
    ctx,
    destination,
    writeId,
    current,
    async (dataId, staged) => {
      const count = chunkCount(src.size, src.chunkBytes);
      const indexes = Array.from({ length: count }, (_, i) => i);
      staged.keys.push(...keys.chunks(dataId, count));
      staged.bytes = src.size;
      // Same chunk grid as the source; a copied chunk is bounded by the source's size (appends may grow it).
      await mapLimit(indexes, COPY_CONCURRENCY, async (i) => {
        const length = Math.min(src.chunkBytes, src.size - i * src.chunkBytes);
        const sourceChunk = sourceKeys.chunk(src.dataId, i);
        const target = keys.chunk(dataId, i);
        const call = callFor(`COPY ${from} to ${to}`, to, signal);
        let copied: boolean;
        if (conn.isCluster) {
          const data = await conn.run(call, (c) => c.callBuffer("getrange", [sourceChunk, 0, length - 1]));
          copied = Buffer.isBuffer(data) && data.length === length;
          if (copied) await conn.run(call, (c) => c.call("set", [target, data as Buffer, "PX", settings.stagingTtlMs]));
        } else {
          copied = Number(await conn.script(call, COPY_CHUNK, [sourceChunk, target], [length, settings.stagingTtlMs])) === 1;
        }
        if (!copied) throw await vanished(ctx, sourceKeys, src, i, from);
      });
      return { chunkBytes: src.chunkBytes };
    },
    options.preconditions,
    attributes,
    signal,
  );
}
