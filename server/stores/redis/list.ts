// List: ranges of the ordered index from the page token on, each entry
// verified against its manifest (a deleted object is never listed), a few
// at a time; entries whose object is gone are pruned after the page.
import { formatReference, type Ref } from "../../references/reference.js";
import { decodePageToken, pageKeys } from "../kit/list-pages.js";
import { referenceOf } from "../kit/object-reference.js";
import type { ListOptions, ListPage, ObjectMeta } from "../raw-store.js";
import { callFor, keysOf, manifestOf, type RedisContext } from "./context.js";
import { decodeKey, endBound, indexRange, lexBound, prune, startBound } from "./listing.js";
import { metaOf } from "./manifest.js";

export async function list(ctx: RedisContext, prefix: Ref, options: ListOptions, signal: AbortSignal): Promise<ListPage> {
  const reference = referenceOf(prefix);
  const resume = decodePageToken(options.pageToken, prefix.key, options.delimiter, reference);
  const call = callFor(`LIST ${reference}`, reference, signal);
  const metas = new Map<string, ObjectMeta>();
  const stale: string[] = [];
  const skip: { under?: string } = {};
  const batchSize = Math.min(1000, Math.max(options.pageSize + 1, options.delimiter === "" ? 0 : 64));
  // With a delimiter most keys of a batch may roll up into one prefix: verify a few at a time.
  const window = options.delimiter === "" ? batchSize : 16;
  const isSkipped = (key: string) => skip.under !== undefined && key.startsWith(skip.under);

  async function* existingKeys(): AsyncGenerator<string> {
    let min = startBound(prefix.key, resume);
    const max = endBound(prefix.key);
    for (;;) {
      const members = await indexRange(ctx, min, max, batchSize, call);
      const lastMember = members[members.length - 1];
      if (lastMember === undefined) return;
      min = lexBound("(", lastMember);
      const keys = members.map(decodeKey).filter((key): key is string => key !== undefined);
      for (let i = 0; i < keys.length; i += window) {
        const group = keys.slice(i, i + window).filter((key) => !isSkipped(key));
        const found = await Promise.all(group.map((key) => manifestOf(ctx, keysOf(ctx, key), call)));
        for (const [j, key] of group.entries()) {
          if (isSkipped(key)) continue;
          const m = found[j];
          if (m === undefined) {
            stale.push(key);
            continue;
          }
          metas.set(key, metaOf(key, m));
          yield key;
        }
      }
      if (skip.under !== undefined) {
        const past = Buffer.concat([Buffer.from(skip.under, "utf8"), Buffer.from([0xff])]);
        if (Buffer.compare(lastMember, past) < 0) min = lexBound("[", past);
      }
      if (members.length < batchSize) return;
    }
  }

  const page = await pageKeys(existingKeys(), prefix.key, options, reference, (commonPrefix) => (skip.under = commonPrefix));
  // Entries whose object is gone (a crash between index and commit, a delete's last step, a TTL).
  await Promise.all(stale.map((key) => prune(ctx, key, formatReference(prefix, key)).catch(() => {})));
  return {
    objects: page.keys.flatMap((key) => {
      const meta = metas.get(key);
      return meta === undefined ? [] : [meta];
    }),
    commonPrefixes: page.commonPrefixes,
    nextPageToken: page.nextPageToken,
  };
}
