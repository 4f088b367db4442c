// Head and read: a read serves slices of the segments of the entry it
// opened, so a later write does not change what it yields.
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { resolveRange } from "../kit/byte-range.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkEtag } from "../kit/preconditions.js";
import type { ObjectMeta, ReadOptions, ReadResult } from "../raw-store.js";
import { copyMeta, current, existing, type MemoryContext } from "./context.js";
import { slices } from "./segments.js";

export async function head(ctx: MemoryContext, ref: Ref): Promise<ObjectMeta | undefined> {
  const entry = current(ctx, ref);
  return entry === undefined ? undefined : copyMeta(entry.meta);
}

export async function read(ctx: MemoryContext, ref: Ref, options: ReadOptions, signal: AbortSignal): Promise<ReadResult> {
  const reference = referenceOf(ref);
  throwIfAborted(signal, reference);
  const entry = existing(ctx, ref);
  checkEtag(entry.meta, options.ifMatchEtag, reference, "nothing was read");
  const { offset, length } = resolveRange(options.range, entry.meta.size, reference);
  return {
    meta: copyMeta(entry.meta),
    offset,
    length,
    body: slices(entry.data, offset, length, signal, reference),
    close: async () => {},
  };
}
