// The one way an object changes on disk: under the key's lock, check the
// current object, write the sidecar, then rename the finished temp file
// into place and fsync the directory. Nothing is visible unless everything
// succeeded, and a reader of the replaced file still finds its metadata.
import type { BigIntStats } from "node:fs";
import { rename, rm } from "node:fs/promises";
import path from "node:path";
import { throwIfAborted } from "../kit/abort.js";
import type { ObjectMeta } from "../raw-store.js";
import type { LocalContext, Location } from "./context.js";
import { errnoCode, fromLocalError, objectIsDirectory } from "./errors.js";
import { syncDir } from "./files.js";
import { currentForWrite, type Found } from "./lookup.js";
import { blockedPath, checkParent, ensureParent, pruneEmptyDirs, type CreatedDirs } from "./paths.js";
import { entryToMeta, identityOf, newEtag, writeSidecar, type SidecarEntry } from "./sidecar.js";

/** A finished temp file and what to record with it. */
export interface Prepared {
  tempPath: string;
  stats: BigIntStats;
  contentType: string;
  metadata: Record<string, string>;
  contentMd5?: Uint8Array;
  crc32c?: number;
}

/**
 * Under the key's lock: reads the current object, lets `prepare` check it
 * and hand over a finished temp file, then records the sidecar and renames
 * the file into place. Nothing is visible unless everything succeeded.
 */
export async function commit(
  ctx: LocalContext,
  loc: Location,
  signal: AbortSignal,
  prepare: (current: Found | undefined) => Promise<Prepared>,
): Promise<ObjectMeta> {
  return ctx.lock(loc.lockKey, async () => {
    const current = await currentForWrite(ctx, loc);
    const prepared = await prepare(current);
    throwIfAborted(signal, loc.reference);
    const entry: SidecarEntry = {
      ...identityOf(prepared.stats),
      etag: newEtag(),
      contentType: prepared.contentType,
      metadata: { ...prepared.metadata },
      updated: new Date().toISOString(),
    };
    if (prepared.contentMd5 !== undefined) entry.contentMd5 = Buffer.from(prepared.contentMd5).toString("base64");
    if (prepared.crc32c !== undefined) entry.crc32c = prepared.crc32c;
    // Keep the replaced version's entry for readers that still have it open.
    const entries = current?.entry === undefined ? [entry] : [entry, current.entry];
    const created: CreatedDirs = {};
    try {
      if (!(await checkParent(ctx.layout, loc, true))) await ensureParent(ctx.layout, loc, created);
      await writeSidecar(ctx.layout, loc.sidecar, loc.canonical.container, loc.canonical.key, entries, loc.reference);
      await renameIntoPlace(ctx, loc, prepared.tempPath, created);
    } catch (err) {
      // Leave nothing behind: a sidecar for a file that never arrived, directories made for it.
      if (current === undefined) await rm(loc.sidecar, { force: true }).catch(() => undefined);
      if (created.top !== undefined) await pruneEmptyDirs(path.dirname(loc.file), path.dirname(created.top));
      throw fromLocalError(err, loc.reference, "storing");
    }
    // The metadata now lives under the canonical name only.
    if (loc.legacySidecar !== undefined) await rm(loc.legacySidecar, { force: true }).catch(() => undefined);
    await syncDir(path.dirname(loc.file));
    return entryToMeta(loc.key, entry);
  });
}

async function renameIntoPlace(ctx: LocalContext, loc: Location, tempPath: string, created: CreatedDirs): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(tempPath, loc.file);
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" && attempt < 3) {
        // A concurrent delete pruned the (empty) directory we created: recreate it.
        await ensureParent(ctx.layout, loc, created);
        continue;
      }
      if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") throw objectIsDirectory(loc.reference);
      if (code === "ENOTDIR") throw await blockedPath(ctx.layout, loc, err);
      throw fromLocalError(err, loc.reference, "storing");
    }
  }
}
