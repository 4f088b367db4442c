// Deletes on GCS. A delete with if_match_etag pins the version whose etag
// matched (generation + metageneration), so the check is atomic with it.
// DeletePrefix lists and deletes key by key (GCS has no batch delete in the
// JSON API the SDK speaks), bounded in parallel.
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { deleteByListing } from "../kit/delete-by-listing.js";
import { checkEtag } from "../kit/preconditions.js";
import type { DeleteOptions } from "../raw-store.js";
import { versionConditions, type Conditions } from "./conditions.js";
import { checkedReference, fail, fileOf, nameProblem, retrying, type GcsContext } from "./context.js";
import { gcsStatus } from "./errors.js";
import { listedPages } from "./list.js";
import { toMeta } from "./metadata.js";
import { headResource, requireBucket } from "./read.js";
import { settleOrAbort } from "./requests.js";

const DELETE_CONCURRENCY = 8;

export async function remove(ctx: GcsContext, ref: Ref, options: DeleteOptions, signal: AbortSignal): Promise<boolean> {
  const reference = checkedReference(ref);
  if (nameProblem(ref.key) !== undefined) return false;
  const ifMatchEtag = options.ifMatchEtag;
  let conditions: Conditions = {};
  if (ifMatchEtag !== undefined) {
    const current = await headResource(ctx, ref, signal);
    if (current === undefined) return false;
    checkEtag(toMeta(ref.key, current), ifMatchEtag, reference, "nothing was deleted");
    conditions = versionConditions(current);
  }
  try {
    await retrying(ctx, reference, "deleting", signal, (s) => settleOrAbort(fileOf(ctx, ref).delete(conditions), s));
    return true;
  } catch (err) {
    const status = gcsStatus(err);
    if (status === 404) {
      await requireBucket(ctx, ref.container, reference, signal, false);
      return false;
    }
    if (status === 412) {
      const current = await headResource(ctx, ref, signal);
      if (current === undefined) return false;
      checkEtag(toMeta(ref.key, current), ifMatchEtag, reference, "nothing was deleted");
      throw new StowdError("PRECONDITION_FAILED", `${reference} changed while it was deleted; nothing was deleted`, {
        reference,
        cause: err,
      });
    }
    throw fail(ctx, err, reference, "deleting");
  }
}

export async function deletePrefix(ctx: GcsContext, prefix: Ref, signal: AbortSignal): Promise<number> {
  const reference = checkedReference(prefix);
  const query = prefix.key === "" ? { maxResults: 1000 } : { maxResults: 1000, prefix: prefix.key };
  async function* pages(): AsyncGenerator<string[]> {
    for await (const page of listedPages(ctx, prefix, query, signal, reference)) {
      yield (page.items ?? []).flatMap((item) => (item.name === undefined || item.name.startsWith(ctx.tempPrefix) ? [] : [item.name]));
    }
  }
  return deleteByListing({
    pages: pages(),
    remove: (key) => remove(ctx, { ...prefix, key }, {}, signal),
    concurrency: DELETE_CONCURRENCY,
    signal,
    reference,
  });
}
