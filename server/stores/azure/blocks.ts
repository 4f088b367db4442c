// Block blobs, the streaming half: a body is cut into blocks that are
// staged in bounded parallel; nothing is visible until Put Block List
// commits them, and Azure garbage-collects blocks that are never committed
// (after a week, or at the blob's next commit).
import { createHash, randomBytes, type Hash } from "node:crypto";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { referenceOf } from "../kit/object-reference.js";
import { blockBlobOf, fail, run, type AzureContext } from "./context.js";

/** Decoded length of the block ids stowd makes (Azure allows up to 64). */
export const BLOCK_ID_BYTES = 48;
export const MAX_COMMITTED_BLOCKS = 50_000;

export interface StagedBlocks {
  ids: string[];
  bytes: number;
  md5: Buffer;
}

function newBlockId(bytes: number): string {
  return randomBytes(bytes).toString("base64");
}

/** Cuts a byte stream into blocks of exactly `size` bytes (the last one may be shorter), copying the caller's chunks. */
export async function* cutBlocks(
  body: AsyncIterable<Uint8Array>,
  size: number,
  onChunk: (chunk: Uint8Array) => void,
): AsyncGenerator<Buffer> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of body) {
    onChunk(chunk);
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= size) {
      const joined = Buffer.concat(pending, pendingBytes); // the one copy of the caller's bytes
      let at = 0;
      for (; pendingBytes - at >= size; at += size) yield joined.subarray(at, at + size);
      const rest = joined.subarray(at);
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/**
 * Stages `blocks` (after `first`), `concurrency` at a time. The first
 * failed stage aborts `stop`, which also ends the body's iteration.
 */
export async function stageBody(
  ctx: AzureContext,
  ref: Ref,
  blocks: AsyncIterable<Buffer>,
  idBytes: number,
  md5: Hash,
  signal: AbortSignal,
  stop: AbortController,
  first: Buffer[] = [],
): Promise<StagedBlocks> {
  const client = blockBlobOf(ctx, ref);
  const ids: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const linked = AbortSignal.any([signal, stop.signal]);
  let failure: unknown;
  let bodyError: { err: unknown } | undefined;
  let bytes = 0;
  const stage = (block: Buffer) => {
    const id = newBlockId(idBytes);
    ids.push(id);
    bytes += block.length;
    const transactionalContentMD5 = createHash("md5").update(block).digest();
    const task: Promise<void> = run(ctx, "PUT BLOCK", ref, linked, true, (s) =>
      client.stageBlock(id, block, block.length, { abortSignal: s, transactionalContentMD5 }),
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
  return { ids, bytes, md5: md5.digest() };
}
