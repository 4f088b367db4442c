// Object metadata on Azure. Azure metadata names must be C# identifiers
// (letters, digits, `_`; not starting with a digit) and are case-insensitive,
// while stowd keys are `[a-z0-9][a-z0-9_-]*`. Keys are therefore escaped:
// every character that a C# identifier cannot hold at its position, and `_`
// itself (the escape character), becomes `_` + two lowercase hex digits:
// `run-id` -> `run_2did`, `stowd_type_url` -> `stowd_5ftype_5furl`,
// `9lives` -> `_39lives`; keys of plain letters and digits stay as they are
// (`color`), so other Azure tools see readable names. Decoding is the exact
// inverse, and a name that is not such an encoding (written by another tool,
// e.g. Flyte's `flyteContentMD5`) is returned as it is, lower-cased: Node
// lower-cases the x-ms-meta-* header names of a HEAD while a listing keeps
// their case, and Azure treats names case-insensitively anyway.
//
// The object info stowd reports is read from HEAD, GET and listing answers.
import { contentTypeOrDefault } from "../kit/content-type.js";
import { CRC32C_METADATA_KEY, crc32cToBase64, takeCrc32c } from "../kit/crc32c.js";
import { unquoteEtag } from "../kit/etag.js";
import { FLYTE_CONTENT_MD5_KEY, isFlyteContentMd5Key, md5FromBase64 } from "../kit/flyte-content-md5.js";
import type { ObjectMeta } from "../raw-store.js";

const STOWD_KEY = /^[a-z0-9][a-z0-9_-]*$/;

/** The Azure metadata name for a stowd metadata key. */
export function encodeMetadataKey(key: string): string {
  let out = "";
  for (let i = 0; i < key.length; i++) {
    const ch = key[i] ?? "";
    const keep = /[a-z]/.test(ch) || (i > 0 && /[0-9]/.test(ch));
    out += keep ? ch : "_" + ch.charCodeAt(0).toString(16).padStart(2, "0");
  }
  return out;
}

/** The stowd key of an Azure metadata name (see the file comment). */
export function decodeMetadataKey(name: string): string {
  const lower = name.toLowerCase();
  if (lower !== name || !name.includes("_")) return lower;
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const ch = name[i] ?? "";
    if (ch !== "_") {
      out += ch;
      continue;
    }
    const hex = name.slice(i + 1, i + 3);
    if (!/^[0-9a-f]{2}$/.test(hex)) return name;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  // Only a canonical encoding of a valid key decodes; anything else is foreign.
  return STOWD_KEY.test(out) && encodeMetadataKey(out) === name ? out : name;
}

export function toAzureMetadata(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) out[encodeMetadataKey(key)] = value;
  return out;
}

export function fromAzureMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) out[decodeMetadataKey(name)] = value;
  return out;
}

/** Raw Azure metadata with the CRC32C set to `crc32c`, or without one when it is unknown. */
export function withRawCrc32c(raw: Record<string, string>, crc32c: number | undefined): Record<string, string> {
  const name = encodeMetadataKey(CRC32C_METADATA_KEY);
  const out = Object.fromEntries(Object.entries(raw).filter(([key]) => key.toLowerCase() !== name));
  if (crc32c !== undefined) out[name] = crc32cToBase64(crc32c);
  return out;
}

/** Raw Azure metadata without Flyte's MD5 (after an append it would describe old content). */
export function withoutContentMd5(raw: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) if (!isFlyteContentMd5Key(name)) out[name] = value;
  return out;
}

/** Properties as the SDK reports them on HEAD, GET and listings. */
export interface BlobProps {
  contentLength?: number | undefined;
  etag?: string | undefined;
  contentType?: string | undefined;
  contentMD5?: Uint8Array | undefined;
  lastModified?: Date | undefined;
  versionId?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

/**
 * Object info from a blob's properties; the content MD5 is Azure's own, else
 * the one Flyte's stow recorded; the CRC32C the one stowd recorded in the
 * metadata at commit (Azure's own CRC64 is of another polynomial).
 */
export function toMeta(key: string, props: BlobProps, size = props.contentLength ?? 0): ObjectMeta {
  const { crc32c, metadata } = takeCrc32c(fromAzureMetadata(props.metadata));
  const contentMd5 =
    props.contentMD5 !== undefined && props.contentMD5.length === 16
      ? Uint8Array.from(props.contentMD5)
      : md5FromBase64(metadata[FLYTE_CONTENT_MD5_KEY]);
  return {
    key,
    size,
    etag: unquoteEtag(props.etag),
    ...(contentMd5 === undefined ? {} : { contentMd5 }),
    ...(crc32c === undefined ? {} : { crc32c }),
    contentType: contentTypeOrDefault(props.contentType ?? ""),
    metadata,
    updated: props.lastModified ?? new Date(0),
    generation: props.versionId ?? "",
  };
}
