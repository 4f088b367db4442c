// The "./proto" entry point of @stowd/client: the generated protobuf-es
// messages, enums and service descriptors of stowd.v1, for callers who want
// the wire types (bigint int64s, Timestamps) or their own connect client.
// The conversions the SDK applies are here too.
export * from "../gen/stowd/v1/error_pb.js";
export * from "../gen/stowd/v1/object_pb.js";
export * from "../gen/stowd/v1/raw_store_pb.js";
export * from "../gen/stowd/v1/protobuf_store_pb.js";
export { toObjectInfo } from "./object-info.js";
export { toServerInfo } from "./server-info.js";
