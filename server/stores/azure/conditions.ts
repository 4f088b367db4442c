// Write preconditions on Azure: the commit (Put Blob, Put Block List, Copy
// Blob) carries them as request conditions, which Azure checks atomically
// (if_not_exists -> If-None-Match: *, if_match_etag -> If-Match: etag,
// if_exists -> If-Match: *).
import type { BlobRequestConditions } from "@azure/storage-blob";
import { isStowdError, type StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { quoteEtag } from "../kit/etag.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkPreconditions } from "../kit/preconditions.js";
import type { Preconditions } from "../raw-store.js";
import { fail, type AzureContext } from "./context.js";
import { isAzure } from "./errors.js";
import { headMeta } from "./read.js";

/** The conditions that carry a write's preconditions to Azure. */
export function writeConditions(pre: Preconditions): BlobRequestConditions {
  if (pre.ifNotExists) return { ifNoneMatch: "*" };
  if (pre.ifMatchEtag !== undefined) return { ifMatch: quoteEtag(pre.ifMatchEtag) };
  if (pre.ifExists) return { ifMatch: "*" };
  return {};
}

/**
 * After a conditional commit failed (409/412): the error the preconditions
 * give against the blob as it is now, else the mapped backend error.
 */
export async function explainConflict(
  ctx: AzureContext,
  err: unknown,
  ref: Ref,
  pre: Preconditions,
  signal: AbortSignal,
): Promise<StowdError> {
  if (!isAzure(err, 409, "BlobAlreadyExists") && !isAzure(err, 412)) return fail(ctx, err, ref, signal);
  try {
    checkPreconditions(await headMeta(ctx, ref, signal), pre, referenceOf(ref));
  } catch (explained) {
    if (isStowdError(explained)) return explained;
  }
  return fail(ctx, err, ref, signal);
}
