// Object metadata on S3: user metadata travels as x-amz-meta-* headers, and
// the object info stowd reports is read from HEAD and GET answers.
import type { HeadObjectCommandOutput } from "@aws-sdk/client-s3";
import { StowdError } from "../../../common/errors.js";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { unquoteEtag } from "../kit/etag.js";
import { takeCrc32c, withCrc32c } from "../kit/crc32c.js";
import { FLYTE_CONTENT_MD5_KEY, md5FromBase64 } from "../kit/flyte-content-md5.js";
import type { ObjectMeta } from "../raw-store.js";
import { S3_KIND } from "./errors.js";

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/**
 * Metadata travels as x-amz-meta-* headers: names are lower-cased by S3,
 * values must be printable ASCII. The service allows names of [a-z0-9_-];
 * the store checks the same, since it stores `_` as `.` (see below).
 */
export function checkMetadata(metadata: Record<string, string>, reference: string): void {
  for (const [key, value] of Object.entries(metadata)) {
    const bad = (why: string) =>
      new StowdError("INVALID_ARGUMENT", `metadata key ${JSON.stringify(key)} of ${reference} ${why}`, {
        reference,
        field: "header.metadata",
        backend: S3_KIND,
      });
    if (!/^[a-z0-9_-]+$/.test(key))
      throw bad("cannot be stored in S3: use lower-case ASCII letters, digits, - and _ (S3 lower-cases metadata names)");
    if (/[^\x20-\x7e]/.test(value)) throw bad("has a value S3 cannot store: only printable ASCII travels in S3 metadata headers");
  }
}

/**
 * The x-amz-meta-* names and values for `metadata`, plus Flyte's content MD5
 * when one is known (Flyte reads an object's MD5 from there) and the CRC32C
 * when known (the RGW this project targets, Ceph 16, has no x-amz-checksum-*
 * support, so it is user metadata; see kit/crc32c.ts).
 *
 * RGW turns `_` in metadata names into `-` (it passes headers through
 * CGI-style variable names), so `stowd_type_url` would come back as
 * `stowd-type-url`. Names are stored with `.` for `_` on every S3 server;
 * checked names never contain `.`, so reading maps it back unambiguously.
 */
export function toS3Metadata(metadata: Record<string, string>, contentMd5?: Uint8Array, crc32c?: number): Record<string, string> {
  const out = Object.fromEntries(Object.entries(withCrc32c(metadata, crc32c)).map(([key, value]) => [key.replace(/_/g, "."), value]));
  if (contentMd5 !== undefined) out[FLYTE_CONTENT_MD5_KEY] = base64(contentMd5);
  return out;
}

function fromS3Metadata(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [key.replace(/\./g, "_"), value]));
}

/** Object info from HEAD / GET answers. */
export function metaOf(
  key: string,
  size: number,
  out: Pick<
    HeadObjectCommandOutput,
    "ETag" | "ContentType" | "Metadata" | "LastModified" | "VersionId" | "ServerSideEncryption" | "SSECustomerAlgorithm"
  >,
): ObjectMeta {
  const etag = unquoteEtag(out.ETag);
  const { crc32c, metadata } = takeCrc32c(fromS3Metadata(out.Metadata));
  let contentMd5 = md5FromBase64(metadata[FLYTE_CONTENT_MD5_KEY]);
  if (contentMd5 !== undefined) delete metadata[FLYTE_CONTENT_MD5_KEY];
  // A single-part upload's ETag is the content MD5, unless KMS or customer keys encrypt it.
  const encrypted = out.SSECustomerAlgorithm !== undefined || (out.ServerSideEncryption ?? "").startsWith("aws:kms");
  if (contentMd5 === undefined && !encrypted && /^[0-9a-f]{32}$/.test(etag)) contentMd5 = Uint8Array.from(Buffer.from(etag, "hex"));
  return {
    key,
    size,
    etag,
    ...(contentMd5 === undefined ? {} : { contentMd5 }),
    ...(crc32c === undefined ? {} : { crc32c }),
    contentType: out.ContentType ?? contentTypeOrDefault(""),
    metadata,
    updated: out.LastModified ?? new Date(),
    generation: out.VersionId === undefined || out.VersionId === "null" ? "" : out.VersionId,
  };
}
