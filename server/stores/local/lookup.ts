// Finding an object on disk and the metadata of exactly that file. A writer
// renames its sidecar and its data file one after the other, so a reader
// may see a file whose sidecar entry is not there yet ("stale"): it looks
// again a few times before it settles for metadata made from the file.
import { constants, type BigIntStats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import path from "node:path";
import type { LocalContext, Location } from "./context.js";
import { errnoCode, fromLocalError, objectIsDirectory, symlinkRefused } from "./errors.js";
import { lstatNow } from "./metadata-calls.js";
import { blockedPath, checkParent } from "./paths.js";
import { identityOf, matchMeta, readSidecar, sameIdentity, type MetaMatch, type SidecarEntry } from "./sidecar.js";

/** How often a reader retries when it sees a writer between its two renames. */
const STALE_RETRIES = 6;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** An object found on disk: its metadata and the stats of its data file. */
export interface Found extends MetaMatch {
  stats: BigIntStats;
}

async function pause(attempt: number): Promise<void> {
  await new Promise((resolve) => (attempt < 2 ? setImmediate(resolve) : setTimeout(resolve, 2 ** (attempt - 2))));
}

/**
 * The sidecar entries that may describe the file `stats` describes: the
 * canonical sidecar's, plus, when none of those is for this file, those of
 * the sidecar the object had before names were canonical.
 */
async function sidecarEntries(loc: Location, stats: BigIntStats): Promise<SidecarEntry[] | undefined> {
  const entries = await readSidecar(loc.sidecar, loc.canonical.container, loc.canonical.key);
  if (loc.legacySidecar === undefined) return entries;
  const identity = identityOf(stats);
  if (entries?.some((entry) => sameIdentity(entry, identity))) return entries;
  const legacy = await readSidecar(loc.legacySidecar, "", loc.lockKey);
  return legacy === undefined ? entries : [...(entries ?? []), ...legacy];
}

/**
 * The object at `loc` by lstat (no file opened); "directory" when a
 * directory is there. For a write, an object on the way to it is the
 * conflict error (for a read, it just means this key is not an object).
 */
async function statObject(ctx: LocalContext, loc: Location, forWrite: boolean): Promise<Found | "directory" | undefined> {
  for (let attempt = 0; ; attempt++) {
    let stats: BigIntStats;
    try {
      stats = await lstatNow(loc.file);
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOTDIR" && forWrite) throw await blockedPath(ctx.layout, loc, err);
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw fromLocalError(err, loc.reference, "inspecting");
    }
    if (stats.isSymbolicLink()) throw symlinkRefused(loc.reference, loc.key);
    if (stats.isDirectory()) return "directory";
    if (!stats.isFile()) return undefined;
    const found = matchMeta(loc.key, stats, await sidecarEntries(loc, stats), attempt >= STALE_RETRIES);
    if (found !== "stale") return { ...found, stats };
    await pause(attempt);
  }
}

/**
 * The current object for a mutation. Refuses, before any body is taken, a
 * directory in its place, an object on the way to it, and a path the file
 * system cannot hold (the lstat answers ENAMETOOLONG even when the parent
 * directories do not exist yet).
 */
export async function currentForWrite(ctx: LocalContext, loc: Location): Promise<Found | undefined> {
  await checkParent(ctx.layout, loc, true);
  const found = await statObject(ctx, loc, true);
  if (found === "directory") throw objectIsDirectory(loc.reference);
  return found;
}

/** The object at `loc`, for reads; `parents` shares the parent checks of one listing page. */
export async function headAt(ctx: LocalContext, loc: Location, parents?: Map<string, Promise<boolean>>): Promise<Found | undefined> {
  const parent = path.dirname(loc.file);
  let parentOk = parents?.get(parent);
  if (parentOk === undefined) {
    parentOk = checkParent(ctx.layout, loc, false);
    parents?.set(parent, parentOk);
  }
  if (!(await parentOk)) return undefined;
  const found = await statObject(ctx, loc, false);
  return found === "directory" ? undefined : found;
}

/** Opens the object's file and finds the metadata of exactly that file. */
export async function openObject(ctx: LocalContext, loc: Location): Promise<(Found & { handle: FileHandle }) | undefined> {
  if (!(await checkParent(ctx.layout, loc, false))) return undefined;
  for (let attempt = 0; ; attempt++) {
    let handle: FileHandle;
    try {
      handle = await open(loc.file, OPEN_FLAGS);
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      if (code === "ELOOP") throw symlinkRefused(loc.reference, loc.key);
      throw fromLocalError(err, loc.reference, "opening");
    }
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) {
        await handle.close();
        return undefined;
      }
      const found = matchMeta(loc.key, stats, await sidecarEntries(loc, stats), attempt >= STALE_RETRIES);
      if (found !== "stale") return { ...found, stats, handle };
    } catch (err) {
      await handle.close();
      throw fromLocalError(err, loc.reference, "opening");
    }
    await handle.close();
    await pause(attempt);
  }
}
