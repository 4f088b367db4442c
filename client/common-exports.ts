// What both entry points (index.ts for Node, browser.ts) export unchanged:
// the option and result types of the calls, the error type and its codes.
export type {
  BaseStowdClient,
  ReliabilityOptions,
  WriteOptions,
  WritePreconditions,
  AppendOptions,
  ListOptions,
  ListPage,
  ListEntry,
  DeleteOptions,
  CopyOptions,
  SignedUrlOptions,
  SignedUrl,
  ReferenceParts,
  ProtobufWriteOptions,
  StoredMessage,
} from "./stowd-client.js";
export type { ObjectInfo } from "./object-info.js";
export type { ServerInfo, BackendInfo, Capabilities, Limits, CallerInfo } from "./server-info.js";
export type { ReadHandle, ReadOptions, ReadRange } from "./read.js";
export type { WriteBody } from "./body.js";
export type { ByteCount, CallOptions } from "./call-options.js";
export type { RetryOptions } from "./retry.js";
export { StowdClientError } from "./client-error.js";
export { Code } from "@connectrpc/connect";
export { ErrorReason, type ErrorDetail } from "../gen/stowd/v1/error_pb.js";
