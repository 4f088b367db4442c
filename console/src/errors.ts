// A failure as a reader needs it: the status code and the daemon's reason
// by name, its message, and the reference it is about.
import { Code, ErrorReason, StowdClientError } from "../../client/browser.js";

export interface DescribedError {
  /** e.g. "PERMISSION_DENIED", or "Error" for a failure outside the daemon. */
  code: string;
  /** The daemon's reason, e.g. "LIMIT_EXCEEDED"; "" when it gave none. */
  reason: string;
  message: string;
  reference: string;
}

export function describeError(error: unknown): DescribedError {
  if (error instanceof StowdClientError) {
    return {
      code: codeName(error.code),
      reason: error.reason === ErrorReason.UNSPECIFIED ? "" : (ErrorReason[error.reason] ?? String(error.reason)),
      message: error.cause.rawMessage,
      reference: error.reference,
    };
  }
  return {
    code: error instanceof Error ? error.name : "Error",
    reason: "",
    message: error instanceof Error ? error.message : String(error),
    reference: "",
  };
}

/** gRPC's name of a status code: Code.PermissionDenied → "PERMISSION_DENIED". */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export function isUnauthenticated(error: unknown): boolean {
  return error instanceof StowdClientError && error.code === Code.Unauthenticated;
}
