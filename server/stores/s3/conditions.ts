// Write preconditions on S3. PutObject carries If-None-Match / If-Match,
// which S3 and RGW check atomically. CompleteMultipartUpload and CopyObject
// carry them too (atomic on AWS S3), but RGW 16 ignores them there, so those
// paths also check with a HEAD just before committing: on such servers a
// writer that commits between that HEAD and the commit can still be
// overwritten.
import { StowdError, isStowdError } from "../../../common/errors.js";
import { checkPreconditions, hasPreconditions } from "../kit/preconditions.js";
import type { Preconditions } from "../raw-store.js";
import { ifMatchValue, type Loc, type S3Context } from "./context.js";
import { S3_KIND } from "./errors.js";
import { headMeta } from "./read.js";

/**
 * The conditional-request headers for `pre` (If-Match: * = must exist).
 * Etags go in quotes as RFC 9110 and AWS S3 want, or bare for servers that
 * compare If-Match on PUT against the bare etag (RGW 16 refuses a quoted one).
 */
export function conditionalHeaders(ctx: S3Context, pre: Preconditions): { IfNoneMatch?: string; IfMatch?: string } {
  return {
    ...(pre.ifNotExists ? { IfNoneMatch: "*" } : {}),
    ...(pre.ifMatchEtag !== undefined ? { IfMatch: ifMatchValue(ctx, pre.ifMatchEtag) } : pre.ifExists ? { IfMatch: "*" } : {}),
  };
}

/** Checks `pre` against the object as a HEAD sees it now (no call when there are none). */
export async function checkByHead(ctx: S3Context, loc: Loc, pre: Preconditions, signal: AbortSignal): Promise<void> {
  if (hasPreconditions(pre)) checkPreconditions(await headMeta(ctx, loc, signal), pre, loc.reference);
}

/**
 * The error for a 412 on a write to `loc`: what checkPreconditions says
 * about the object now, or, if it changed back since, what the server said.
 */
export async function preconditionError(
  ctx: S3Context,
  loc: Loc,
  pre: Preconditions,
  signal: AbortSignal,
  cause: unknown,
): Promise<StowdError> {
  const current = await headMeta(ctx, loc, signal).catch(() => undefined);
  try {
    checkPreconditions(current, pre, loc.reference);
  } catch (err) {
    if (isStowdError(err)) return err;
  }
  const facts = { reference: loc.reference, backend: S3_KIND, cause };
  return pre.ifNotExists
    ? new StowdError("ALREADY_EXISTS", `${loc.reference} already exists and if_not_exists forbids replacing it; nothing was written`, facts)
    : new StowdError(
        "PRECONDITION_FAILED",
        `${loc.reference} did not meet the write's preconditions when it was committed; nothing was written`,
        facts,
      );
}
