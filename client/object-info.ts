// The SDK's plain view of an object: numbers and Dates instead of the
// protobuf message's bigint and Timestamp, so it prints, compares and
// JSON-serialises as TypeScript users expect. The generated message stays
// available from the package's `proto` entry point.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ObjectInfo as ObjectInfoMessage } from "../gen/stowd/v1/object_pb.js";
import { toSafeNumber } from "./safe-number.js";

/** What the daemon knows about one stored object. */
export interface ObjectInfo {
  /** The canonical reference; pass it unchanged to any other call. */
  reference: string;
  /** Size in bytes. Exact up to 2^53 - 1 (8 PiB); larger sizes are not supported by the SDK. */
  size: number;
  /** Opaque version tag; changes whenever the object is rewritten. Use it in `ifMatchEtag`. */
  etag: string;
  /** The 16-byte MD5 of the content, when known. */
  contentMd5: Uint8Array | undefined;
  /** CRC32C (Castagnoli) of the whole content, when known; whole-object reads are verified against it. */
  crc32c: number | undefined;
  /** MIME type given by the writer; "" when none was given. */
  contentType: string;
  /** User metadata; keys starting with `stowd_` are set by stowd. */
  metadata: Record<string, string>;
  /** When the object was last written, as reported by the backend. */
  updateTime: Date | undefined;
  /** Backend generation or version id (GCS generation, S3 version id); "" when the backend has none. */
  generation: string;
}

/** Converts the wire message; a size beyond 2^53 - 1 is a StowdClientError (OUT_OF_RANGE), never rounded. */
export function toObjectInfo(message: ObjectInfoMessage): ObjectInfo {
  return {
    reference: message.reference,
    size: toSafeNumber(message.size, "size", message.reference),
    etag: message.etag,
    contentMd5: message.contentMd5.byteLength === 0 ? undefined : message.contentMd5,
    crc32c: message.crc32c,
    contentType: message.contentType,
    metadata: { ...message.metadata },
    updateTime: message.updateTime === undefined ? undefined : timestampDate(message.updateTime),
    generation: message.generation,
  };
}
