// Resolves a requested byte range against an object's size, with the same
// rules for every store (field validation happened in the service layer).
import { StowdError } from "../../../common/errors.js";
import type { RangeRequest } from "../raw-store.js";

export interface ResolvedRange {
  offset: number;
  length: number;
}

/**
 * undefined = the whole object; `suffixLength > 0` = the last N bytes (the
 * whole object when it is shorter); otherwise `offset` (+ `length`, 0 = to
 * the end, cut at the end). An offset at or past the end is OUT_OF_RANGE,
 * except offset 0, which is valid even for an empty object.
 */
export function resolveRange(range: RangeRequest | undefined, size: number, reference: string): ResolvedRange {
  if (range === undefined) return { offset: 0, length: size };
  if (range.suffixLength > 0) {
    const length = Math.min(range.suffixLength, size);
    return { offset: size - length, length };
  }
  const { offset } = range;
  if (offset > 0 && offset >= size) {
    throw new StowdError("OUT_OF_RANGE", `the range starting at byte ${offset} is past the end of ${reference}, which has ${size} bytes`, {
      reference,
      size,
      field: "range.offset",
    });
  }
  const available = size - offset;
  return { offset, length: range.length === 0 ? available : Math.min(range.length, available) };
}
