// What the memory store's topic files share: the objects, by container and
// key, and the size limit. Entries are immutable and replaced whole on
// commit, so a read keeps the snapshot it opened and a copy can share bytes.
import { randomBytes } from "node:crypto";
import type { Ref } from "../../references/reference.js";
import { compareKeys } from "../kit/list-pages.js";
import type { ObjectMeta } from "../raw-store.js";
import { sizeLimitOf, type MemoryStoreOptions, type SizeLimit } from "./config.js";
import { notFound } from "./errors.js";
import { sizeOf, type Segments } from "./segments.js";
import { referenceOf } from "../kit/object-reference.js";

export interface Entry {
  meta: ObjectMeta;
  data: Segments;
}

export interface MemoryContext {
  /** Objects by container, then key. */
  readonly containers: Map<string, Map<string, Entry>>;
  /** Largest object the store takes. */
  readonly limit: SizeLimit;
}

export function createMemoryContext(options: MemoryStoreOptions): MemoryContext {
  return { containers: new Map(), limit: sizeLimitOf(options) };
}

/** The object `ref` names now, if any. */
export function current(ctx: MemoryContext, ref: Ref): Entry | undefined {
  return ctx.containers.get(ref.container)?.get(ref.key);
}

/** The object `ref` names now; NOT_FOUND when there is none. */
export function existing(ctx: MemoryContext, ref: Ref): Entry {
  const entry = current(ctx, ref);
  if (entry === undefined) throw notFound(referenceOf(ref));
  return entry;
}

/** Replaces the object at `ref` with `data`, under a new etag; returns a copy of its info. */
export function commit(
  ctx: MemoryContext,
  ref: Ref,
  data: Segments,
  meta: Omit<ObjectMeta, "key" | "size" | "etag" | "updated" | "generation">,
): ObjectMeta {
  const entry: Entry = {
    data,
    meta: { ...meta, key: ref.key, size: sizeOf(data), etag: newEtag(), updated: new Date(), generation: "" },
  };
  objects(ctx, ref.container).set(ref.key, entry);
  return copyMeta(entry.meta);
}

/** The objects whose key starts with `prefix.key`, in listing order. */
export function keysUnder(ctx: MemoryContext, prefix: Ref): Array<[string, Entry]> {
  const map = ctx.containers.get(prefix.container);
  if (map === undefined) return [];
  return [...map].filter(([key]) => key.startsWith(prefix.key)).sort(([a], [b]) => compareKeys(a, b));
}

/** A copy a caller may keep or change without touching the stored entry. */
export function copyMeta(meta: ObjectMeta): ObjectMeta {
  const copy: ObjectMeta = { ...meta, metadata: { ...meta.metadata }, updated: new Date(meta.updated) };
  if (meta.contentMd5 !== undefined) copy.contentMd5 = Uint8Array.from(meta.contentMd5);
  return copy;
}

function objects(ctx: MemoryContext, container: string): Map<string, Entry> {
  let map = ctx.containers.get(container);
  if (map === undefined) {
    map = new Map();
    ctx.containers.set(container, map);
  }
  return map;
}

function newEtag(): string {
  return randomBytes(12).toString("hex");
}
