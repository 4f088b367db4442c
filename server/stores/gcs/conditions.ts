// Write preconditions on GCS map to generations, which GCS checks atomically
// with the commit: create-only = ifGenerationMatch=0, must-exist =
// ifGenerationNotMatch=0, if-match-etag = read the object, compare its etag,
// then ifGenerationMatch + ifMetagenerationMatch of that version (a GCS etag
// changes exactly when one of the two does).
import type { PreconditionOptions } from "@google-cloud/storage";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { checkPreconditions } from "../kit/preconditions.js";
import type { Preconditions } from "../raw-store.js";
import type { GcsContext } from "./context.js";
import { toMeta, type GcsObject } from "./metadata.js";
import { headResource } from "./read.js";

export type Conditions = Pick<PreconditionOptions, "ifGenerationMatch" | "ifGenerationNotMatch" | "ifMetagenerationMatch">;

/** The conditions that pin exactly this version of an object. */
export function versionConditions(resource: GcsObject): Conditions {
  return { ifGenerationMatch: Number(resource.generation), ifMetagenerationMatch: Number(resource.metageneration) };
}

/** The generation conditions for `pre`; reads the object when an etag must be matched. */
export async function conditionsFor(
  ctx: GcsContext,
  ref: Ref,
  pre: Preconditions,
  signal: AbortSignal,
  reference: string,
): Promise<Conditions> {
  if (pre.ifMatchEtag !== undefined || (pre.ifNotExists && pre.ifExists)) {
    const current = await headResource(ctx, ref, signal);
    checkPreconditions(current === undefined ? undefined : toMeta(ref.key, current), pre, reference);
    if (current === undefined) return { ifGenerationMatch: 0 };
    return versionConditions(current);
  }
  if (pre.ifNotExists) return { ifGenerationMatch: 0 };
  if (pre.ifExists) return { ifGenerationNotMatch: 0 };
  return {};
}

/** The error for a 412: the shared precondition errors against the object as it is now. */
export async function preconditionFailure(
  ctx: GcsContext,
  ref: Ref,
  pre: Preconditions,
  signal: AbortSignal,
  reference: string,
  cause: unknown,
): Promise<StowdError> {
  const current = await headResource(ctx, ref, signal);
  try {
    checkPreconditions(current === undefined ? undefined : toMeta(ref.key, current), pre, reference);
  } catch (err) {
    return err as StowdError;
  }
  // The object changed back and forth in between: report the conflict as it happened.
  if (pre.ifNotExists)
    return new StowdError(
      "ALREADY_EXISTS",
      `${reference} was created concurrently and if_not_exists forbids replacing it; nothing was written`,
      { reference, cause },
    );
  if (pre.ifExists)
    return new StowdError(
      "NOT_FOUND",
      `${reference} did not exist when the write committed, and if_exists requires it; nothing was written`,
      { reference, cause },
    );
  return new StowdError("PRECONDITION_FAILED", `${reference} changed while it was written; nothing was written`, { reference, cause });
}
