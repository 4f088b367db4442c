// Converts a ConnectError into the status object grpc-js sends, including
// the `grpc-status-details-bin` trailer: a google.rpc.Status whose details
// hold our ErrorDetail (a message) and the standard google.rpc.ErrorInfo /
// RetryInfo (already encoded: `{ type, value }`, see calls/google-rpc-details.ts).
// Connect codes are numerically the gRPC codes.
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import type { ConnectError } from "@connectrpc/connect";

/** Serializes google.rpc.Status { int32 code = 1; string message = 2; repeated Any details = 3; }. */
function encodeRpcStatus(err: ConnectError): Uint8Array {
  const writer = new BinaryWriter();
  writer.tag(1, WireType.Varint).int32(err.code);
  writer.tag(2, WireType.LengthDelimited).string(err.rawMessage);
  for (const detail of err.details) {
    const any =
      "desc" in detail
        ? anyPack(detail.desc, create(detail.desc, detail.value))
        : { $typeName: "google.protobuf.Any" as const, typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value };
    writer.tag(3, WireType.LengthDelimited).bytes(toBinary(AnySchema, any));
  }
  return writer.finish();
}

export function toGrpcStatus(err: ConnectError): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err.details.length > 0) metadata.set("grpc-status-details-bin", Buffer.from(encodeRpcStatus(err)));
  const code: number = err.code; // through number: connect's Code and grpc-js's status are separate enums
  return { code, details: err.rawMessage, metadata };
}
