// The SDK hands out sizes and counts as plain numbers: exact up to
// 2^53 - 1 bytes (8 PiB), far past any object a backend stores today. A
// larger int64 from the daemon is an error the caller can catch like any
// other, never a silently rounded number.
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "../gen/stowd/v1/error_pb.js";
import { clientError } from "./client-error.js";

/** `value` as a number; a StowdClientError (OUT_OF_RANGE) when it is past Number.MAX_SAFE_INTEGER. */
export function toSafeNumber(value: bigint, field: string, reference: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) {
    const message = `${field} ${value} is more than the SDK's limit of 2^53 - 1; read it with the protobuf messages of the "proto" entry point`;
    throw clientError(Code.OutOfRange, message, reference, ErrorReason.OUT_OF_RANGE);
  }
  return number;
}
