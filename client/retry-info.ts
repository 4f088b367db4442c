// The daemon's retry-after hint: a standard google.rpc.RetryInfo
// (`google.protobuf.Duration retry_delay = 1;`) in the status details. The
// SDK carries no google.rpc types, so the one field is read off the wire.
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";

const RETRY_INFO = "google.rpc.RetryInfo";

/** The delay a RetryInfo in `error`'s details asks for, in milliseconds; undefined when there is none. */
export function retryDelayMsOf(error: ConnectError): number | undefined {
  for (const detail of error.details) {
    // The daemon's details arrive as { type, value: bytes }; the SDK builds no RetryInfo of its own.
    const delay = "type" in detail && detail.type === RETRY_INFO ? decodeRetryDelay(detail.value) : undefined;
    if (delay !== undefined) {
      return delay;
    }
  }
  return undefined;
}

function decodeRetryDelay(bytes: Uint8Array): number | undefined {
  try {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1 && wireType === WireType.LengthDelimited) {
        const duration = fromBinary(DurationSchema, reader.bytes());
        return Math.max(0, Number(duration.seconds) * 1000 + duration.nanos / 1e6);
      }
      reader.skip(wireType, field);
    }
  } catch {
    // A malformed hint is no hint: the SDK's own backoff applies.
  }
  return undefined;
}
