// Writes and appends on Azure; every object stowd writes is a block blob.
// A body that fits in one block goes up in one Put Blob call; a longer one
// is cut into blocks that are staged in parallel (bounded) and committed
// once with Put Block List, which carries the preconditions. Nothing is
// visible before that commit; a failed or cancelled upload commits nothing.
//
// Append stages the new bytes as blocks and re-commits the blob's committed
// block list plus those blocks under If-Match on the etag it read
// (If-None-Match: * when it creates the blob): see block-list.ts, and
// append-blob.ts for append blobs made by other tools.
import { createHash } from "node:crypto";
import { StowdError, unsupported } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortable, throwIfAborted } from "../kit/abort.js";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { appendedCrc32c, trackCrc32c, withCrc32c } from "../kit/crc32c.js";
import { quoteEtag, unquoteEtag } from "../kit/etag.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkAppend, checkPreconditions, hasPreconditions } from "../kit/preconditions.js";
import type { AppendOptions, ObjectMeta, WriteOptions } from "../raw-store.js";
import { appendToAppendBlob } from "./append-blob.js";
import { appendPlan, blobState, restageExisting } from "./block-list.js";
import { BLOCK_ID_BYTES, MAX_COMMITTED_BLOCKS, blockBody, cutBlocks, stageBody, type Block } from "./blocks.js";
import { explainConflict, writeConditions } from "./conditions.js";
import { blockBlobOf, checkRef, fail, locked, run, type AzureContext } from "./context.js";
import { AZURE_KIND, isAzure } from "./errors.js";
import { toAzureMetadata, toMeta, withRawCrc32c, withoutContentMd5 } from "./metadata.js";
import { headMeta } from "./read.js";

const APPEND_ATTEMPTS = 5;

export async function write(
  ctx: AzureContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = referenceOf(ref);
  checkRef(ctx, ref, true);
  const pre = options.preconditions;
  return locked(ctx, ref, signal, async () => {
    // Fail fast, before reading the body; the commit checks again, atomically.
    if (hasPreconditions(pre)) checkPreconditions(await headMeta(ctx, ref, signal), pre, reference);
    // The blob's MD5, unless the caller declared it (and the service verified it).
    const md5 = options.contentMd5 === undefined ? createHash("md5") : undefined;
    const stop = new AbortController();
    const tracked = trackCrc32c(body, options.crc32c);
    const blocks = cutBlocks(abortable(tracked.body, AbortSignal.any([signal, stop.signal]), reference), ctx.blockSize, (chunk) =>
      md5?.update(chunk),
    );
    const iterator = blocks[Symbol.asyncIterator]();
    const head: Block[] = [];
    let next = await iterator.next();
    if (!next.done) {
      head.push(next.value);
      next = await iterator.next();
      if (!next.done) head.push(next.value);
    }
    throwIfAborted(signal, reference);
    const contentType = contentTypeOrDefault(options.contentType);
    // Once the whole body has been read: the metadata records its CRC32C.
    const metadata = () => toAzureMetadata(withCrc32c(options.metadata, tracked.crc32c.value()));
    const conditions = writeConditions(pre);
    const client = blockBlobOf(ctx, ref);
    // Once the whole body has been read.
    const digest = (): Uint8Array => options.contentMd5 ?? md5?.digest() ?? new Uint8Array(0);
    let response: { etag?: string | undefined; lastModified?: Date | undefined; versionId?: string | undefined };
    let size: number;
    let contentMd5: Uint8Array;
    if (head.length < 2) {
      // The whole body fits in one block: one Put Blob call.
      const data = head[0] ?? { chunks: [], size: 0 };
      contentMd5 = digest();
      size = data.size;
      try {
        response = await run(ctx, "PUT", ref, signal, !hasPreconditions(pre), (s) =>
          client.upload(blockBody(data), data.size, {
            abortSignal: s,
            blobHTTPHeaders: { blobContentType: contentType, blobContentMD5: contentMd5 },
            metadata: metadata(),
            conditions,
          }),
        );
      } catch (err) {
        throw await explainConflict(ctx, err, ref, pre, signal);
      }
    } else {
      const rest: AsyncIterable<Block> = { [Symbol.asyncIterator]: () => iterator };
      const staged = await stageBody(ctx, ref, rest, BLOCK_ID_BYTES, signal, stop, head);
      if (staged.ids.length > MAX_COMMITTED_BLOCKS) {
        throw new StowdError(
          "LIMIT_EXCEEDED",
          `${reference} would need ${staged.ids.length} blocks of ${ctx.blockSize} bytes; Azure commits at most ${MAX_COMMITTED_BLOCKS}; nothing was written`,
          {
            reference,
            size: staged.bytes,
            limit: MAX_COMMITTED_BLOCKS * ctx.blockSize,
            backend: AZURE_KIND,
          },
        );
      }
      contentMd5 = digest();
      size = staged.bytes;
      throwIfAborted(signal, reference);
      try {
        response = await run(ctx, "PUT BLOCK LIST", ref, signal, !hasPreconditions(pre), (s) =>
          client.commitBlockList(staged.ids, {
            abortSignal: s,
            blobHTTPHeaders: { blobContentType: contentType, blobContentMD5: contentMd5 },
            metadata: metadata(),
            conditions,
          }),
        );
      } catch (err) {
        throw await explainConflict(ctx, err, ref, pre, signal);
      }
    }
    return {
      key: ref.key,
      size,
      etag: unquoteEtag(response.etag),
      contentMd5: Uint8Array.from(contentMd5),
      crc32c: tracked.crc32c.value(),
      contentType,
      metadata: { ...options.metadata },
      updated: response.lastModified ?? new Date(),
      generation: response.versionId ?? "",
    };
  });
}

