// The local store (`file://`), stowd's embedded default: objects are files at
// `<root>/<container>/<key>`, metadata lives in sidecars under
// `<root>/.stowd/meta`, and every write goes to a temp file in
// `<root>/.stowd/tmp` (same file system), is fsynced, and is renamed into
// place under a per-key lock after the preconditions pass. Readers stream
// from the file they opened, so an overwrite never mixes versions, and no
// path ever leaves the root (see local-paths.ts). An object has one identity,
// its path under the root: `file:///b/k` and `file://b/k` share one lock and
// one sidecar. List resumes by binary search into cached sorted directory
// listings (local-listing.ts).
import { randomUUID } from "node:crypto";
import { constants, type BigIntStats } from "node:fs";
import { copyFile, lstat, mkdir, open, readdir, realpath, rename, rm, stat, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { StowdError, unsupported } from "../../common/errors.js";
import { formatReference, type Ref } from "../references/reference.js";
import { abortable, throwIfAborted } from "./kit/abort.js";
import { resolveRange } from "./kit/byte-range.js";
import { contentTypeOrDefault } from "./kit/content-type.js";
import { errnoCode, fromFsError, storeError } from "../../common/fs-errors.js";
import { createKeyedLock } from "./kit/keyed-lock.js";
import { compareKeys, decodePageToken, pageKeys, type ResumePoint } from "./kit/list-pages.js";
import { createDirectoryListings, endOfPrefix, searchNames } from "./local-listing.js";
import {
  INTERNAL_DIR,
  blockedPath,
  canonicalName,
  checkParent,
  containerDir,
  createLayout,
  ensureParent,
  localIdentity,
  objectIsDirectory,
  objectPath,
  pruneEmptyDirs,
  sidecarPath,
  symlinkRefused,
  type CreatedDirs,
  type LocalLayout,
  type PathTarget,
} from "./local-paths.js";
import { entryToMeta, identityOf, matchMeta, newEtag, readSidecar, sameIdentity, writeSidecar, type MetaMatch, type SidecarEntry } from "./local-sidecar.js";
import { checkEtag, checkPreconditions } from "./kit/preconditions.js";
import type { Capabilities, ObjectMeta, RawStore, ReadResult } from "./raw-store.js";

export interface LocalStoreOptions {
  /** Directory holding the containers; created when missing. */
  root: string;
  /**
   * Bound, in estimated bytes, of the cache of sorted directory listings that
   * List pages resume from (default 64 MiB: a directory of about a million
   * short names). A larger directory is read and sorted again for every page.
   */
  listingCacheBytes?: number;
}

export { localIdentity };

const KIND = "local";
const READ_CHUNK_BYTES = 1 << 20;
/** Small body chunks are gathered into writes of about this size. */
const WRITE_BATCH_BYTES = 256 << 10;
/** How often a reader retries when it sees a writer between its two renames. */
const STALE_RETRIES = 6;
const STALE_TEMP_MS = 24 * 3600 * 1000;
const META_CONCURRENCY = 16;
const LISTING_CACHE_BYTES = 64 << 20;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export const localStoreCapabilities: Capabilities = {
  rangedReads: true,
  append: true,
  conditionalWrites: true,
  signedUrls: false,
  delimiterListing: true,
  serverSideCopy: true,
};

/** One object's places on disk. */
interface Location extends PathTarget {
  /** The key as the caller named it (ObjectMeta.key). */
  key: string;
  /** The canonical name (local-paths.ts canonicalName): the sidecar is kept, and checked, under it. */
  canonical: { container: string; key: string };
  sidecar: string;
  /** Where the sidecar was before names were canonical (container "", key = identity), when that differs. */
  legacySidecar?: string;
  /** The object's identity: one lock for every spelling of its reference. */
  lockKey: string;
}

interface Found extends MetaMatch {
  stats: BigIntStats;
}

/** A finished temp file and what to record with it. */
interface Prepared {
  tempPath: string;
  stats: BigIntStats;
  contentType: string;
  metadata: Record<string, string>;
  contentMd5?: Uint8Array;
}

async function pause(attempt: number): Promise<void> {
  await new Promise((resolve) => (attempt < 2 ? setImmediate(resolve) : setTimeout(resolve, 2 ** (attempt - 2))));
}

async function writeAll(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Writes `body` at `position`, batching small chunks; returns the bytes written. */
async function writeBody(handle: FileHandle, body: AsyncIterable<Uint8Array>, position: number, signal: AbortSignal, reference: string): Promise<number> {
  let at = position;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const data = pending.length === 1 && pending[0] !== undefined ? pending[0] : Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    await writeAll(handle, data, at);
    at += data.length;
  };
  for await (const chunk of abortable(body, signal, reference)) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
  }
  await flush();
  return at - position;
}

