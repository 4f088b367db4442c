// The stowd TypeScript SDK. Generated message types (ObjectInfo, ...) come
// from gen/stowd/v1; the ones the API returns are re-exported here.
export {
  createStowdClient,
  type StowdClient,
  type StowdClientOptions,
  type WriteOptions,
  type WritePreconditions,
  type AppendOptions,
  type ListOptions,
  type ListPage,
  type ListEntry,
  type DeleteOptions,
  type CopyOptions,
  type SignedUrlOptions,
  type SignedUrl,
  type ReferenceParts,
  type ProtobufWriteOptions,
  type StoredMessage,
} from "./stowd-client.js";
export type { ReadHandle, ReadOptions, ReadRange } from "./read.js";
export type { WriteBody } from "./body.js";
export type { ByteCount, CallOptions } from "./call-options.js";
export { StowdClientError } from "./client-error.js";
export {
  bearerToken,
  createStowdTransport,
  type StowdTlsOptions,
  DEFAULT_BASE_URL,
  DEFAULT_WINDOW_BYTES,
  type StowdTransport,
  type StowdTransportOptions,
} from "./transport.js";
export { Code } from "@connectrpc/connect";
export { ErrorReason, type ErrorDetail } from "../gen/stowd/v1/error_pb.js";
export type { ObjectInfo } from "../gen/stowd/v1/object_pb.js";
export type { GetServerInfoResponse } from "../gen/stowd/v1/raw_store_pb.js";
