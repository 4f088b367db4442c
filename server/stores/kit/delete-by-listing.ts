// DeletePrefix for backends without a native "delete everything under":
// list a page of keys, delete them with bounded concurrency, repeat. A
// deletion racing with ours is not counted (the store's delete says whether
// it removed anything), so the count is what this call removed.
import { throwIfAborted } from "./abort.js";
import { mapLimit } from "./map-limit.js";

export interface DeleteByListing {
  /** Pages of keys under the prefix, as the backend lists them. */
  pages: AsyncIterable<readonly string[]>;
  /** Deletes one key; true when it removed an object. */
  remove: (key: string) => Promise<boolean>;
  /** Deletes in flight at once. */
  concurrency: number;
  signal: AbortSignal;
  /** The prefix's reference, for the cancellation error. */
  reference: string;
}

/** Deletes every listed key; returns how many objects this call removed. */
export async function deleteByListing({ pages, remove, concurrency, signal, reference }: DeleteByListing): Promise<number> {
  let count = 0;
  for await (const keys of pages) {
    await mapLimit(keys, concurrency, async (key) => {
      throwIfAborted(signal, reference);
      if (await remove(key)) count++;
    });
  }
  return count;
}
