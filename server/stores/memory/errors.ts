// The errors the memory store raises itself (it has no backend whose errors
// need converting).
import { StowdError } from "../../../common/errors.js";
import type { SizeLimit } from "./config.js";

export const KIND = "memory";

/** An object past the store's size limit; `declared` when the client announced the size. */
export function tooLarge(reference: string, size: number, limit: SizeLimit, declared: boolean): StowdError {
  const howBig = declared ? `its declared size is ${size} bytes` : `it reached ${size} bytes`;
  return new StowdError(
    "LIMIT_EXCEEDED",
    `${reference} is too large for the memory store: ${howBig}, and mem:// keeps every object in the daemon's memory, at most ${limit.bytes} bytes per object (${limit.what}); store it on a disk or cloud backend; nothing was stored`,
    { reference, size, limit: limit.bytes, backend: KIND, ...(declared ? { field: "header.size" } : {}) },
  );
}

export function notFound(reference: string): StowdError {
  return new StowdError("NOT_FOUND", `${reference} does not exist`, { reference, backend: KIND });
}
