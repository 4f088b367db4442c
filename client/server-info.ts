// GetServerInfo as plain data: numbers for the limits, no protobuf message
// types, so it prints and JSON-serialises as it reads.
import type { GetServerInfoResponse } from "../gen/stowd/v1/raw_store_pb.js";
import { toSafeNumber } from "./safe-number.js";

/** What the daemon serves: its version, one entry per configured scheme, and the limits in force. */
export interface ServerInfo {
  /** stowd's version, such as `0.1.0`. */
  version: string;
  backends: BackendInfo[];
  limits: Limits;
  /** Who the daemon takes the caller for, and what it may do. */
  caller: CallerInfo;
}

export interface CallerInfo {
  /** False when the daemon checks no one: every caller may do everything, and name and grants are empty. */
  authEnabled: boolean;
  /** The caller's name in the daemon's token file; never the token. */
  name: string;
  /** An operation is allowed on a reference when one grant lists it (or "admin") and one of its prefixes covers the reference. */
  grants: Array<{ operations: string[]; prefixes: string[] }>;
}

export interface BackendInfo {
  /** The scheme, such as `s3` or `file`. */
  scheme: string;
  /** The backend kind: `memory`, `local`, `s3`, `gcs`, `azure` or `redis`. */
  kind: string;
  /** What the backend can do; a request that needs a missing capability fails with UNIMPLEMENTED. */
  capabilities: Capabilities;
  /** The configured default container, such as `s3://bucket`; "" when none is configured. */
  baseContainerReference: string;
}

export interface Capabilities {
  rangedReads: boolean;
  append: boolean;
  /** Preconditions (ifNotExists, ifExists, ifMatchEtag) are enforced atomically. */
  conditionalWrites: boolean;
  signedUrls: boolean;
  delimiterListing: boolean;
  /** A copy within this backend moves no bytes through stowd. */
  serverSideCopy: boolean;
}

/** Limits in bytes; 0 means unlimited. */
export interface Limits {
  /** Largest object (or range) a read returns (`limits.maxDownloadMBs`). */
  maxDownloadBytes: number;
  /** Largest object a write stores. */
  maxUploadBytes: number;
  /** Largest single message the daemon accepts. */
  maxMessageBytes: number;
}

export function toServerInfo(response: GetServerInfoResponse): ServerInfo {
  const limit = (field: "maxDownloadBytes" | "maxUploadBytes" | "maxMessageBytes") =>
    toSafeNumber(response.limits?.[field] ?? 0n, `limits.${field}`, "");
  return {
    version: response.version,
    backends: response.backends.map((backend) => ({
      scheme: backend.scheme,
      kind: backend.kind,
      capabilities: {
        rangedReads: backend.capabilities?.rangedReads ?? false,
        append: backend.capabilities?.append ?? false,
        conditionalWrites: backend.capabilities?.conditionalWrites ?? false,
        signedUrls: backend.capabilities?.signedUrls ?? false,
        delimiterListing: backend.capabilities?.delimiterListing ?? false,
        serverSideCopy: backend.capabilities?.serverSideCopy ?? false,
      },
      baseContainerReference: backend.baseContainerReference,
    })),
    limits: {
      maxDownloadBytes: limit("maxDownloadBytes"),
      maxUploadBytes: limit("maxUploadBytes"),
      maxMessageBytes: limit("maxMessageBytes"),
    },
    caller: {
      authEnabled: response.caller?.authEnabled ?? false,
      name: response.caller?.name ?? "",
      grants: (response.caller?.grants ?? []).map((g) => ({ operations: [...g.operations], prefixes: [...g.prefixes] })),
    },
  };
}
