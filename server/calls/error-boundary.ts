// The one place errors leave the service layer: every StowdError becomes a
// ConnectError carrying a stowd.v1.ErrorDetail; anything unexpected becomes
// INTERNAL without leaking its text (it is logged instead). The call
// pipeline (call-pipeline.ts) converts what a call throws here, once, and
// both transports serve the pipeline, so gRPC and Connect clients see the
// same codes and details.
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema, ErrorReason } from "../../gen/stowd/v1/error_pb.js";
import { StowdError, type ErrorReason as Reason } from "../../common/errors.js";
import { log } from "../observability/log.js";
import { MAX_ERROR_FIELD_BYTES, MAX_ERROR_MESSAGE_BYTES, boundedText } from "./error-text.js";

export function toConnectError(err: unknown, signal?: AbortSignal): ConnectError {
  if (err instanceof ConnectError) return err;
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
    return new ConnectError(message, err.code, undefined, [{ desc: ErrorDetailSchema, value: detail }], err);
  }
  if (signal?.aborted) {
    // Transports abort with a ConnectError saying whether it was a cancel or a deadline.
    if (signal.reason instanceof ConnectError) return signal.reason;
    return toConnectError(new StowdError("CANCELLED", "the call was cancelled or ran out of time", { cause: err }));
  }
  log("error", "unexpected error", { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return new ConnectError(
    "internal error; the daemon log has the details",
    Code.Internal,
    undefined,
    [{ desc: ErrorDetailSchema, value: { reason: ErrorReason.INTERNAL, message: "internal error", size: -1n } }],
    err,
  );
}
