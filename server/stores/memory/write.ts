// Write and append: chunks are copied into segments as they arrive and
// committed synchronously at the end, where the preconditions are checked
// again, so checking and replacing the object is atomic. A declared size
// past the limit fails before the body is read, an undeclared one as soon as
// it passes it.
import type { Ref } from "../../references/reference.js";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { appendedCrc32c, trackCrc32c } from "../kit/crc32c.js";
import { referenceOf, requireKey } from "../kit/object-reference.js";
import { checkAppend, checkPreconditions } from "../kit/preconditions.js";
import type { AppendOptions, ObjectMeta, WriteOptions } from "../raw-store.js";
import { commit, current, type Entry, type MemoryContext } from "./context.js";
import { KIND, tooLarge } from "./errors.js";
import { collect, joined, SegmentWriter, sizeOf } from "./segments.js";

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
  const tracked = trackCrc32c(body, options.crc32c);
  const data = await collect(tracked.body, signal, new SegmentWriter(reference, ctx.limit, options.size), reference);
  checkPreconditions(current(ctx, ref)?.meta, options.preconditions, reference);
  return commit(ctx, ref, data, {
    contentType: contentTypeOrDefault(options.contentType),
    metadata: { ...options.metadata },
    ...(options.contentMd5 === undefined ? {} : { contentMd5: Uint8Array.from(options.contentMd5) }),
    crc32c: tracked.crc32c.value(),
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
  const tracked = trackCrc32c(body, options.crc32c);
  const added = await collect(
    tracked.body,
    signal,
    new SegmentWriter(reference, ctx.limit, undefined, current(ctx, ref)?.meta.size ?? 0),
    reference,
  );
  // From here on everything runs synchronously: the check and the commit are atomic.
  const entry = check();
  const data = entry === undefined ? added : joined(entry.data, entry.meta.size, added, ctx.limit, reference);
  const crc32c = appendedCrc32c(entry?.meta, tracked.crc32c.value(), sizeOf(added));
  return commit(ctx, ref, data, {
    contentType: entry?.meta.contentType ?? contentTypeOrDefault(options.contentType),
    metadata: { ...entry?.meta.metadata },
    ...(crc32c === undefined ? {} : { crc32c }),
  });
}
