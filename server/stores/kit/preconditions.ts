// Checks write/copy preconditions against the current object, with the same
// errors for every store. Stores call it at commit time, atomically with the
// change it guards.
import { StowdError } from "../../../common/errors.js";
import type { ObjectMeta, Preconditions } from "../raw-store.js";

export function checkPreconditions(current: ObjectMeta | undefined, pre: Preconditions, reference: string): void {
  if (pre.ifNotExists && current !== undefined) {
    throw new StowdError(
      "ALREADY_EXISTS",
      `${reference} already exists (etag "${current.etag}") and if_not_exists forbids replacing it; nothing was written`,
      { reference, size: current.size },
    );
  }
  if (current === undefined) {
    if (pre.ifMatchEtag !== undefined) {
      throw new StowdError(
        "NOT_FOUND",
        `${reference} does not exist, so it cannot match if_match_etag "${pre.ifMatchEtag}"; nothing was written`,
        { reference },
      );
    }
    if (pre.ifExists) {
      throw new StowdError("NOT_FOUND", `${reference} does not exist and if_exists requires an existing object; nothing was written`, {
        reference,
      });
    }
    return;
  }
  if (pre.ifMatchEtag !== undefined && pre.ifMatchEtag !== current.etag) {
    throw new StowdError(
      "PRECONDITION_FAILED",
      `${reference} has etag "${current.etag}", not the expected "${pre.ifMatchEtag}"; nothing was written`,
      { reference, size: current.size },
    );
  }
}

/** The check for reads, deletes and copy sources: the object must have `etag`. */
export function checkEtag(current: ObjectMeta, etag: string | undefined, reference: string, what: string): void {
  if (etag !== undefined && etag !== current.etag) {
    throw new StowdError("PRECONDITION_FAILED", `${reference} has etag "${current.etag}", not the expected "${etag}"; ${what}`, {
      reference,
      size: current.size,
    });
  }
}
