// Checks write/copy preconditions against the current object, with the same
// errors for every store. Stores call it at commit time, atomically with the
// change it guards.
import { StowdError } from "../../../common/errors.js";
import type { AppendOptions, ObjectMeta, Preconditions } from "../raw-store.js";

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

/**
 * The append preconditions, the same for every store: the object must exist
 * unless create_if_missing, have `if_match_etag` when given, and be exactly
 * `expected_offset` bytes long when given. `current` is the object now
 * (undefined when there is none); `backend` names the store in the facts.
 */
export function checkAppend(current: ObjectMeta | undefined, options: AppendOptions, reference: string, backend: string): void {
  if (current === undefined) {
    if (!options.createIfMissing) {
      throw new StowdError("NOT_FOUND", `${reference} does not exist; set create_if_missing to create it by appending`, {
        reference,
        backend,
      });
    }
    if (options.ifMatchEtag !== undefined) checkPreconditions(undefined, { ifMatchEtag: options.ifMatchEtag }, reference);
  } else {
    checkEtag(current, options.ifMatchEtag, reference, "nothing was appended");
  }
  const size = current?.size ?? 0;
  if (options.expectedOffset !== undefined && options.expectedOffset !== size) {
    throw new StowdError(
      "PRECONDITION_FAILED",
      `${reference} has ${size} bytes, not the expected offset ${options.expectedOffset}; nothing was appended`,
      {
        reference,
        size,
        field: "header.expected_offset",
      },
    );
  }
}

/** True when `pre` asks for anything: a write that has none may be repeated safely. */
export function hasPreconditions(pre: Preconditions): boolean {
  return pre.ifNotExists === true || pre.ifExists === true || pre.ifMatchEtag !== undefined;
}
