// The local store's errors: file-system errors converted once (the
// converter lives in common/fs-errors.ts, which the CLI shares), and the
// errors the store raises itself about objects, links and path conflicts.
import { StowdError } from "../../../common/errors.js";

export { errnoCode, fromFsError as fromLocalError, storeError } from "../../../common/fs-errors.js";

export const KIND = "local";

export function notFound(reference: string): StowdError {
  return new StowdError("NOT_FOUND", `${reference} does not exist`, { reference, backend: KIND });
}

export function symlinkRefused(reference: string, at: string): StowdError {
  return new StowdError(
    "PERMISSION_DENIED",
    `${reference} leads through the symbolic link ${JSON.stringify(at)}; the local store never follows symbolic links inside its root`,
    { reference, backend: KIND },
  );
}

export function objectIsDirectory(reference: string): StowdError {
  return new StowdError(
    "PATH_CONFLICT",
    `cannot store ${reference}: other objects are stored under its key followed by "/", and the local store keeps objects as files, so a key cannot be both an object and a "directory" of objects; delete those objects or choose another key; nothing was written`,
    { reference, backend: KIND },
  );
}

/** `ancestorReference` (an object) is on the way to `reference`: the caller's conflict, named by both references. */
export function ancestorIsObject(reference: string, ancestorReference: string): StowdError {
  return new StowdError(
    "PATH_CONFLICT",
    `cannot store ${reference}: ${ancestorReference} is an object, and the local store keeps objects as files, so it cannot also be a "directory" or container of other objects; delete it or choose another key; nothing was written`,
    { reference, backend: KIND },
  );
}
