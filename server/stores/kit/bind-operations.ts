// Every backend writes its operations as plain functions that take the
// backend's context first (read.ts: `read(ctx, ref, options, signal)`), so
// each can be read and tested alone. This binds them to one context as the
// RawStore methods, the same way for every backend.
import type { RawStore } from "../raw-store.js";

/** The RawStore methods a backend implements in its topic files. */
export type Operation = "head" | "read" | "write" | "append" | "list" | "delete" | "deletePrefix" | "copy" | "signUrl";

type WithContext<C, F> = F extends (...args: infer A) => infer R ? (ctx: C, ...args: A) => R : never;

/** Each operation as a function of the backend's context and then the method's own arguments. */
export type Operations<C> = { [K in Operation]: WithContext<C, RawStore[K]> };

export function bindOperations<C>(ctx: C, ops: Operations<C>): Pick<RawStore, Operation> {
  return {
    head: (ref, signal) => ops.head(ctx, ref, signal),
    read: (ref, options, signal) => ops.read(ctx, ref, options, signal),
    write: (ref, body, options, signal) => ops.write(ctx, ref, body, options, signal),
    append: (ref, body, options, signal) => ops.append(ctx, ref, body, options, signal),
    list: (prefix, options, signal) => ops.list(ctx, prefix, options, signal),
    delete: (ref, options, signal) => ops.delete(ctx, ref, options, signal),
    deletePrefix: (prefix, signal) => ops.deletePrefix(ctx, prefix, signal),
    copy: (source, destination, options, signal) => ops.copy(ctx, source, destination, options, signal),
    signUrl: (ref, options, signal) => ops.signUrl(ctx, ref, options, signal),
  };
}
