// The one error type the SDK throws. Every failure, whether the daemon sent
// it, connect raised it (cancel, deadline, network) or the SDK detected it (a
// short stream), is converted once, at the call boundary, into this class.
import { type Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema, ErrorReason, type ErrorDetail } from "../gen/stowd/v1/error_pb.js";
import { retryDelayMsOf } from "./retry-info.js";

export class StowdClientError extends Error {
  override readonly name = "StowdClientError";
  /** The status code; numerically the gRPC status code. */
  readonly code: Code;
  /** The daemon's precise reason; UNSPECIFIED when the error carried no ErrorDetail. */
  readonly reason: ErrorReason;
  /** The stowd.v1.ErrorDetail from the status details, when there was one. */
  readonly detail: ErrorDetail | undefined;
  /** The reference the failure is about: the detail's, else the one the call named. */
  readonly reference: string;
  /**
   * How long the daemon asked to wait before trying again (google.rpc.RetryInfo),
   * in milliseconds; undefined when it sent no hint. Idempotent calls already
   * waited and retried as the client's `retry` setting allows.
   */
  readonly retryDelayMs: number | undefined;
  /** The underlying connect error; its own `cause` keeps any local error. */
  override readonly cause: ConnectError;

  constructor(cause: ConnectError, reference = "") {
    super(cause.message, { cause });
    const detail = cause.findDetails(ErrorDetailSchema)[0];
    this.code = cause.code;
    this.reason = detail?.reason ?? ErrorReason.UNSPECIFIED;
    this.detail = detail;
    this.reference = detail?.reference || reference;
    this.retryDelayMs = retryDelayMsOf(cause);
    this.cause = cause;
  }
}

/** Converts anything a call threw into a StowdClientError (unchanged if it already is one). */
export function toStowdError(reason: unknown, reference?: string): StowdClientError {
  if (reason instanceof StowdClientError) {
    return reason;
  }
  return new StowdClientError(ConnectError.from(reason), reference);
}

/** An error the SDK detects itself; `reason` is attached as an ErrorDetail like the daemon's. */
export function clientError(code: Code, message: string, reference: string, reason?: ErrorReason): StowdClientError {
  const details = reason === undefined ? [] : [{ desc: ErrorDetailSchema, value: { reason, reference, message, size: -1n } }];
  return new StowdClientError(new ConnectError(message, code, undefined, details), reference);
}
