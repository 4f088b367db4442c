// Listing order and paging shared by every store that can enumerate its keys
// in order. Keys sort byte-wise in UTF-8 (S3's order), and a page token names
// the last entry served, so objects created or deleted between pages never
// cause a duplicate or a reordering.
import { StowdError } from "../../../common/errors.js";
import type { ListOptions } from "../raw-store.js";

/**
 * Byte-wise UTF-8 order. That is code point order, which differs from JS
 * string (UTF-16) order only when a surrogate pair meets a BMP character at
 * or above U+E000: "\uFFFF" < "\u{1F600}" in UTF-8 but not in UTF-16.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const cx = a.codePointAt(i) ?? x;
    const cy = b.codePointAt(i) ?? y;
    return cx < cy ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Where a listing resumes: after `entry`, and after everything under it when it was a common prefix. */
export interface ResumePoint {
  entry: string;
  isCommonPrefix: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function encodePageToken(point: ResumePoint): string {
  return Buffer.from((point.isCommonPrefix ? "p" : "k") + point.entry, "utf8").toString("base64url");
}

/** Decodes a page token of a listing of `prefix`; undefined for the first page ("" token). */
export function decodePageToken(token: string, prefix: string, delimiter: string, reference: string): ResumePoint | undefined {
  if (token === "") return undefined;
  const bad = (why: string) =>
    new StowdError(
      "INVALID_ARGUMENT",
      `page_token ${JSON.stringify(token.slice(0, 64))} ${why}; pass the next_page_token of the previous page of the same listing, or "" to start over`,
      {
        reference,
        field: "page_token",
      },
    );
  const raw = Buffer.from(token, "base64url");
  if (raw.toString("base64url") !== token) throw bad("is not a page token");
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw bad("is not a page token");
  }
  const kind = text[0];
  const entry = text.slice(1);
  if (kind !== "k" && kind !== "p") throw bad("is not a page token");
  if (!entry.startsWith(prefix)) throw bad(`does not belong to a listing of ${reference}`);
  if (kind === "p" && (delimiter === "" || !entry.endsWith(delimiter))) {
    throw bad("was issued for a listing with another delimiter");
  }
  return { entry, isCommonPrefix: kind === "p" };
}

/** True when `key` lies at or before the resume point, i.e. was already served. */
export function isBeforeResume(key: string, resume: ResumePoint | undefined): boolean {
  if (resume === undefined) return false;
  return compareKeys(key, resume.entry) <= 0 || (resume.isCommonPrefix && key.startsWith(resume.entry));
}

export interface KeyPage {
  keys: string[];
  commonPrefixes: string[];
  nextPageToken: string;
}

/**
 * Builds one page from `sortedKeys` (ascending by compareKeys; keys not
 * starting with `prefix` are ignored). Consumes the source lazily and stops
 * as soon as the page is full and one more entry proves there is a next
 * page. `onCommonPrefix` tells a producer it may skip everything under a
 * rolled-up prefix (an optimisation: skipped keys are filtered here anyway).
 */
export async function pageKeys(
  sortedKeys: Iterable<string> | AsyncIterable<string>,
  prefix: string,
  options: ListOptions,
  reference: string,
  onCommonPrefix?: (commonPrefix: string) => void,
): Promise<KeyPage> {
  const { delimiter } = options;
  const pageSize = Math.max(1, options.pageSize);
  const resume = decodePageToken(options.pageToken, prefix, delimiter, reference);
  const keys: string[] = [];
  const commonPrefixes: string[] = [];
  let last: ResumePoint | undefined;
  let rolledUp: string | undefined;
  let more = false;
  for await (const key of sortedKeys) {
    if (!key.startsWith(prefix) || isBeforeResume(key, resume)) continue;
    if (rolledUp !== undefined && key.startsWith(rolledUp)) continue;
    if (keys.length + commonPrefixes.length >= pageSize) {
      more = true;
      break;
    }
    const cut = delimiter === "" ? -1 : key.indexOf(delimiter, prefix.length);
    if (cut >= 0) {
      rolledUp = key.slice(0, cut + delimiter.length);
      commonPrefixes.push(rolledUp);
      last = { entry: rolledUp, isCommonPrefix: true };
      onCommonPrefix?.(rolledUp);
    } else {
      keys.push(key);
      last = { entry: key, isCommonPrefix: false };
    }
  }
  return { keys, commonPrefixes, nextPageToken: more && last !== undefined ? encodePageToken(last) : "" };
}