export async function append(
  ctx: AzureContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: AppendOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = referenceOf(ref);
  checkRef(ctx, ref, true);
  return locked(ctx, ref, signal, async () => {
    let state = await blobState(ctx, ref, signal);
    checkAppend(state.meta, options, reference, AZURE_KIND); // fail fast, before reading the body
    if (state.exists && state.blobType === "AppendBlob") return appendToAppendBlob(ctx, ref, state, body, options, signal);
    const tracked = trackCrc32c(body, options.crc32c);
    if (state.exists && state.blobType !== "BlockBlob") throw unsupported(AZURE_KIND, `appending to a ${state.blobType} (${reference})`);
    let plan = appendPlan(state);
    const stop = new AbortController();
    const blocks = cutBlocks(abortable(tracked.body, AbortSignal.any([signal, stop.signal]), reference), ctx.blockSize, () => {});
    const iterator = blocks[Symbol.asyncIterator]();
    const first = await iterator.next();
    const second = first.done ? first : await iterator.next();
    const head = [first, second].flatMap((r) => (r.done ? [] : [r.value]));
    const rest: AsyncIterable<Block> = { [Symbol.asyncIterator]: () => iterator };
    let staged = await stageBody(ctx, ref, rest, plan.idBytes, signal, stop, head);
    if (staged.bytes === 0 && state.meta !== undefined) return state.meta;
    // A body of one block is kept, so a clash with another writer (whose commit drops our staged blocks) can be retried.
    const retained = head.length === 1 ? head[0] : undefined;
    for (let attempt = 1; ; attempt++) {
      const base = plan.keep ? state.committed.map((b) => b.name) : await restageExisting(ctx, ref, state, signal);
      const blockCount = base.length + staged.ids.length;
      if (blockCount > MAX_COMMITTED_BLOCKS) {
        throw new StowdError(
          "LIMIT_EXCEEDED",
          `${reference} would have ${blockCount} blocks; Azure commits at most ${MAX_COMMITTED_BLOCKS}; rewrite the object to compact it; nothing was appended`,
          {
            reference,
            limit: MAX_COMMITTED_BLOCKS,
            backend: AZURE_KIND,
          },
        );
      }
      throwIfAborted(signal, reference);
      const contentType = contentTypeOrDefault(state.exists ? state.contentType : options.contentType);
      // The CRC32C of the blob just read (the commit is conditional on its etag), extended.
      const rawMetadata = withRawCrc32c(
        withoutContentMd5(state.rawMetadata),
        appendedCrc32c(state.meta, tracked.crc32c.value(), staged.bytes),
      );
      try {
        const response = await run(ctx, "PUT BLOCK LIST", ref, signal, false, (s) =>
          blockBlobOf(ctx, ref).commitBlockList([...base, ...staged.ids], {
            abortSignal: s,
            blobHTTPHeaders: { blobContentType: contentType },
            metadata: rawMetadata,
            conditions: state.exists ? { ifMatch: quoteEtag(state.etag) } : { ifNoneMatch: "*" },
          }),
        );
        // Not the response's Content-MD5: for Put Block List it is the block list's.
        const props = { etag: response.etag, lastModified: response.lastModified ?? new Date(), versionId: response.versionId };
        return toMeta(ref.key, { ...props, contentType, metadata: rawMetadata }, state.size + staged.bytes);
      } catch (err) {
        const clash = isAzure(err, 412) || isAzure(err, 409, "BlobAlreadyExists") || isAzure(err, 400, "InvalidBlockList");
        if (!clash) throw fail(ctx, err, ref, signal);
        // Another writer committed the blob: check the caller's conditions against it, then try again.
        state = await blobState(ctx, ref, signal);
        checkAppend(state.meta, options, reference, AZURE_KIND);
        if (attempt >= APPEND_ATTEMPTS || retained === undefined) {
          throw new StowdError(
            "BACKEND_UNAVAILABLE",
            `${reference} was changed by another writer during the append; nothing was appended, retry the call`,
            {
              reference,
              backend: AZURE_KIND,
              cause: err,
            },
          );
        }
        plan = appendPlan(state);
        staged = await stageBody(ctx, ref, (async function* () {})(), plan.idBytes, signal, new AbortController(), [retained]);
      }
    }
  });
}
