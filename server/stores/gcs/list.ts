// Listing on GCS: the JSON API's object listing pages (which carry each
// object's full resource, so no per-object HEAD), merged into stowd's byte
// order and cut into stowd's pages by kit/list-pages. Append's staging
// objects under `tempPrefix` never show.
import type { Ref } from "../../references/reference.js";
import { compareKeys, decodePageToken, pageKeys } from "../kit/list-pages.js";
import type { ListOptions, ListPage } from "../raw-store.js";
import { checkedReference, fail, retrying, type GcsContext } from "./context.js";
import { bucketMissing, gcsStatus } from "./errors.js";
import { toMeta, type GcsObject } from "./metadata.js";
import { apiRequest } from "./requests.js";

interface ListResponse {
  items?: GcsObject[];
  prefixes?: string[];
  nextPageToken?: string;
}

/** The JSON API's listing parameters (maxResults, prefix, delimiter, startOffset), without the page token. */
export type ListQuery = Record<string, string | number>;

export async function list(ctx: GcsContext, prefix: Ref, options: ListOptions, signal: AbortSignal): Promise<ListPage> {
  const reference = checkedReference(prefix);
  const resume = decodePageToken(options.pageToken, prefix.key, options.delimiter, reference);
  // Resume after the last entry served (GCS's startOffset is inclusive; pageKeys drops what was served).
  const startOffset = resume === undefined ? undefined : resume.isCommonPrefix ? (pastPrefix(resume.entry) ?? resume.entry) : resume.entry;
  const query: ListQuery = { maxResults: Math.min(1000, options.pageSize + 1) };
  if (prefix.key !== "") query.prefix = prefix.key;
  if (options.delimiter !== "") query.delimiter = options.delimiter;
  if (startOffset !== undefined) query.startOffset = startOffset;
  const resources = new Map<string, GcsObject>();
  async function* entries(): AsyncGenerator<string> {
    for await (const page of listedPages(ctx, prefix, query, signal, reference)) {
      const names: string[] = [];
      for (const item of page.items ?? []) {
        if (item.name === undefined) continue;
        resources.set(item.name, item);
        names.push(item.name);
      }
      names.push(...(page.prefixes ?? []));
      yield* names.filter((name) => !name.startsWith(ctx.tempPrefix)).sort(compareKeys);
    }
  }
  const page = await pageKeys(entries(), prefix.key, options, reference);
  return {
    objects: page.keys.flatMap((key) => {
      const resource = resources.get(key);
      return resource === undefined ? [] : [toMeta(key, resource)];
    }),
    commonPrefixes: page.commonPrefixes,
    nextPageToken: page.nextPageToken,
  };
}

/** The listing's pages, following GCS's page tokens, fetched as they are consumed. */
export async function* listedPages(
  ctx: GcsContext,
  prefix: Ref,
  query: ListQuery,
  signal: AbortSignal,
  reference: string,
): AsyncGenerator<ListResponse> {
  let pageToken: string | undefined;
  do {
    const page = await listPage(ctx, prefix, pageToken === undefined ? query : { ...query, pageToken }, signal, reference);
    yield page;
    pageToken = page.nextPageToken || undefined;
  } while (pageToken !== undefined);
}

/** One page of GCS's object listing; a 404 there can only mean a missing bucket. */
async function listPage(ctx: GcsContext, prefix: Ref, query: ListQuery, signal: AbortSignal, reference: string): Promise<ListResponse> {
  try {
    return await retrying(ctx, reference, "listing", signal, (s) =>
      apiRequest<ListResponse>(ctx.storage.bucket(prefix.container), { uri: "/o", qs: query }, s),
    );
  } catch (err) {
    if (gcsStatus(err) === 404) throw bucketMissing(prefix.container, reference);
    throw fail(ctx, err, reference, "listing");
  }
}

/** Code point after the last one of `prefix`: every key under `prefix` sorts before it (UTF-8 order = code point order). */
function pastPrefix(prefix: string): string | undefined {
  const points = [...prefix];
  const last = points.pop()?.codePointAt(0);
  if (last === undefined) return undefined;
  const next = last === 0xd7ff ? 0xe000 : last + 1;
  return next > 0x10ffff ? undefined : points.join("") + String.fromCodePoint(next);
}
