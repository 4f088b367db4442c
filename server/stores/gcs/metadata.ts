// Object metadata on GCS: the JSON API's object resource as stowd's object
// info, and the resource a write sends. A content MD5 is GCS's own md5Hash
// (which composite objects lack) or the one a writer declared under Flyte's
// metadata key. The CRC32C is GCS's own `crc32c`, which every object has
// (composed and rewritten ones too): GCS computes it, and checks one sent
// with an upload.
import type { FileMetadata } from "@google-cloud/storage";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { crc32cFromBase64, crc32cToBase64 } from "../kit/crc32c.js";
import { isFlyteContentMd5Key } from "../kit/flyte-content-md5.js";
import type { ObjectMeta } from "../raw-store.js";

/** The JSON object resource, as far as the store reads it. */
export type GcsObject = FileMetadata;

/** What a write sends as the object's resource. */
export interface UploadResource {
  contentType: string;
  metadata: Record<string, string>;
  md5Hash?: string;
  /** Base64 of the big-endian CRC32C, when known before the upload; GCS checks it. */
  crc32c?: string;
}

/** Flyte's content-MD5 key as stow's GCS driver writes it (AddContentMD5Metadata). */
const FLYTE_MD5_KEY = "flyteContentMD5";

/** 16 bytes from GCS's canonical base64 of an MD5; undefined for anything else. */
function decodeMd5(value: unknown): Uint8Array | undefined {
  if (typeof value !== "string") return undefined;
  const bytes = Buffer.from(value, "base64");
  return bytes.length === 16 && bytes.toString("base64") === value ? Uint8Array.from(bytes) : undefined;
}

export function toMeta(key: string, resource: GcsObject): ObjectMeta {
  const metadata: Record<string, string> = {};
  let flyteMd5: string | undefined;
  for (const [name, value] of Object.entries(resource.metadata ?? {})) {
    if (value === null || value === undefined) continue;
    // Reported as contentMd5, not as user metadata (GCS lower-cases it when set through a signed URL).
    if (isFlyteContentMd5Key(name)) flyteMd5 = String(value);
    else metadata[name] = String(value);
  }
  const meta: ObjectMeta = {
    key,
    size: Number(resource.size ?? 0),
    // JSON API etags are bare base64, which may itself start with "W/": only a quoted form is unwrapped.
    etag: String(resource.etag ?? "").replace(/^(W\/)?"|"$/g, ""),
    contentType: contentTypeOrDefault(resource.contentType ?? ""),
    metadata,
    updated: new Date(resource.updated ?? resource.timeCreated ?? 0),
    generation: resource.generation === undefined ? "" : String(resource.generation),
  };
  // md5Hash is GCS's own (absent for composite objects); flyteContentMD5 what a writer declared.
  const md5 = decodeMd5(resource.md5Hash) ?? decodeMd5(flyteMd5);
  if (md5 !== undefined) meta.contentMd5 = md5;
  const crc32c = crc32cFromBase64(resource.crc32c);
  if (crc32c !== undefined) meta.crc32c = crc32c;
  return meta;
}

/** Metadata to carry over to a new version of the same object (append), without a now-stale declared MD5. */
export function carriedMetadata(resource: GcsObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(resource.metadata ?? {})) {
    if (value !== null && value !== undefined && !isFlyteContentMd5Key(name)) out[name] = String(value);
  }
  return out;
}

export function uploadResource(
  contentType: string,
  metadata: Record<string, string>,
  contentMd5: Uint8Array | undefined,
  crc32c?: number,
): UploadResource {
  const resource: UploadResource = { contentType: contentTypeOrDefault(contentType), metadata: {} };
  if (crc32c !== undefined) resource.crc32c = crc32cToBase64(crc32c);
  for (const [name, value] of Object.entries(metadata))
    if (contentMd5 === undefined || !isFlyteContentMd5Key(name)) resource.metadata[name] = value;
  if (contentMd5 !== undefined) {
    const md5 = Buffer.from(contentMd5).toString("base64");
    resource.md5Hash = md5; // GCS verifies it before committing
    resource.metadata[FLYTE_MD5_KEY] = md5; // kept for composite objects, which have no md5Hash, and for Flyte
  }
  return resource;
}
