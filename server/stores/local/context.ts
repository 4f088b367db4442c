// What the local store's topic files share: where things are on disk, the
// per-object lock, and the cached directory listings; and where one object
// lives (its Location), worked out once per call from its reference.
import { randomUUID } from "node:crypto";
import { lstat, mkdir, readdir, realpath, rm, stat } from "node:fs/promises";
import path from "node:path";
import { StowdError } from "../../../common/errors.js";
import { formatReference, type Ref } from "../../references/reference.js";
import { createKeyedLock, type KeyedLock } from "../kit/keyed-lock.js";
import type { LocalStoreOptions } from "./config.js";
import { KIND } from "./errors.js";
import { createDirectoryListings, type DirectoryListings } from "./listing.js";
import {
  INTERNAL_DIR,
  canonicalName,
  containerDir,
  createLayout,
  localIdentity,
  objectPath,
  sidecarPath,
  type LocalLayout,
  type PathTarget,
} from "./paths.js";

/** Default bound of the listing cache: a directory of about a million short names. */
const LISTING_CACHE_BYTES = 64 << 20;
/** Temp files older than this are a crashed process's leftovers. */
const STALE_TEMP_MS = 24 * 3600 * 1000;

export interface LocalContext {
  readonly layout: LocalLayout;
  /** One lock per object identity: every spelling of a reference takes the same one. */
  readonly lock: KeyedLock;
  readonly listings: DirectoryListings;
}

/** One object's places on disk. */
export interface Location extends PathTarget {
  /** The key as the caller named it (ObjectMeta.key). */
  key: string;
  /** The canonical name (paths.ts canonicalName): the sidecar is kept, and checked, under it. */
  canonical: { container: string; key: string };
  sidecar: string;
  /** Where the sidecar was before names were canonical (container "", key = identity), when that differs. */
  legacySidecar?: string;
  /** The object's identity: one lock for every spelling of its reference. */
  lockKey: string;
}

/** Creates the root and stowd's internal directories, removes stale temp files, and builds the context. */
export async function openLocalContext(options: LocalStoreOptions): Promise<LocalContext> {
  const configured = path.resolve(options.root);
  await mkdir(configured, { recursive: true });
  const layout = createLayout(await realpath(configured));
  const internal = path.join(layout.root, INTERNAL_DIR);
  await mkdir(internal, { recursive: true });
  if (!(await lstat(internal)).isDirectory()) {
    throw new StowdError("INTERNAL", `${internal} must be a directory (it holds the local store's temp files and metadata)`, {
      backend: KIND,
    });
  }
  await mkdir(layout.tmpDir, { recursive: true });
  await mkdir(layout.metaDir, { recursive: true });
  await removeStaleTemps(layout.tmpDir);
  return {
    layout,
    lock: createKeyedLock(),
    listings: createDirectoryListings({
      maxBytes: options.listingCacheBytes ?? LISTING_CACHE_BYTES,
      hidden: { dir: layout.root, name: INTERNAL_DIR },
    }),
  };
}

/** Removes temp files a crashed process left behind (only old ones: another process may share the root). */
async function removeStaleTemps(tmpDir: string): Promise<void> {
  const names = await readdir(tmpDir);
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const name of names) {
    const file = path.join(tmpDir, name);
    const stats = await stat(file).catch(() => undefined);
    if (stats !== undefined && stats.mtimeMs < cutoff) await rm(file, { force: true, recursive: true });
  }
}

/** The places of the object `ref` names, after checking its container and key. */
export function locate(ctx: LocalContext, ref: Ref): Location {
  const reference = formatReference(ref, ref.key);
  const dir = containerDir(ctx.layout, ref.container, reference);
  return place(ctx, ref, ref.key, dir, objectPath(dir, ref.container, ref.key, reference));
}

/** The places of `key`, found by a listing of `prefix` in the container directory `dir`. */
export function locationOfListed(ctx: LocalContext, prefix: Ref, dir: string, key: string): Location {
  return place(ctx, prefix, key, dir, path.join(dir, ...key.split("/")));
}

/** The places of `key` in the container of `owner`, whose directory is `dir` and data file `file`. */
function place(ctx: LocalContext, owner: Ref, key: string, dir: string, file: string): Location {
  const canonical = canonicalName(owner.container, key);
  const identity = localIdentity({ container: owner.container, key });
  const loc: Location = {
    key,
    reference: formatReference(owner, key),
    owner,
    dir,
    file,
    canonical,
    sidecar: sidecarPath(ctx.layout, canonical.container, canonical.key),
    lockKey: identity,
  };
  if (canonical.container !== "") loc.legacySidecar = sidecarPath(ctx.layout, "", identity);
  return loc;
}

/** A fresh temp file path on the root's file system. */
export function newTempPath(ctx: LocalContext): string {
  return path.join(ctx.layout.tmpDir, `${randomUUID()}.tmp`);
}
