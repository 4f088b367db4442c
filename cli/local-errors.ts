// Failures on this machine's side of a transfer (a missing source file, a
// directory we may not write) as StowdErrors with the path, so they exit with
// the same codes as the daemon's not-found and permission errors.
import { StowdError } from "../common/errors.js";
import { errnoCode } from "../common/fs-errors.js";

export function localError(err: unknown, path: string, doing: string): StowdError {
  if (err instanceof StowdError) return err;
  const code = errnoCode(err);
  const facts = { field: path, cause: err };
  switch (code) {
    case "ENOENT":
      return new StowdError("NOT_FOUND", `local file ${path} does not exist (while ${doing})`, facts);
    case "EACCES":
    case "EPERM":
      return new StowdError("PERMISSION_DENIED", `no permission for local file ${path} (${code} while ${doing})`, facts);
    case "EISDIR":
      return new StowdError("INVALID_ARGUMENT", `local path ${path} is a directory; give a file`, facts);
    case "ENOTDIR":
      return new StowdError("NOT_FOUND", `a parent of local path ${path} is not a directory`, facts);
    case "ENOSPC":
      return new StowdError("INTERNAL", `no space left on the local disk while ${doing} ${path}`, facts);
    default:
      return new StowdError(
        "INTERNAL",
        `failed while ${doing} local file ${path}: ${err instanceof Error ? err.message : String(err)}`,
        facts,
      );
  }
}

/** Converts fs errors (they carry a string errno code) and passes every other error, the daemon's included, through. */
export function fsErrorOr(err: unknown, path: string, doing: string): unknown {
  return errnoCode(err) === undefined ? err : localError(err, path, doing);
}
