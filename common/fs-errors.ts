// Converts Node file-system errors into StowdErrors, once, keeping the cause.
import { StowdError } from "./errors.js";

export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function fromFsError(err: unknown, reference: string, doing: string): StowdError {
  if (err instanceof StowdError) return err;
  const code = errnoCode(err);
  const facts = { reference, backend: "local", cause: err };
  switch (code) {
    case "ENOENT":
      return new StowdError("NOT_FOUND", `${reference} does not exist`, facts);
    case "EACCES":
    case "EPERM":
      return new StowdError("PERMISSION_DENIED", `the local store may not access the file of ${reference} (${code} while ${doing})`, facts);
    case "ENAMETOOLONG":
      return new StowdError("INVALID_REFERENCE", `the key of ${reference} makes a path too long for the local file system`, {
        ...facts,
        field: "reference",
      });
    case "ELOOP":
      return new StowdError(
        "PERMISSION_DENIED",
        `${reference} is a symbolic link; the local store never follows symbolic links inside its root`,
        facts,
      );
    default:
      return new StowdError("INTERNAL", `the local store failed while ${doing} ${reference}: ${code ?? String(err)}`, facts);
  }
}

/**
 * For catch blocks that also see the caller's own errors (a failing body):
 * converts file-system errors and passes every other error through unchanged.
 */
export function storeError(err: unknown, reference: string, doing: string): unknown {
  return err instanceof StowdError || errnoCode(err) === undefined ? err : fromFsError(err, reference, doing);
}
