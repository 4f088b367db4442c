// The Range header of a signed GET (RFC 9110 §14.1.2), as the stores' byte
// range (kit/byte-range.ts resolves it against the object's size): one range
// `bytes=a-b`, `bytes=a-` or `bytes=-n`. What this does not understand, and
// a request for several ranges, is served as the whole object, which RFC
// 9110 allows (a server may ignore Range).
import type { RangeRequest } from "../stores/raw-store.js";

/** undefined = serve the whole object. */
export function rangeOfHeader(header: string | undefined): RangeRequest | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "") {
    // bytes=-n: the last n bytes (bytes=-0, no bytes at all, is served whole).
    const suffix = Number(last);
    return last === "" || suffix === 0 ? undefined : { offset: 0, length: 0, suffixLength: suffix };
  }
  const offset = Number(first);
  if (last === "") return { offset, length: 0, suffixLength: 0 };
  const end = Number(last);
  // An invalid range (last before first) is ignored, per RFC 9110.
  if (end < offset || !Number.isSafeInteger(end)) return undefined;
  return { offset, length: end - offset + 1, suffixLength: 0 };
}
