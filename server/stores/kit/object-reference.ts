// The reference a store names in its errors, and the check that a reference
// names an object (not just a container or prefix), worded once for every store.
import { StowdError } from "../../../common/errors.js";
import { formatReference, type Ref } from "../../references/reference.js";

/** The reference string of `ref`, as the caller spelled its scheme and authority. */
export function referenceOf(ref: Ref): string {
  return formatReference(ref, ref.key);
}

/** Refuses a reference whose key is empty: reads and writes need an object, not a container. */
export function requireKey(ref: Ref, reference = referenceOf(ref)): void {
  if (ref.key === "") {
    throw new StowdError("INVALID_REFERENCE", `${reference} names no object: the key is empty`, { reference, field: "reference" });
  }
}
