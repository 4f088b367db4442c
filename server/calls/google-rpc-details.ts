// google.rpc.ErrorInfo and google.rpc.RetryInfo, the standard error details
// generic gRPC tooling understands (googleapis' google/rpc/error_details.proto).
// They are not in gen/ (the contract does not import googleapis), so they are
// encoded here by hand, wire-compatible with googleapis' definitions, as the
// `{ type, value }` outgoing details ConnectError takes; grpc-status.ts packs
// those into the google.rpc.Status of the gRPC port, connect-node into the
// Connect and gRPC-Web answers of the HTTP port.
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { JsonObject } from "@bufbuild/protobuf";

/** An outgoing detail of a ConnectError given as type name and serialized message. */
export interface EncodedDetail {
  type: string;
  value: Uint8Array;
  /** Shown in Connect JSON errors, for curl and browser users. */
  debug: JsonObject;
}

export const ERROR_INFO_TYPE = "google.rpc.ErrorInfo";
export const RETRY_INFO_TYPE = "google.rpc.RetryInfo";

/** ErrorInfo { string reason = 1; string domain = 2; map<string, string> metadata = 3; } */
export function errorInfoDetail(reason: string, domain: string, metadata: Record<string, string>): EncodedDetail {
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).string(reason);
  writer.tag(2, WireType.LengthDelimited).string(domain);
  // A map field is a repeated entry message { key = 1; value = 2; }.
  for (const [key, value] of Object.entries(metadata)) {
    writer.tag(3, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.LengthDelimited).string(key);
    writer.tag(2, WireType.LengthDelimited).string(value);
    writer.join();
  }
  return { type: ERROR_INFO_TYPE, value: writer.finish(), debug: { reason, domain, metadata } };
}

/** RetryInfo { google.protobuf.Duration retry_delay = 1; }, Duration { int64 seconds = 1; int32 nanos = 2; } */
export function retryInfoDetail(delayMs: number): EncodedDetail {
  const whole = Math.max(0, Math.round(delayMs));
  const seconds = Math.floor(whole / 1000);
  const nanos = (whole % 1000) * 1_000_000;
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).fork();
  if (seconds !== 0) writer.tag(1, WireType.Varint).int64(seconds);
  if (nanos !== 0) writer.tag(2, WireType.Varint).int32(nanos);
  writer.join();
  // Duration's JSON form, as googleapis clients print it.
  return { type: RETRY_INFO_TYPE, value: writer.finish(), debug: { retryDelay: `${whole / 1000}s` } };
}
