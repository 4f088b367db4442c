// Block blobs, the streaming half: a body is cut into blocks that are
// staged in bounded parallel; nothing is visible until Put Block List
// commits them, and Azure garbage-collects blocks that are never committed
// (after a week, or at the blob's next commit).
import { randomBytes } from "node:crypto";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { createChunkHolder, streamOfChunks, type HeldBytes } from "../kit/held-chunks.js";
import { referenceOf } from "../kit/object-reference.js";
import { blockBlobOf, fail, run, type AzureContext } from "./context.js";

/** Decoded length of the block ids stowd makes (Azure allows up to 64). */
export const BLOCK_ID_BYTES = 48;
export const MAX_COMMITTED_BLOCKS = 50_000;

export interface StagedBlocks {
  ids: string[];
  bytes: number;
}

/** One block's bytes: the body's chunks, not joined (kit/held-chunks.ts). */
export type Block = HeldBytes;

/** A block's bytes as a request body: a fresh stream per attempt, so a retry sends them again. */
export function blockBody(block: Block): () => NodeJS.ReadableStream {
  return () => streamOfChunks(block.chunks);
}

function newBlockId(bytes: number): string {
  return randomBytes(bytes).toString("base64");
}

/** Cuts a byte stream into blocks of exactly `size` bytes (the last one may be shorter). */
export async function* cutBlocks(
  body: AsyncIterable<Uint8Array>,
  size: number,
  onChunk: (chunk: Uint8Array) => void,
): AsyncGenerator<Block> {
  const held = createChunkHolder();
  for await (const chunk of body) {
    onChunk(chunk);
    for (let at = 0; at < chunk.length;) {
      const take = Math.min(chunk.length - at, size - held.size);
      held.add(take === chunk.length ? chunk : chunk.subarray(at, at + take));
      at += take;
      if (held.size === size) yield held.take();
    }
  }
  if (held.size > 0) yield held.take();
}

/**
 * Stages `blocks` (after `first`), `concurrency` at a time. The first
 * failed stage aborts `stop`, which also ends the body's iteration.
 */
export async function stageBody(
  ctx: AzureContext,
  ref: Ref,
  blocks: AsyncIterable<Block>,
  idBytes: number,
  signal: AbortSignal,
  stop: AbortController,
  first: Block[] = [],
): Promise<StagedBlocks> {
  const client = blockBlobOf(ctx, ref);
  const ids: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const linked = AbortSignal.any([signal, stop.signal]);
  let failure: unknown;
  let bodyError: { err: unknown } | undefined;
  let bytes = 0;
  const stage = (block: Block) => {
    const id = newBlockId(idBytes);
    ids.push(id);
    bytes += block.size;
    // No transactional MD5: the SDK's own uploads send none either, and the
    // blob's MD5 (write.ts) already costs one hash pass over every byte.
    const task: Promise<void> = run(ctx, "PUT BLOCK", ref, linked, true, (s) =>
      client.stageBlock(id, blockBody(block), block.size, { abortSignal: s }),
    )
      .then(
        () => {},
        (err: unknown) => {
          // After `stop` (a body failure, or another stage's), the aborts that follow are not news.
          if (stop.signal.aborted) return;
          failure = err;
          stop.abort(err);
        },
      )
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
  };
  try {
    for (const block of first) stage(block);
    for await (const block of blocks) {
      while (inFlight.size >= ctx.concurrency) await Promise.race(inFlight);
      if (failure !== undefined) break;
      stage(block);
    }
  } catch (err) {
    bodyError = { err };
  }
  if (bodyError !== undefined || signal.aborted) stop.abort();
  await Promise.allSettled([...inFlight]);
  // A backend failure explains a body that then stopped; otherwise the body's own error goes up as it is.
  if (failure !== undefined) throw fail(ctx, failure, ref, signal);
  if (bodyError !== undefined) throw bodyError.err;
  throwIfAborted(signal, referenceOf(ref));
  return { ids, bytes };
}
