// googleapis' google.rpc.ErrorInfo and google.rpc.RetryInfo as protobuf-es
// descriptors, built from their definition in google/rpc/error_details.proto
// (not from the daemon's encoder), so tests decode the daemon's details with
// the generic protobuf runtime the way any googleapis client does.
import { create, createFileRegistry, fromBinary, type DescMessage } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_duration,
  type Duration,
} from "@bufbuild/protobuf/wkt";

const file = create(FileDescriptorProtoSchema, {
  name: "google/rpc/error_details.proto",
  package: "google.rpc",
  syntax: "proto3",
  dependency: ["google/protobuf/duration.proto"],
  messageType: [
    {
      name: "RetryInfo",
      field: [
        {
          name: "retry_delay",
          jsonName: "retryDelay",
          number: 1,
          label: Label.OPTIONAL,
          type: Type.MESSAGE,
          typeName: ".google.protobuf.Duration",
        },
      ],
    },
    {
      name: "ErrorInfo",
      field: [
        { name: "reason", jsonName: "reason", number: 1, label: Label.OPTIONAL, type: Type.STRING },
        { name: "domain", jsonName: "domain", number: 2, label: Label.OPTIONAL, type: Type.STRING },
        {
          name: "metadata",
          jsonName: "metadata",
          number: 3,
          label: Label.REPEATED,
          type: Type.MESSAGE,
          typeName: ".google.rpc.ErrorInfo.MetadataEntry",
        },
      ],
      nestedType: [
        {
          name: "MetadataEntry",
          field: [
            { name: "key", jsonName: "key", number: 1, label: Label.OPTIONAL, type: Type.STRING },
            { name: "value", jsonName: "value", number: 2, label: Label.OPTIONAL, type: Type.STRING },
          ],
          options: { mapEntry: true },
        },
      ],
    },
  ],
});
const registry = createFileRegistry(file, (name) =>
  name === file_google_protobuf_duration.proto.name ? file_google_protobuf_duration : undefined,
);

function message(typeName: string): DescMessage {
  const desc = registry.getMessage(typeName);
  if (desc === undefined) throw new Error(`${typeName} is missing from the error_details descriptor`);
  return desc;
}

export const ErrorInfoDesc = message("google.rpc.ErrorInfo");
export const RetryInfoDesc = message("google.rpc.RetryInfo");

export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}

export function decodeErrorInfo(bytes: Uint8Array): ErrorInfo {
  const { reason, domain, metadata } = fromBinary(ErrorInfoDesc, bytes) as unknown as ErrorInfo;
  return { reason, domain, metadata };
}

/** RetryInfo.retry_delay in milliseconds (undefined when the message has no delay). */
export function decodeRetryDelayMs(bytes: Uint8Array): number | undefined {
  const delay = (fromBinary(RetryInfoDesc, bytes) as unknown as { retryDelay?: Duration }).retryDelay;
  return delay === undefined ? undefined : Number(delay.seconds) * 1000 + delay.nanos / 1e6;
}
