// Delete and deletePrefix. A delete unlinks the file and its sidecars under
// the key's lock and prunes the directories it leaves empty; deletePrefix
// walks the keys under the prefix first, then deletes them a few at a time.
import { rm, unlink } from "node:fs/promises";
import path from "node:path";
import type { Ref } from "../../references/reference.js";
import { deleteByListing } from "../kit/delete-by-listing.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkEtag } from "../kit/preconditions.js";
import type { DeleteOptions } from "../raw-store.js";
import { locate, locationOfListed, type LocalContext, type Location } from "./context.js";
import { errnoCode, fromLocalError } from "./errors.js";
import { listableDir, walkKeys } from "./list.js";
import { headAt } from "./lookup.js";
import { pruneEmptyDirs } from "./paths.js";

/** Deletes in flight at once in a deletePrefix. */
const DELETE_CONCURRENCY = 8;

export async function remove(ctx: LocalContext, ref: Ref, options: DeleteOptions): Promise<boolean> {
  return deleteAt(ctx, locate(ctx, ref), options.ifMatchEtag);
}

export async function deletePrefix(ctx: LocalContext, prefix: Ref, signal: AbortSignal): Promise<number> {
  const reference = referenceOf(prefix);
  const dir = await listableDir(ctx, prefix, reference);
  if (dir === undefined) return 0;
  return deleteByListing({
    pages: everyKey(ctx, dir, prefix.key, reference),
    remove: (key) => deleteAt(ctx, locationOfListed(ctx, prefix, dir, key), undefined),
    concurrency: DELETE_CONCURRENCY,
    signal,
    reference,
  });
}

/** Every key under `prefix` as one page: all are walked before the first delete changes the directories the walk reads. */
async function* everyKey(ctx: LocalContext, dir: string, prefix: string, reference: string): AsyncGenerator<string[]> {
  const keys: string[] = [];
  for await (const key of walkKeys(ctx, dir, prefix, undefined, {}, reference)) keys.push(key);
  yield keys;
}

async function deleteAt(ctx: LocalContext, loc: Location, ifMatchEtag: string | undefined): Promise<boolean> {
  return ctx.lock(loc.lockKey, async () => {
    const found = await headAt(ctx, loc);
    if (found === undefined) return false;
    checkEtag(found.meta, ifMatchEtag, loc.reference, "nothing was deleted");
    try {
      await unlink(loc.file);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return false;
      throw fromLocalError(err, loc.reference, "deleting");
    }
    await rm(loc.sidecar, { force: true });
    if (loc.legacySidecar !== undefined) await rm(loc.legacySidecar, { force: true });
    await pruneEmptyDirs(path.dirname(loc.file), loc.dir);
    return true;
  });
}
