// Listing on S3: ListObjectsV2 pages, merged into stowd's byte order and
// cut into stowd's pages by kit/list-pages. ListObjectsV2 has no content
// type or metadata, so each listed object is HEADed (bounded in parallel).
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from "@aws-sdk/client-s3";
import { formatReference, type Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { compareKeys, decodePageToken, pageKeys } from "../kit/list-pages.js";
import { mapLimit } from "../kit/map-limit.js";
import type { ListOptions, ListPage, ObjectMeta } from "../raw-store.js";
import { call, checkBucket, locate, type Loc, type S3Context } from "./context.js";
import { headMeta } from "./read.js";

const HEAD_CONCURRENCY = 16;

export async function list(ctx: S3Context, prefix: Ref, options: ListOptions, signal: AbortSignal): Promise<ListPage> {
  const loc = locate(prefix);
  checkBucket(loc);
  const resume = decodePageToken(options.pageToken, prefix.key, options.delimiter, loc.reference);
  const page = await pageKeys(
    listedKeys(ctx, loc, options.delimiter, resume?.entry, Math.min(1000, options.pageSize + 1), signal),
    prefix.key,
    options,
    loc.reference,
  );
  const metas = await mapLimit(page.keys, HEAD_CONCURRENCY, (key) =>
    headMeta(ctx, { bucket: loc.bucket, key, reference: formatReference(prefix, key) }, signal),
  );
  return {
    // An object deleted since the listing is left out.
    objects: metas.filter((meta): meta is ObjectMeta => meta !== undefined),
    commonPrefixes: page.commonPrefixes,
    nextPageToken: page.nextPageToken,
  };
}

/** The keys (and common prefixes) under `loc.key` in byte order, from `startAfter` on. */
async function* listedKeys(
  ctx: S3Context,
  loc: Loc,
  delimiter: string,
  startAfter: string | undefined,
  pageSize: number,
  signal: AbortSignal,
): AsyncGenerator<string> {
  for await (const page of listedPages(ctx, loc, { delimiter, maxKeys: pageSize, startAfter }, signal)) {
    const entries = [...page.keys, ...page.commonPrefixes];
    // Each list is sorted; pageKeys wants them merged in byte order.
    entries.sort(compareKeys);
    yield* entries;
  }
}

export interface ListQuery {
  /** "" for a flat listing. */
  delimiter: string;
  maxKeys: number;
  startAfter?: string | undefined;
  /**
   * Ask for each next page after the last key served instead of by
   * continuation token: for a caller that deletes each page before asking
   * for the next, so the listing goes on from what is left.
   */
  afterLastKey?: boolean;
}

/** One ListObjectsV2 answer, its names decoded; names that are not UTF-8 are left out (no reference can name them). */
export interface ListedPage {
  keys: string[];
  commonPrefixes: string[];
}

/** The ListObjectsV2 pages of everything under `loc.key`, fetched as they are consumed. */
export async function* listedPages(ctx: S3Context, loc: Loc, query: ListQuery, signal: AbortSignal): AsyncGenerator<ListedPage> {
  let continuation: string | undefined;
  let startAfter = query.startAfter;
  for (;;) {
    throwIfAborted(signal, loc.reference);
    const out: ListObjectsV2CommandOutput = await call(ctx, "LIST", loc, signal, { idempotent: true }, (s) =>
      ctx.client.send(
        new ListObjectsV2Command({
          Bucket: loc.bucket,
          EncodingType: "url",
          MaxKeys: query.maxKeys,
          ...(loc.key === "" ? {} : { Prefix: loc.key }),
          ...(query.delimiter === "" ? {} : { Delimiter: query.delimiter }),
          ...(continuation === undefined
            ? startAfter === undefined
              ? {}
              : { StartAfter: startAfter }
            : { ContinuationToken: continuation }),
        }),
        { abortSignal: s },
      ),
    );
    ctx.knownBuckets.add(loc.bucket);
    const keys = decodedNames((out.Contents ?? []).map((o) => o.Key));
    yield { keys, commonPrefixes: decodedNames((out.CommonPrefixes ?? []).map((p) => p.Prefix)) };
    if (out.IsTruncated !== true) return;
    if (query.afterLastKey === true) {
      if (keys.length === 0) return;
      startAfter = keys[keys.length - 1];
    } else {
      if (out.NextContinuationToken === undefined) return;
      continuation = out.NextContinuationToken;
    }
  }
}

function decodedNames(encoded: ReadonlyArray<string | undefined>): string[] {
  return encoded.flatMap((name) => {
    const decoded = name === undefined ? undefined : decodeListedKey(name);
    return decoded === undefined ? [] : [decoded];
  });
}

/** Keys and prefixes of a listing made with EncodingType=url (AWS encodes spaces as `+`, RGW as %20 and `+` as %2B). */
function decodeListedKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, " "));
  } catch {
    return undefined; // not UTF-8: no reference can name it
  }
}
