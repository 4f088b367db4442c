// Listing: one page of a sorted snapshot of the container's keys.
import type { Ref } from "../../references/reference.js";
import { pageKeys } from "../kit/list-pages.js";
import { referenceOf } from "../kit/object-reference.js";
import type { ListOptions, ListPage } from "../raw-store.js";
import { copyMeta, keysUnder, type MemoryContext } from "./context.js";

export async function list(ctx: MemoryContext, prefix: Ref, options: ListOptions): Promise<ListPage> {
  const snapshot = keysUnder(ctx, prefix);
  const byKey = new Map(snapshot);
  const page = await pageKeys(
    snapshot.map(([key]) => key),
    prefix.key,
    options,
    referenceOf(prefix),
  );
  return {
    objects: page.keys.flatMap((key) => {
      const entry = byKey.get(key);
      return entry === undefined ? [] : [copyMeta(entry.meta)];
    }),
    commonPrefixes: page.commonPrefixes,
    nextPageToken: page.nextPageToken,
  };
}
