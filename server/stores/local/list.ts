// List: a depth-first walk over the sorted directory listings (listing.ts)
// that resumes from the page token by binary search, then one lstat and
// sidecar read per listed key, a bounded number at a time.
import { lstat } from "node:fs/promises";
import path from "node:path";
import type { Ref } from "../../references/reference.js";
import { compareKeys, decodePageToken, pageKeys, type ResumePoint } from "../kit/list-pages.js";
import { mapLimit } from "../kit/map-limit.js";
import { referenceOf } from "../kit/object-reference.js";
import type { ListOptions, ListPage, ObjectMeta } from "../raw-store.js";
import { locationOfListed, type LocalContext } from "./context.js";
import { errnoCode, fromLocalError, symlinkRefused } from "./errors.js";
import { endOfPrefix, searchNames } from "./listing.js";
import { headAt } from "./lookup.js";
import { containerDir } from "./paths.js";

/** Listed objects looked up at once. */
const META_CONCURRENCY = 16;

export async function list(ctx: LocalContext, prefix: Ref, options: ListOptions): Promise<ListPage> {
  const reference = referenceOf(prefix);
  const resume = decodePageToken(options.pageToken, prefix.key, options.delimiter, reference);
  const dir = await listableDir(ctx, prefix, reference);
  const skip: { under?: string } = resume?.isCommonPrefix ? { under: resume.entry } : {};
  const keys = dir === undefined ? [] : walkKeys(ctx, dir, prefix.key, resume, skip, reference);
  const page = await pageKeys(keys, prefix.key, options, reference, (commonPrefix) => (skip.under = commonPrefix));
  const parents = new Map<string, Promise<boolean>>();
  const metas =
    dir === undefined
      ? []
      : await mapLimit(
          page.keys,
          META_CONCURRENCY,
          async (key) => (await headAt(ctx, locationOfListed(ctx, prefix, dir, key), parents))?.meta,
        );
  return {
    // An object deleted since the walk is left out.
    objects: metas.filter((meta): meta is ObjectMeta => meta !== undefined),
    commonPrefixes: page.commonPrefixes,
    nextPageToken: page.nextPageToken,
  };
}

/** The container directory for a listing, or undefined when it does not exist. */
export async function listableDir(ctx: LocalContext, prefix: Ref, reference: string): Promise<string | undefined> {
  const dir = containerDir(ctx.layout, prefix.container, reference);
  const stats = await lstat(dir).catch((err: unknown) => {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw fromLocalError(err, reference, "listing");
  });
  if (stats === undefined) return undefined;
  if (stats.isSymbolicLink()) throw symlinkRefused(reference, prefix.container);
  return stats.isDirectory() ? dir : undefined;
}

/** True when every key under directory key `dirKey` was already served before `resume`. */
function subtreeServed(dirKey: string, resume: ResumePoint | undefined): boolean {
  if (resume === undefined) return false;
  if (resume.isCommonPrefix && dirKey.startsWith(resume.entry)) return true;
  return compareKeys(dirKey, resume.entry) < 0 && !resume.entry.startsWith(dirKey);
}

/**
 * Yields the keys under `prefix` in listing order (compareKeys) by a
 * depth-first walk over each directory's sorted entries (a directory "d"
 * sorts as "d/"). In each directory it starts by binary search at the
 * first entry that can hold an unserved key under the prefix, jumps over
 * the entries under a rolled-up common prefix (`skip.under`, set by the
 * page builder), and stops after the last entry under the prefix.
 */
export async function* walkKeys(
  ctx: LocalContext,
  dir: string,
  prefix: string,
  resume: ResumePoint | undefined,
  skip: { under?: string },
  reference: string,
): AsyncGenerator<string> {
  async function* visit(absolute: string, relative: string): AsyncGenerator<string> {
    const names = await ctx.listings.names(absolute, reference);
    if (names === undefined) return;
    /** First index that can hold a key at (`inclusive`) or after `target`, a key. */
    const from = (target: string, inclusive: boolean): number => {
      if (!target.startsWith(relative)) return compareKeys(target, relative) < 0 ? 0 : names.length;
      const local = target.slice(relative.length);
      const at = searchNames(names, local, inclusive);
      // The directory holding the target sorts before it: start there.
      const before = names[at - 1];
      return before !== undefined && before.endsWith("/") && local.startsWith(before) ? at - 1 : at;
    };
    let index = from(prefix, true);
    if (resume !== undefined) index = Math.max(index, from(resume.entry, false));
    // Past this index no name is under the prefix.
    const end = prefix.startsWith(relative) ? endOfPrefix(names, prefix.slice(relative.length), index) : names.length;
    while (index < end) {
      const under = skip.under;
      if (under !== undefined) {
        if (relative.startsWith(under)) return;
        if (under.startsWith(relative)) {
          const local = under.slice(relative.length);
          if ((names[index] as string).startsWith(local)) {
            index = endOfPrefix(names, local, index);
            continue;
          }
        }
      }
      const name = names[index++] as string;
      const key = relative + name;
      if (name.endsWith("/")) {
        if (!key.startsWith(prefix) && !prefix.startsWith(key)) continue;
        if (subtreeServed(key, resume)) continue;
        yield* visit(path.join(absolute, name.slice(0, -1)), key);
      } else if (key.startsWith(prefix)) {
        yield key;
      }
    }
  }
  yield* visit(dir, "");
}