/** Reads `length` bytes from `position` of an open file, in chunks of at most 1 MiB. */
async function* readChunks(handle: FileHandle, position: number, length: number, signal: AbortSignal, reference: string): AsyncGenerator<Buffer> {
  let at = position;
  const end = position + length;
  while (at < end) {
    throwIfAborted(signal, reference);
    const size = Math.min(READ_CHUNK_BYTES, end - at);
    const buffer = Buffer.allocUnsafe(size);
    for (let filled = 0; filled < size; ) {
      const { bytesRead } = await handle.read(buffer, filled, size - filled, at + filled);
      if (bytesRead === 0) {
        throw new StowdError("INTERNAL", `the file of ${reference} became shorter while it was read (changed outside stowd)`, { reference, backend: KIND });
      }
      filled += bytesRead;
    }
    at += size;
    yield buffer;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems cannot fsync directories; the rename itself has happened.
  }
}

/** fsyncs a finished temp file and returns its stats (the identity its sidecar entry records). */
async function syncAndStat(file: string): Promise<BigIntStats> {
  const handle = await open(file, "r+");
  try {
    await handle.sync();
    return await handle.stat({ bigint: true });
  } finally {
    await handle.close();
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** True when every key under directory key `dirKey` was already served before `resume`. */
function subtreeServed(dirKey: string, resume: ResumePoint | undefined): boolean {
  if (resume === undefined) return false;
  if (resume.isCommonPrefix && dirKey.startsWith(resume.entry)) return true;
  return compareKeys(dirKey, resume.entry) < 0 && !resume.entry.startsWith(dirKey);
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

export async function createLocalStore(options: LocalStoreOptions): Promise<RawStore> {
  const configured = path.resolve(options.root);
  await mkdir(configured, { recursive: true });
  const layout: LocalLayout = createLayout(await realpath(configured));
  const internal = path.join(layout.root, INTERNAL_DIR);
  await mkdir(internal, { recursive: true });
  if (!(await lstat(internal)).isDirectory()) {
    throw new StowdError("INTERNAL", `${internal} must be a directory (it holds the local store's temp files and metadata)`, { backend: KIND });
  }
  await mkdir(layout.tmpDir, { recursive: true });
  await mkdir(layout.metaDir, { recursive: true });
  await removeStaleTemps(layout.tmpDir);
  const lock = createKeyedLock();
  const listings = createDirectoryListings({ maxBytes: options.listingCacheBytes ?? LISTING_CACHE_BYTES, hidden: { dir: layout.root, name: INTERNAL_DIR } });

  /** The places of `key` in the container of `owner`, whose directory is `dir` and data file `file`. */
  function place(owner: Ref, key: string, dir: string, file: string): Location {
    const canonical = canonicalName(owner.container, key);
    const identity = localIdentity({ container: owner.container, key });
    const loc: Location = {
      key,
      reference: formatReference(owner, key),
      owner,
      dir,
      file,
      canonical,
      sidecar: sidecarPath(layout, canonical.container, canonical.key),
      lockKey: identity,
    };
    if (canonical.container !== "") loc.legacySidecar = sidecarPath(layout, "", identity);
    return loc;
  }

  function locate(ref: Ref): Location {
    const reference = formatReference(ref, ref.key);
    const dir = containerDir(layout, ref.container, reference);
    return place(ref, ref.key, dir, objectPath(dir, ref.container, ref.key, reference));
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

  function newTempPath(): string {
    return path.join(layout.tmpDir, `${randomUUID()}.tmp`);
  }

  /**
   * The object at `loc` by lstat (no file opened); "directory" when a
   * directory is there. For a write, an object on the way to it is the
   * conflict error (for a read, it just means this key is not an object).
   */
  async function statObject(loc: Location, forWrite: boolean): Promise<Found | "directory" | undefined> {
    for (let attempt = 0; ; attempt++) {
      let stats: BigIntStats;
      try {
        stats = await lstat(loc.file, { bigint: true });
      } catch (err) {
        const code = errnoCode(err);
        if (code === "ENOTDIR" && forWrite) throw await blockedPath(layout, loc, err);
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        throw fromFsError(err, loc.reference, "inspecting");
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
  async function currentForWrite(loc: Location): Promise<Found | undefined> {
    await checkParent(layout, loc, true);
    const found = await statObject(loc, true);
    if (found === "directory") throw objectIsDirectory(loc.reference);
    return found;
  }

  /** The object at `loc`, for reads; `parents` shares the parent checks of one listing page. */
  async function headAt(loc: Location, parents?: Map<string, Promise<boolean>>): Promise<Found | undefined> {
    const parent = path.dirname(loc.file);
    let parentOk = parents?.get(parent);
    if (parentOk === undefined) {
      parentOk = checkParent(layout, loc, false);
      parents?.set(parent, parentOk);
    }
    if (!(await parentOk)) return undefined;
    const found = await statObject(loc, false);
    return found === "directory" ? undefined : found;
  }

  /** Opens the object's file and finds the metadata of exactly that file. */
  async function openObject(loc: Location): Promise<(Found & { handle: FileHandle }) | undefined> {
    if (!(await checkParent(layout, loc, false))) return undefined;
    for (let attempt = 0; ; attempt++) {
      let handle: FileHandle;
      try {
        handle = await open(loc.file, OPEN_FLAGS);
      } catch (err) {
        const code = errnoCode(err);
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        if (code === "ELOOP") throw symlinkRefused(loc.reference, loc.key);
        throw fromFsError(err, loc.reference, "opening");
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
        throw fromFsError(err, loc.reference, "opening");
      }
      await handle.close();
      await pause(attempt);
    }
  }

  function notFound(loc: Location): StowdError {
    return new StowdError("NOT_FOUND", `${loc.reference} does not exist`, { reference: loc.reference, backend: KIND });
  }

  async function renameIntoPlace(loc: Location, tempPath: string, created: CreatedDirs): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(tempPath, loc.file);
        return;
      } catch (err) {
        const code = errnoCode(err);
        if (code === "ENOENT" && attempt < 3) {
          // A concurrent delete pruned the (empty) directory we created: recreate it.
          await ensureParent(layout, loc, created);
          continue;
        }
        if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") throw objectIsDirectory(loc.reference);
        if (code === "ENOTDIR") throw await blockedPath(layout, loc, err);
        throw fromFsError(err, loc.reference, "storing");
      }
    }
  }

  /**
   * Under the key's lock: reads the current object, lets `prepare` check it
   * and hand over a finished temp file, then records the sidecar and renames
   * the file into place. Nothing is visible unless everything succeeded.
   */
  async function commit(loc: Location, signal: AbortSignal, prepare: (current: Found | undefined) => Promise<Prepared>): Promise<ObjectMeta> {
    return lock(loc.lockKey, async () => {
      const current = await currentForWrite(loc);
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
      // Keep the replaced version's entry for readers that still have it open.
      const entries = current?.entry === undefined ? [entry] : [entry, current.entry];
      const created: CreatedDirs = {};
      try {
        if (!(await checkParent(layout, loc, true))) await ensureParent(layout, loc, created);
        await writeSidecar(layout, loc.sidecar, loc.canonical.container, loc.canonical.key, entries, loc.reference);
        await renameIntoPlace(loc, prepared.tempPath, created);
      } catch (err) {
        // Leave nothing behind: a sidecar for a file that never arrived, directories made for it.
        if (current === undefined) await rm(loc.sidecar, { force: true }).catch(() => undefined);
        if (created.top !== undefined) await pruneEmptyDirs(path.dirname(loc.file), path.dirname(created.top));
        throw fromFsError(err, loc.reference, "storing");
      }
      // The metadata now lives under the canonical name only.
      if (loc.legacySidecar !== undefined) await rm(loc.legacySidecar, { force: true }).catch(() => undefined);
      await syncDir(path.dirname(loc.file));
      return entryToMeta(loc.key, entry);
    });
  }

  /** Copies the open file into a new temp file (when a path copy cannot be trusted). */
  async function copyFromHandle(source: FileHandle, size: number, tempPath: string, signal: AbortSignal, reference: string): Promise<void> {
    const target = await open(tempPath, "w");
    try {
      await writeBody(target, readChunks(source, 0, size, signal, reference), 0, signal, reference);
    } finally {
      await target.close();
    }
  }

  /** A temp file holding a copy of `found`, made by reflink/copy of the path, verified to be that very file. */
  async function copyObjectToTemp(loc: Location, found: Found, tempPath: string, signal: AbortSignal, handle?: FileHandle): Promise<boolean> {
    try {
      await copyFile(loc.file, tempPath, constants.COPYFILE_FICLONE);
    } catch (err) {
      if (errnoCode(err) !== "ENOENT") throw fromFsError(err, loc.reference, "copying");
    }
    // Committed files are never modified in place, so the same identity means the same bytes.
    const now = await lstat(loc.file, { bigint: true }).catch(() => undefined);
    if (now !== undefined && now.isFile() && sameIdentity(identityOf(now), identityOf(found.stats))) return true;
    if (handle === undefined) return false;
    await copyFromHandle(handle, Number(found.stats.size), tempPath, signal, loc.reference);
    return true;
  }

  async function deleteAt(loc: Location, ifMatchEtag: string | undefined): Promise<boolean> {
    return lock(loc.lockKey, async () => {
      const found = await headAt(loc);
      if (found === undefined) return false;
      checkEtag(found.meta, ifMatchEtag, loc.reference, "nothing was deleted");
      try {
        await unlink(loc.file);
      } catch (err) {
        if (errnoCode(err) === "ENOENT") return false;
        throw fromFsError(err, loc.reference, "deleting");
      }
      await rm(loc.sidecar, { force: true });
      if (loc.legacySidecar !== undefined) await rm(loc.legacySidecar, { force: true });
      await pruneEmptyDirs(path.dirname(loc.file), loc.dir);
      return true;
    });
  }

  /**
   * Yields the keys under `prefix` in listing order (compareKeys) by a
   * depth-first walk over each directory's sorted entries (a directory "d"
   * sorts as "d/"). In each directory it starts by binary search at the
   * first entry that can hold an unserved key under the prefix, jumps over
   * the entries under a rolled-up common prefix (`skip.under`, set by the
   * page builder), and stops after the last entry under the prefix.
   */
  async function* walkKeys(dir: string, prefix: string, resume: ResumePoint | undefined, skip: { under?: string }, reference: string): AsyncGenerator<string> {
    async function* visit(absolute: string, relative: string): AsyncGenerator<string> {
      const names = await listings.names(absolute, reference);
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

  /** The container directory for a listing, or undefined when it does not exist. */
  async function listableDir(prefix: Ref, reference: string): Promise<string | undefined> {
    const dir = containerDir(layout, prefix.container, reference);
    const stats = await lstat(dir).catch((err: unknown) => {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw fromFsError(err, reference, "listing");
    });
    if (stats === undefined) return undefined;
    if (stats.isSymbolicLink()) throw symlinkRefused(reference, prefix.container);
    return stats.isDirectory() ? dir : undefined;
  }

  function locationOfListed(prefix: Ref, dir: string, key: string): Location {
    return place(prefix, key, dir, path.join(dir, ...key.split("/")));
  }

  return {
    kind: KIND,
    capabilities: localStoreCapabilities,
    identity: localIdentity,

    async head(ref) {
      return (await headAt(locate(ref)))?.meta;
    },

    async read(ref, options, signal): Promise<ReadResult> {
      const loc = locate(ref);
      throwIfAborted(signal, loc.reference);
      const opened = await openObject(loc);
      if (opened === undefined) throw notFound(loc);
      const { handle, meta } = opened;
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await handle.close();
      };
      try {
        checkEtag(meta, options.ifMatchEtag, loc.reference, "nothing was read");
        const { offset, length } = resolveRange(options.range, meta.size, loc.reference);
        async function* body(): AsyncGenerator<Uint8Array> {
          try {
            yield* readChunks(handle, offset, length, signal, loc.reference);
          } finally {
            await close();
          }
        }
        return { meta, offset, length, body: body(), close };
      } catch (err) {
        await close();
        throw err;
      }
    },

    async write(ref, body, options, signal) {
      const loc = locate(ref);
      // Fail fast (conflicts, links, preconditions) before taking the body; checked again at commit.
      checkPreconditions((await currentForWrite(loc))?.meta, options.preconditions, loc.reference);
      const tempPath = newTempPath();
      try {
        const handle = await open(tempPath, "wx");
        let stats: BigIntStats;
        try {
          await writeBody(handle, body, 0, signal, loc.reference);
          await handle.sync();
          stats = await handle.stat({ bigint: true });
        } finally {
          await handle.close();
        }
        throwIfAborted(signal, loc.reference);
        return await commit(loc, signal, async (current) => {
          checkPreconditions(current?.meta, options.preconditions, loc.reference);
          return {
            tempPath,
            stats,
            contentType: contentTypeOrDefault(options.contentType),
            metadata: options.metadata,
            ...(options.contentMd5 === undefined ? {} : { contentMd5: options.contentMd5 }),
          };
        });
      } catch (err) {
        throw storeError(err, loc.reference, "writing");
      } finally {
        await rm(tempPath, { force: true });
      }
    },

    async append(ref, body, options, signal) {
      const loc = locate(ref);
      const check = (found: Found | undefined): void => {
        if (found === undefined) {
          if (!options.createIfMissing) {
            throw new StowdError("NOT_FOUND", `${loc.reference} does not exist; set create_if_missing to create it by appending`, { reference: loc.reference, backend: KIND });
          }
          if (options.ifMatchEtag !== undefined) checkPreconditions(undefined, { ifMatchEtag: options.ifMatchEtag }, loc.reference);
        } else {
          checkEtag(found.meta, options.ifMatchEtag, loc.reference, "nothing was appended");
        }
        const size = found?.meta.size ?? 0;
        if (options.expectedOffset !== undefined && options.expectedOffset !== size) {
          throw new StowdError("PRECONDITION_FAILED", `${loc.reference} has ${size} bytes, not the expected offset ${options.expectedOffset}; nothing was appended`, {
            reference: loc.reference,
            size,
            field: "header.expected_offset",
          });
        }
      };
      // Copy-on-write, optimistically: copy the current version and append to
      // the copy outside the lock; at commit, if the object changed
      // meanwhile, rebuild from the new version and the appended bytes.
      const snapshot = await currentForWrite(loc);
      check(snapshot);
      const tempPath = newTempPath();
      let rebuiltPath: string | undefined;
      try {
        const baseKnown = snapshot === undefined || (await copyObjectToTemp(loc, snapshot, tempPath, signal));
        const handle = await open(tempPath, baseKnown && snapshot !== undefined ? "r+" : "w");
        const base = baseKnown ? (snapshot?.meta.size ?? 0) : 0;
        let stats: BigIntStats;
        try {
          await writeBody(handle, body, base, signal, loc.reference);
          await handle.sync();
          stats = await handle.stat({ bigint: true });
        } finally {
          await handle.close();
        }
        throwIfAborted(signal, loc.reference);
        return await commit(loc, signal, async (current) => {
          check(current);
          const attributes = {
            contentType: current?.meta.contentType ?? contentTypeOrDefault(options.contentType),
            metadata: current?.meta.metadata ?? {},
          };
          const unchanged = baseKnown && current?.meta.etag === snapshot?.meta.etag;
          if (unchanged) return { tempPath, stats, ...attributes };
          // Rebuild under the lock: the current version, then the appended bytes.
          const rebuilt = newTempPath();
          rebuiltPath = rebuilt;
          const appended = await open(tempPath, "r");
          try {
            if (current !== undefined && !(await copyObjectToTemp(loc, current, rebuilt, signal))) {
              throw new StowdError("INTERNAL", `${loc.reference} changed outside stowd during an append; nothing was appended`, { reference: loc.reference, backend: KIND });
            }
            const target = await open(rebuilt, current === undefined ? "w" : "r+");
            try {
              await writeBody(target, readChunks(appended, base, Number(stats.size) - base, signal, loc.reference), current?.meta.size ?? 0, signal, loc.reference);
            } finally {
              await target.close();
            }
          } finally {
            await appended.close();
          }
          return { tempPath: rebuilt, stats: await syncAndStat(rebuilt), ...attributes };
        });
      } catch (err) {
        throw storeError(err, loc.reference, "appending to");
      } finally {
        await rm(tempPath, { force: true });
        if (rebuiltPath !== undefined) await rm(rebuiltPath, { force: true });
      }
    },

    async list(prefix, options) {
      const reference = formatReference(prefix, prefix.key);
      const resume = decodePageToken(options.pageToken, prefix.key, options.delimiter, reference);
      const dir = await listableDir(prefix, reference);
      const skip: { under?: string } = resume?.isCommonPrefix ? { under: resume.entry } : {};
      const keys = dir === undefined ? [] : walkKeys(dir, prefix.key, resume, skip, reference);
      const page = await pageKeys(keys, prefix.key, options, reference, (commonPrefix) => (skip.under = commonPrefix));
      const parents = new Map<string, Promise<boolean>>();
      const metas = dir === undefined ? [] : await mapLimit(page.keys, META_CONCURRENCY, async (key) => (await headAt(locationOfListed(prefix, dir, key), parents))?.meta);
      return {
        // An object deleted since the walk is left out.
        objects: metas.filter((meta): meta is ObjectMeta => meta !== undefined),
        commonPrefixes: page.commonPrefixes,
        nextPageToken: page.nextPageToken,
      };
    },

    async delete(ref, options) {
      return deleteAt(locate(ref), options.ifMatchEtag);
    },

    async deletePrefix(prefix, signal) {
      const reference = formatReference(prefix, prefix.key);
      const dir = await listableDir(prefix, reference);
      if (dir === undefined) return 0;
      const keys: string[] = [];
      for await (const key of walkKeys(dir, prefix.key, undefined, {}, reference)) keys.push(key);
      let count = 0;
      await mapLimit(keys, 8, async (key) => {
        throwIfAborted(signal, reference);
        if (await deleteAt(locationOfListed(prefix, dir, key), undefined)) count++;
      });
      return count;
    },

    async copy(source, destination, options, signal) {
      const from = locate(source);
      const to = locate(destination);
      throwIfAborted(signal, to.reference);
      const opened = await openObject(from);
      if (opened === undefined) throw notFound(from);
      const tempPath = newTempPath();
      try {
        checkEtag(opened.meta, options.ifSourceMatchEtag, from.reference, "nothing was copied");
        checkPreconditions((await currentForWrite(to))?.meta, options.preconditions, to.reference);
        // A reflink where the file system has them; the open file when the path changed meanwhile.
        await copyObjectToTemp(from, opened, tempPath, signal, opened.handle);
        const stats = await syncAndStat(tempPath);
        throwIfAborted(signal, to.reference);
        const { contentType, metadata, contentMd5 } = opened.meta;
        return await commit(to, signal, async (current) => {
          checkPreconditions(current?.meta, options.preconditions, to.reference);
          return { tempPath, stats, contentType, metadata, ...(contentMd5 === undefined ? {} : { contentMd5 }) };
        });
      } catch (err) {
        throw storeError(err, to.reference, "copying to");
      } finally {
        await opened.handle.close();
        await rm(tempPath, { force: true });
      }
    },

    async signUrl() {
      throw unsupported(KIND, "signed URLs");
    },

    async close() {
      // No handles outlive a call: reads own their file handle until closed.
    },
  };
}
