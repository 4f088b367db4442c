// A grpc-js client built the way a user of another language builds one:
// from the .proto files alone (via @grpc/proto-loader), with snake_case
// fields, no generated TypeScript and no stowd code.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { BinaryReader } from "@bufbuild/protobuf/wire";

const protoDir = fileURLToPath(new URL("../../proto", import.meta.url));

export function loadStowdPackage() {
  const definition = loadSync(["stowd/v1/raw_store.proto", "stowd/v1/protobuf_store.proto", "stowd/v1/error.proto"], {
    includeDirs: [protoDir],
    keepCase: true,
    longs: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition) as unknown as {
    stowd: { v1: { RawStoreService: grpc.ServiceClientConstructor; ProtobufStoreService: grpc.ServiceClientConstructor } };
  };
}

/** A RawStoreService client with generous windows and message sizes. */
export function rawStoreClient(address: string): grpc.Client & Record<string, (...args: never[]) => unknown> {
  const { RawStoreService } = loadStowdPackage().stowd.v1;
  return new RawStoreService(address, grpc.credentials.createInsecure(), {
    "grpc-node.flow_control_window": 8 * 1024 * 1024,
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
  }) as never;
}

export interface StatusDetail {
  typeUrl: string;
  value: Uint8Array;
}

/** Decodes the google.rpc.Status in `grpc-status-details-bin` into its Any details. */
export function statusDetails(err: grpc.ServiceError): StatusDetail[] {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  if (!(raw instanceof Buffer)) return [];
  const reader = new BinaryReader(raw);
  const details: StatusDetail[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 3) {
      reader.skip(wireType);
      continue;
    }
    const any = new BinaryReader(reader.bytes());
    const detail: StatusDetail = { typeUrl: "", value: new Uint8Array() };
    while (any.pos < any.len) {
      const [f, w] = any.tag();
      if (f === 1) detail.typeUrl = any.string();
      else if (f === 2) detail.value = any.bytes();
      else any.skip(w);
    }
    details.push(detail);
  }
  return details;
}
