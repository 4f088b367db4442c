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
const STOWD_KEY = /^[a-z0-9][a-z0-9_-]*$/;

/** Flyte's metadata key for a base64 content MD5 (stow's azure driver writes it). */
export const FLYTE_CONTENT_MD5_KEY = "flytecontentmd5";

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

/** Flyte's `flyteContentMD5` value as 16 bytes, when it holds a base64 MD5. */
export function flyteContentMd5(metadata: Record<string, string>): Uint8Array | undefined {
  const value = metadata[FLYTE_CONTENT_MD5_KEY];
  if (value === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(value)) return undefined;
  return Uint8Array.from(Buffer.from(value, "base64"));
}

/** Raw Azure metadata without Flyte's MD5 (after an append it would describe old content). */
export function withoutContentMd5(raw: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) if (name.toLowerCase() !== FLYTE_CONTENT_MD5_KEY) out[name] = value;
  return out;
}
