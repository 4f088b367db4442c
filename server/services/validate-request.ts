// Checks of request fields other than references. Each failure names the
// field and says what to send instead.
import type { ByteRange, Preconditions as PreconditionsMessage } from "../../gen/stowd/v1/object_pb.js";
import { StowdError } from "../../common/errors.js";
import type { Preconditions, RangeRequest } from "../stores/raw-store.js";

const METADATA_KEY = /^[a-z0-9][a-z0-9_-]{0,127}$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const MAX_METADATA_BYTES = 2048;
/** Metadata keys with this prefix are written by stowd itself. */
export const RESERVED_METADATA_PREFIX = "stowd_";

function invalid(field: string, message: string): StowdError {
  return new StowdError("INVALID_ARGUMENT", `${field}: ${message}`, { field });
}

export function validateMetadata(metadata: Record<string, string>, field: string): Record<string, string> {
  let total = 0;
  for (const [key, value] of Object.entries(metadata)) {
    if (!METADATA_KEY.test(key)) {
      throw invalid(
        field,
        `key ${JSON.stringify(key)} must be 1-128 lower-case ASCII letters, digits, '_' or '-', starting with a letter or digit`,
      );
    }
    if (key.startsWith(RESERVED_METADATA_PREFIX)) {
      throw invalid(field, `key ${JSON.stringify(key)} uses the prefix "${RESERVED_METADATA_PREFIX}", which is reserved for stowd`);
    }
    if (!PRINTABLE_ASCII.test(value)) {
      throw invalid(field, `the value of ${JSON.stringify(key)} must be printable ASCII (backends send metadata as HTTP headers)`);
    }
    total += key.length + value.length;
  }
  if (total > MAX_METADATA_BYTES) {
    throw invalid(field, `keys and values add up to ${total} bytes; at most ${MAX_METADATA_BYTES} are allowed`);
  }
  return { ...metadata };
}

export function validateContentType(contentType: string, field: string): string {
  if (contentType.length > 256 || !PRINTABLE_ASCII.test(contentType)) {
    throw invalid(field, "must be printable ASCII, at most 256 characters (e.g. application/octet-stream)");
  }
  return contentType;
}

export function validatePreconditions(pre: PreconditionsMessage | undefined, field: string): Preconditions {
  if (pre === undefined) return {};
  if (pre.ifNotExists && (pre.ifExists || pre.ifMatchEtag !== "")) {
    throw invalid(field, "if_not_exists cannot be combined with if_exists or if_match_etag");
  }
  const result: Preconditions = {};
  if (pre.ifNotExists) result.ifNotExists = true;
  if (pre.ifExists) result.ifExists = true;
  if (pre.ifMatchEtag !== "") result.ifMatchEtag = pre.ifMatchEtag;
  return result;
}

export function validateRange(range: ByteRange | undefined, field: string): RangeRequest | undefined {
  if (range === undefined) return undefined;
  const offset = toSafeNumber(range.offset, `${field}.offset`);
  const length = toSafeNumber(range.length, `${field}.length`);
  const suffixLength = toSafeNumber(range.suffixLength, `${field}.suffix_length`);
  if (suffixLength > 0 && (offset > 0 || length > 0)) {
    throw invalid(field, "suffix_length cannot be combined with offset or length; send either offset/length or suffix_length");
  }
  return { offset, length, suffixLength };
}

/** int64 fields arrive as bigint; sizes beyond 2^53 or below 0 are refused. */
export function toSafeNumber(value: bigint, field: string): number {
  if (value < 0n) throw invalid(field, `must not be negative (got ${value})`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(field, `is too large (got ${value})`);
  return Number(value);
}

export function validateMd5(md5: Uint8Array, field: string): Uint8Array | undefined {
  if (md5.length === 0) return undefined;
  if (md5.length !== 16) throw invalid(field, `must be the 16-byte binary MD5 digest (got ${md5.length} bytes)`);
  return md5;
}

export function optionalString(value: string): string | undefined {
  return value === "" ? undefined : value;
}
