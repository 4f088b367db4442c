// The one place errors leave the service layer: every StowdError becomes a
// ConnectError carrying a stowd.v1.ErrorDetail, a google.rpc.ErrorInfo and,
// when waiting and retrying can help, a google.rpc.RetryInfo; anything
// unexpected becomes INTERNAL without leaking its text (it is logged
// instead). The call pipeline (call-pipeline.ts) converts what a call throws
// here, once, and both transports serve the pipeline, so gRPC and Connect
// clients see the same codes and details.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema, ErrorReason } from "../../gen/stowd/v1/error_pb.js";
import { StowdError, type ErrorReason as Reason, type StowdErrorFacts } from "../../common/errors.js";
import { log } from "../observability/log.js";
import { MAX_ERROR_FIELD_BYTES, MAX_ERROR_MESSAGE_BYTES, boundedText } from "./error-text.js";
import { ERROR_INFO_TYPE, errorInfoDetail, retryInfoDetail, type EncodedDetail } from "./google-rpc-details.js";

/** google.rpc.ErrorInfo.domain of every stowd error: its reasons are stowd's ErrorReason names. */
export const ERROR_DOMAIN = "stowd.dev";

/**
 * The wait RetryInfo asks for on UNAVAILABLE when the error names none:
 * long enough for a backend blip or a restarting replica, short enough that
 * a caller with a deadline still gets a few attempts.
 */
export const DEFAULT_UNAVAILABLE_RETRY_MS = 1000;

export function toConnectError(err: unknown, signal?: AbortSignal): ConnectError {
  if (err instanceof ConnectError) return withStandardDetails(err);
  if (err instanceof StowdError) {
    const f = err.facts;
    const message = boundedText(err.message, MAX_ERROR_MESSAGE_BYTES);
    const detail = {
      reason: ErrorReason[err.reason satisfies Reason],
      reference: boundedText(f.reference ?? "", MAX_ERROR_FIELD_BYTES),
      size: BigInt(f.size ?? -1),
      limit: BigInt(f.limit ?? 0),
      backend: f.backend ?? "",
      field: boundedText(f.field ?? "", MAX_ERROR_FIELD_BYTES),
      message,
    };
    if (err.reason === "INTERNAL") log("error", "internal error", { err: err.message, cause: String(f.cause) });
    return withDetails(new ConnectError(message, err.code, undefined, undefined, err), [
      { desc: ErrorDetailSchema, value: detail },
      ...standardDetails(err.reason, err.code, f),
    ]);
  }
  if (signal?.aborted) {
    // Transports abort with a ConnectError saying whether it was a cancel or a deadline.
    if (signal.reason instanceof ConnectError) return withStandardDetails(signal.reason);
    return toConnectError(new StowdError("CANCELLED", "the call was cancelled or ran out of time", { cause: err }));
  }
  log("error", "unexpected error", { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return withDetails(new ConnectError("internal error; the daemon log has the details", Code.Internal, undefined, undefined, err), [
    { desc: ErrorDetailSchema, value: { reason: ErrorReason.INTERNAL, message: "internal error", size: -1n } },
    ...standardDetails("INTERNAL", Code.Internal, {}),
  ]);
}

/** Sets the details: ConnectError's constructor takes only message details, not the hand-encoded ones. */
function withDetails(err: ConnectError, details: ConnectError["details"]): ConnectError {
  err.details = details;
  return err;
}

/**
 * ErrorInfo (reason, domain, the facts as strings) and, where a retry can
 * succeed, RetryInfo: UNAVAILABLE always, anything else only when the error
 * carries a retry hint (a full daemon, a busy byte budget; never a size
 * limit, which a retry cannot change).
 */
function standardDetails(reason: string, code: Code, f: StowdErrorFacts): EncodedDetail[] {
  const metadata: Record<string, string> = {};
  if (f.reference) metadata.reference = boundedText(f.reference, MAX_ERROR_FIELD_BYTES);
  if (f.field) metadata.field = boundedText(f.field, MAX_ERROR_FIELD_BYTES);
  if (f.size !== undefined && f.size >= 0) metadata.size = String(f.size);
  if (f.limit !== undefined) metadata.limit = String(f.limit);
  if (f.backend) metadata.backend = f.backend;
  const details = [errorInfoDetail(reason, ERROR_DOMAIN, metadata)];
  const retryMs = f.retryAfterMs ?? (code === Code.Unavailable ? DEFAULT_UNAVAILABLE_RETRY_MS : undefined);
  if (retryMs !== undefined) details.push(retryInfoDetail(retryMs));
  return details;
}

/**
 * A ConnectError raised outside the service layer (a transport's cancel or
 * deadline, the shutdown refusal) has no StowdError behind it: it gets
 * ErrorInfo with the gRPC code's name as the reason (CANCELLED,
 * DEADLINE_EXCEEDED, UNAVAILABLE, ...), and RetryInfo when UNAVAILABLE.
 * One converted here already is returned as it is.
 */
function withStandardDetails(err: ConnectError): ConnectError {
  if (err.details.some((d) => ("type" in d ? d.type : d.desc.typeName) === ERROR_INFO_TYPE)) return err;
  const extra = standardDetails(grpcCodeName(err.code), err.code, {});
  return withDetails(new ConnectError(err.rawMessage, err.code, err.metadata, undefined, err.cause), [...err.details, ...extra]);
}

/** `Code.DeadlineExceeded` -> `DEADLINE_EXCEEDED`; gRPC spells Connect's `Canceled` as `CANCELLED`. */
function grpcCodeName(code: Code): string {
  if (code === Code.Canceled) return "CANCELLED";
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
