// The blob as an append sees it: its properties plus, for a block blob, the
// committed block list. An append re-commits that list plus its new blocks
// under If-Match on the etag it read, which is atomic and copies no old
// data. A blob written in one Put Blob call has no block list (stowd's small
// writes, most of Flyte's files): its first append re-stages the old content
// as blocks through stowd once.
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortable } from "../kit/abort.js";
import { unquoteEtag } from "../kit/etag.js";
import { referenceOf } from "../kit/object-reference.js";
import type { ObjectMeta } from "../raw-store.js";
import { BLOCK_ID_BYTES, cutBlocks, stageBody } from "./blocks.js";
import { blockBlobOf, fail, run, type AzureContext } from "./context.js";
import { AZURE_KIND, isAzure } from "./errors.js";
import { toMeta } from "./metadata.js";
import { getProps, openDownload } from "./read.js";

export interface BlobState {
  exists: boolean;
  blobType: string;
  etag: string;
  size: number;
  contentType: string;
  /** As Azure returned it (already encoded names). */
  rawMetadata: Record<string, string>;
  /** The blob's info; set exactly when it exists. */
  meta?: ObjectMeta;
  committed: Array<{ name: string; size: number }>;
}

export async function blobState(ctx: AzureContext, ref: Ref, signal: AbortSignal): Promise<BlobState> {
  for (let attempt = 0; ; attempt++) {
    const props = await getProps(ctx, ref, signal);
    if (props === undefined) return { exists: false, blobType: "", etag: "", size: 0, contentType: "", rawMetadata: {}, committed: [] };
    const state: BlobState = {
      exists: true,
      blobType: props.blobType ?? "BlockBlob",
      etag: unquoteEtag(props.etag),
      size: props.contentLength ?? 0,
      contentType: props.contentType ?? "",
      rawMetadata: { ...props.metadata },
      meta: toMeta(ref.key, props),
      committed: [],
    };
    if (state.blobType !== "BlockBlob") return state;
    let list;
    try {
      list = await run(ctx, "GET BLOCK LIST", ref, signal, true, (s) =>
        blockBlobOf(ctx, ref).getBlockList("committed", { abortSignal: s }),
      );
    } catch (err) {
      if (isAzure(err, 404) && attempt < 3) continue;
      throw fail(ctx, err, ref, signal);
    }
    // Two calls: when the blob changed between them, read both again.
    if (unquoteEtag(list.etag) !== state.etag) {
      if (attempt < 3) continue;
      throw new StowdError(
        "BACKEND_UNAVAILABLE",
        `${referenceOf(ref)} kept changing while it was read for an append; nothing was appended`,
        { reference: referenceOf(ref), backend: AZURE_KIND },
      );
    }
    state.committed = (list.committedBlocks ?? []).map((b) => ({ name: b.name, size: b.size }));
    return state;
  }
}

/** Whether an append can keep the committed block list, and the block id length to stage with. */
export function appendPlan(state: BlobState): { keep: boolean; idBytes: number } {
  const total = state.committed.reduce((n, b) => n + b.size, 0);
  const lengths = new Set(state.committed.map((b) => Buffer.from(b.name, "base64").length));
  const [length] = lengths;
  const keep = total === state.size && (length === undefined || (lengths.size === 1 && length >= 16 && length <= 64));
  return { keep, idBytes: keep && length !== undefined ? length : BLOCK_ID_BYTES };
}

/** Stages the current content of a blob that has no usable block list as new blocks, read through stowd. */
export async function restageExisting(ctx: AzureContext, ref: Ref, state: BlobState, signal: AbortSignal): Promise<string[]> {
  if (state.size === 0) return [];
  const reference = referenceOf(ref);
  let opened;
  try {
    opened = await openDownload(ctx, ref, 0, undefined, state.etag, signal);
  } catch (err) {
    throw fail(ctx, err, ref, signal);
  }
  const { stream, release } = opened;
  try {
    if (stream === undefined)
      throw new StowdError("INTERNAL", `the azure backend sent no body for ${reference}`, { reference, backend: AZURE_KIND });
    const staged = await stageBody(
      ctx,
      ref,
      cutBlocks(abortable(stream, signal, reference), ctx.blockSize, () => {}),
      BLOCK_ID_BYTES,
      signal,
      new AbortController(),
    );
    return staged.ids;
  } finally {
    release();
  }
}
