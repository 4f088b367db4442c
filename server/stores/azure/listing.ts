// Listing pages in stowd's order (byte-wise UTF-8, see kit/list-pages.ts) over
// Azure's listing, which sorts names by UTF-16 code units (so does azurite).
// The two orders differ only where one name has a surrogate (a character
// above U+FFFF) and the other a character in U+E000..U+FFFF at the first
// position where they differ: UTF-8 puts the latter first, UTF-16 the former.
// So a name holding a surrogate may only be served once the backend listing
// has moved past every name sharing its text before that surrogate; names
// without surrogates are final as soon as they are seen. A page keeps the
// N+1 smallest names seen (bounded memory) and reads on until its first N
// are final.
//
// Page tokens are opaque to callers: base64url JSON holding list-pages'
// resume point (the last entry served, checked against the prefix and
// delimiter like every store's tokens) and an Azure continuation marker from
// which every unserved name is still ahead. Azure's markers are name-based,
// so objects created or deleted between pages never cause a repeat.
import { StowdError } from "../../../common/errors.js";
import { compareKeys, decodePageToken, encodePageToken, isBeforeResume, type ResumePoint } from "../kit/list-pages.js";
import type { ListOptions } from "../raw-store.js";

export interface BackendEntry<T> {
  /** A blob name, or a common prefix ending with the delimiter. */
  name: string;
  isPrefix: boolean;
  /** The blob's listing item (undefined for prefixes). */
  item?: T;
}

export interface BackendPage<T> {
  entries: Array<BackendEntry<T>>;
  /** Continuation marker; "" when the listing is complete. */
  marker: string;
}

/** Fetches one backend page from `marker` ("" = the start). */
export type FetchPage<T> = (marker: string, maxResults: number) => Promise<BackendPage<T>>;

export interface Utf8Page<T> {
  entries: Array<BackendEntry<T>>;
  nextPageToken: string;
}

interface Token {
  resume: ResumePoint;
  marker: string;
}

function badToken(token: string, reference: string): StowdError {
  return new StowdError(
    "INVALID_ARGUMENT",
    `page_token ${JSON.stringify(token.slice(0, 64))} is not a page token; pass the next_page_token of the previous page of the same listing, or "" to start over`,
    { reference, field: "page_token" },
  );
}

function encodeToken(token: Token): string {
  return Buffer.from(JSON.stringify({ t: encodePageToken(token.resume), m: token.marker }), "utf8").toString("base64url");
}

function decodeToken(token: string, prefix: string, delimiter: string, reference: string): Token | undefined {
  if (token === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw badToken(token, reference);
  }
  const { t, m } = (parsed ?? {}) as { t?: unknown; m?: unknown };
  if (typeof t !== "string" || typeof m !== "string" || t === "") throw badToken(token, reference);
  const resume = decodePageToken(t, prefix, delimiter, reference);
  if (resume === undefined) throw badToken(token, reference);
  return { resume, marker: m };
}

/** The text before the first surrogate at or after `from`, or undefined when there is none. */
function surrogateStem(name: string, from: number): string | undefined {
  for (let i = from; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdfff) return name.slice(0, i);
  }
  return undefined;
}

interface Candidate<T> {
  entry: BackendEntry<T>;
  /** While set, a later backend name starting with it may still sort before this one. */
  stem: string | undefined;
}

/**
 * One page of the listing of `prefix` in UTF-8 order, `options.pageSize`
 * entries (objects and common prefixes together) at most.
 */
export async function listUtf8Page<T>(fetch: FetchPage<T>, prefix: string, options: ListOptions, reference: string): Promise<Utf8Page<T>> {
  const pageSize = Math.max(1, options.pageSize);
  const start = decodeToken(options.pageToken, prefix, options.delimiter, reference);
  const resume = start?.resume;
  const buffer: Array<Candidate<T>> = [];
  const fetched: Array<{ marker: string; names: string[] }> = [];
  let marker = start?.marker ?? "";
  let ended = false;
  for (;;) {
    const page = await fetch(marker, pageSize);
    fetched.push({ marker, names: page.entries.map((e) => e.name) });
    for (const entry of page.entries) {
      // The backend has moved on: names under other stems can no longer be overtaken.
      for (const candidate of buffer)
        if (candidate.stem !== undefined && !entry.name.startsWith(candidate.stem)) candidate.stem = undefined;
      if (isBeforeResume(entry.name, resume)) continue;
      let at = buffer.length;
      while (at > 0 && compareKeys(buffer[at - 1]?.entry.name ?? "", entry.name) > 0) at--;
      if (buffer[at - 1]?.entry.name === entry.name) continue; // a common prefix repeated across backend pages
      buffer.splice(at, 0, { entry, stem: surrogateStem(entry.name, prefix.length) });
      // Anything past the N+1 smallest is listed again by a later page.
      if (buffer.length > pageSize + 1) buffer.pop();
    }
    marker = page.marker;
    ended = marker === "";
    if (ended) break;
    if (buffer.length >= pageSize && buffer.slice(0, pageSize).every((c) => c.stem === undefined)) break;
  }
  const served = buffer.slice(0, pageSize).map((c) => c.entry);
  const more = buffer.length > pageSize || !ended;
  const last = served[served.length - 1];
  if (!more || last === undefined) return { entries: served, nextPageToken: "" };
  const next: ResumePoint = { entry: last.name, isCommonPrefix: last.isPrefix };
  // Resume at the first backend page that still holds an unserved name, else after the last one.
  const firstUnserved = fetched.find((page) => page.names.some((name) => !isBeforeResume(name, next)));
  return { entries: served, nextPageToken: encodeToken({ resume: next, marker: firstUnserved?.marker ?? marker }) };
}
