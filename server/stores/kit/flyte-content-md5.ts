// Flyte's content MD5 in user metadata: stow's AddContentMD5Metadata stores
// the base64 MD5 a writer declared under `flyteContentMD5`, and Flyte reads
// it back from there. S3 and Azure lower-case metadata names, GCS keeps the
// case it was written with, so stores compare the name case-insensitively.

/** The metadata name, lower-cased as S3, Azure and signed-URL headers carry it. */
export const FLYTE_CONTENT_MD5_KEY = "flytecontentmd5";

/** True when `name` is Flyte's content-MD5 key, in any case. */
export function isFlyteContentMd5Key(name: string): boolean {
  return name.toLowerCase() === FLYTE_CONTENT_MD5_KEY;
}

/** A 16-byte MD5 from its base64 form, or undefined when `value` is not one. */
export function md5FromBase64(value: string | undefined): Uint8Array | undefined {
  if (value === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(value)) return undefined;
  return Uint8Array.from(Buffer.from(value, "base64"));
}
