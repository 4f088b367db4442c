// Write and append: chunks are copied into segments as they arrive and
// committed synchronously at the end, where the preconditions are checked
// again, so checking and replacing the object is atomic. A declared size
// past the limit fails before the body is read, an undeclared one as soon as
// it passes it.
import type { Ref } from "../../references/reference.js";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { referenceOf, requireKey } from "../kit/object-reference.js";
import { checkAppend, checkPreconditions } from "../kit/preconditions.js";
import type { AppendOptions, ObjectMeta, WriteOptions } from "../raw-store.js";
import { commit, current, type Entry, type MemoryContext } from "./context.js";
import { KIND, tooLarge } from "./errors.js";
import { collect, joined, SegmentWriter } from "./segments.js";

export async function write(
  ctx: MemoryContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = referenceOf(ref);
  requireKey(ref, reference);
  checkPreconditions(current(ctx, ref)?.meta, options.preconditions, reference); // fail fast, before reading the body
  if (options.size !== undefined && options.size > ctx.limit.bytes) throw tooLarge(reference, options.size, ctx.limit, true);
  const data = await collect(body, signal, new SegmentWriter(reference, ctx.limit, options.size), reference);
  checkPreconditions(current(ctx, ref)?.meta, options.preconditions, reference);
  return commit(ctx, ref, data, {
    contentType: contentTypeOrDefault(options.contentType),
    metadata: { ...options.metadata },
    ...(options.contentMd5 === undefined ? {} : { contentMd5: Uint8Array.from(options.contentMd5) }),
  });
}

export async function append(
  ctx: MemoryContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: AppendOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = referenceOf(ref);
  requireKey(ref, reference);
  const check = (): Entry | undefined => {
    const entry = current(ctx, ref);
    checkAppend(entry?.meta, options, reference, KIND);
    return entry;
  };
  check(); // fail fast, before reading the body
  const added = await collect(
    body,
    signal,
    new SegmentWriter(reference, ctx.limit, undefined, current(ctx, ref)?.meta.size ?? 0),
    reference,
  );
  // From here on everything runs synchronously: the check and the commit are atomic.
  const entry = check();
  const data = entry === undefined ? added : joined(entry.data, entry.meta.size, added, ctx.limit, reference);
  return commit(ctx, ref, data, {
    contentType: entry?.meta.contentType ?? contentTypeOrDefault(options.contentType),
    metadata: { ...entry?.meta.metadata },
  });
}
