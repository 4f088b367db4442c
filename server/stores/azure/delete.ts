// Deletes on Azure: one Delete Blob (with its snapshots) under the blob's
// lock, If-Match carrying if_match_etag. DeletePrefix lists and deletes
// blob by blob, bounded in parallel.
import type { Ref } from "../../references/reference.js";
import { deleteByListing } from "../kit/delete-by-listing.js";
import { quoteEtag } from "../kit/etag.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkEtag } from "../kit/preconditions.js";
import type { DeleteOptions } from "../raw-store.js";
import { blobOf, checkRef, fail, locked, run, type AzureContext } from "./context.js";
import { isAzure } from "./errors.js";
import { list } from "./list.js";
import { headMeta } from "./read.js";

const DELETE_CONCURRENCY = 16;

export async function remove(ctx: AzureContext, ref: Ref, options: DeleteOptions, signal: AbortSignal): Promise<boolean> {
  checkRef(ctx, ref, true);
  return locked(ctx, ref, signal, async () => {
    try {
      await run(ctx, "DELETE", ref, signal, true, (s) =>
        blobOf(ctx, ref).delete({
          abortSignal: s,
          deleteSnapshots: "include",
          ...(options.ifMatchEtag === undefined ? {} : { conditions: { ifMatch: quoteEtag(options.ifMatchEtag) } }),
        }),
      );
      return true;
    } catch (err) {
      if (isAzure(err, 404, "BlobNotFound")) return false;
      if (isAzure(err, 412) && options.ifMatchEtag !== undefined) {
        const current = await headMeta(ctx, ref, signal);
        if (current === undefined) return false;
        checkEtag(current, options.ifMatchEtag, referenceOf(ref), "nothing was deleted");
      }
      throw fail(ctx, err, ref, signal);
    }
  });
}

export async function deletePrefix(ctx: AzureContext, prefix: Ref, signal: AbortSignal): Promise<number> {
  checkRef(ctx, prefix, false);
  async function* pages(): AsyncGenerator<string[]> {
    let pageToken = "";
    do {
      const page = await list(ctx, prefix, { pageSize: 1000, pageToken, delimiter: "" }, signal);
      yield page.objects.map((o) => o.key);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
  return deleteByListing({
    pages: pages(),
    remove: (key) => remove(ctx, { ...prefix, key }, {}, signal),
    concurrency: DELETE_CONCURRENCY,
    signal,
    reference: referenceOf(prefix),
  });
}
