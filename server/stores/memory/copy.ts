// Copy within the memory store: entries are never mutated, so the copy
// shares the source's bytes.
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { referenceOf, requireKey } from "../kit/object-reference.js";
import { checkEtag, checkPreconditions } from "../kit/preconditions.js";
import type { CopyOptions, ObjectMeta } from "../raw-store.js";
import { commit, current, existing, type MemoryContext } from "./context.js";

export async function copy(
  ctx: MemoryContext,
  source: Ref,
  destination: Ref,
  options: CopyOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = referenceOf(destination);
  requireKey(destination, reference);
  throwIfAborted(signal, reference);
  const from = existing(ctx, source);
  checkEtag(from.meta, options.ifSourceMatchEtag, referenceOf(source), "nothing was copied");
  checkPreconditions(current(ctx, destination)?.meta, options.preconditions, reference);
  const { contentType, metadata, contentMd5, crc32c } = from.meta;
  return commit(ctx, destination, from.data, {
    contentType,
    metadata: { ...metadata },
    ...(contentMd5 === undefined ? {} : { contentMd5: Uint8Array.from(contentMd5) }),
    ...(crc32c === undefined ? {} : { crc32c }),
  });
}
