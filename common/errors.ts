// StowdError is the one error type every layer below the transports throws.
// It carries a closed reason (mirroring stowd.v1.ErrorReason) and the facts a
// client needs; the transports convert it once into a gRPC / Connect status.
import { Code } from "@connectrpc/connect";

export type ErrorReason =
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PRECONDITION_FAILED"
  | "LIMIT_EXCEEDED"
  | "INVALID_REFERENCE"
  | "INVALID_ARGUMENT"
  | "CONTAINER_NOT_ALLOWED"
  | "UNSUPPORTED"
  | "BACKEND_UNAVAILABLE"
  | "OUT_OF_RANGE"
  | "SIZE_MISMATCH"
  | "CHECKSUM_MISMATCH"
  | "TYPE_MISMATCH"
  | "UNKNOWN_SCHEME"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "DEADLINE_EXCEEDED"
  | "CANCELLED"
  | "INTERNAL"
  | "PATH_CONFLICT";

/** The gRPC status code each reason is always sent with. */
export const codeForReason: Record<ErrorReason, Code> = {
  NOT_FOUND: Code.NotFound,
  ALREADY_EXISTS: Code.AlreadyExists,
  PRECONDITION_FAILED: Code.FailedPrecondition,
  LIMIT_EXCEEDED: Code.ResourceExhausted,
  INVALID_REFERENCE: Code.InvalidArgument,
  INVALID_ARGUMENT: Code.InvalidArgument,
  CONTAINER_NOT_ALLOWED: Code.PermissionDenied,
  UNSUPPORTED: Code.Unimplemented,
  BACKEND_UNAVAILABLE: Code.Unavailable,
  OUT_OF_RANGE: Code.OutOfRange,
  SIZE_MISMATCH: Code.InvalidArgument,
  CHECKSUM_MISMATCH: Code.DataLoss,
  TYPE_MISMATCH: Code.FailedPrecondition,
  UNKNOWN_SCHEME: Code.InvalidArgument,
  PERMISSION_DENIED: Code.PermissionDenied,
  UNAUTHENTICATED: Code.Unauthenticated,
  DEADLINE_EXCEEDED: Code.DeadlineExceeded,
  CANCELLED: Code.Canceled,
  INTERNAL: Code.Internal,
  PATH_CONFLICT: Code.FailedPrecondition,
};

export interface StowdErrorFacts {
  /** The reference the error is about. */
  reference?: string;
  /** The size involved, in bytes. */
  size?: number;
  /** The limit exceeded or the size expected, in bytes. */
  limit?: number;
  /** The backend kind involved. */
  backend?: string;
  /** The request field that was wrong, e.g. `header.size`. */
  field?: string;
  /**
   * Set when the same call can succeed later (a full daemon, a busy byte
   * budget): how long to wait first, sent as google.rpc.RetryInfo. Leave it
   * unset for a refusal that a retry cannot change (a size limit).
   */
  retryAfterMs?: number;
  /** The underlying error, kept for logs. */
  cause?: unknown;
}

export class StowdError extends Error {
  override readonly name = "StowdError";
  readonly reason: ErrorReason;
  readonly facts: StowdErrorFacts;

  constructor(reason: ErrorReason, message: string, facts: StowdErrorFacts = {}) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause });
    this.reason = reason;
    this.facts = facts;
  }

  get code(): Code {
    return codeForReason[this.reason];
  }
}

export function isStowdError(err: unknown, reason?: ErrorReason): err is StowdError {
  return err instanceof StowdError && (reason === undefined || err.reason === reason);
}

/** Builds the error a store throws when it lacks a capability. */
export function unsupported(backend: string, what: string): StowdError {
  return new StowdError("UNSUPPORTED", `the ${backend} backend does not support ${what}`, { backend });
}
