// Delete and deletePrefix. The memory store removes keys directly: it needs
// no listing loop, and a deletion is synchronous, so the count is exact.
import type { Ref } from "../../references/reference.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkEtag } from "../kit/preconditions.js";
import type { DeleteOptions } from "../raw-store.js";
import { current, keysUnder, type MemoryContext } from "./context.js";

export async function remove(ctx: MemoryContext, ref: Ref, options: DeleteOptions): Promise<boolean> {
  const entry = current(ctx, ref);
  if (entry === undefined) return false;
  checkEtag(entry.meta, options.ifMatchEtag, referenceOf(ref), "nothing was deleted");
  return ctx.containers.get(ref.container)?.delete(ref.key) ?? false;
}

export async function deletePrefix(ctx: MemoryContext, prefix: Ref): Promise<number> {
  const map = ctx.containers.get(prefix.container);
  let count = 0;
  for (const [key] of keysUnder(ctx, prefix)) if (map?.delete(key)) count++;
  return count;
}
