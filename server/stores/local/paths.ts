// Where the local store keeps things, and the rules that keep every path
// inside its root: containers and keys are checked lexically, and the
// directories on the way are checked on disk, so neither `..` nor a symbolic
// link planted inside the root can lead outside it.
import { createHash } from "node:crypto";
import { lstat, mkdir, rmdir } from "node:fs/promises";
import path from "node:path";
import { StowdError } from "../../../common/errors.js";
import { formatReference, type Ref } from "../../references/reference.js";
import { realpathNow } from "./metadata-calls.js";
import { KIND, ancestorIsObject, errnoCode, fromLocalError, objectIsDirectory, symlinkRefused } from "./errors.js";

/** The internal directory in the root: temp files and metadata sidecars. */
export const INTERNAL_DIR = ".stowd";
const MAX_SEGMENT_BYTES = 255;

export interface LocalLayout {
  /** realpath of the configured root. */
  root: string;
  tmpDir: string;
  metaDir: string;
}

export function createLayout(realRoot: string): LocalLayout {
  return { root: realRoot, tmpDir: path.join(realRoot, INTERNAL_DIR, "tmp"), metaDir: path.join(realRoot, INTERNAL_DIR, "meta") };
}

/** One object's place, as the path checks see it. */
export interface PathTarget {
  /** The container directory of the reference as given (the root for container ""). */
  dir: string;
  /** The object's data file. */
  file: string;
  /** The reference as given, for messages. */
  reference: string;
  /** Scheme and authority of that reference, to name a conflicting object in messages. */
  owner: Pick<Ref, "scheme" | "authority">;
}

/** Directories a write created on the way to its file, so a failed write can remove them again. */
export interface CreatedDirs {
  /** The highest directory created (the others are below it). */
  top?: string;
}

/**
 * The object's path under the root with "/" separators: its one identity
 * (RawStore.identity). `file:///b/k` (container "", key "b/k") and
 * `file://b/k` (container "b", key "k") both give "b/k". A listing prefix's
 * identity is a string prefix of the identity of every object under it.
 */
export function localIdentity(ref: Pick<Ref, "container" | "key">): string {
  if (ref.container === "") return ref.key;
  return ref.key === "" ? `${ref.container}/` : `${ref.container}/${ref.key}`;
}

/**
 * The canonical (container, key) of an object, which its sidecar is kept
 * under: a root-container key with a "/" belongs to the container named by
 * its first segment (`file:///b/k` is `file://b/k`), so sidecars of objects
 * written the common way, `file://bucket/key`, stay where they always were.
 */
export function canonicalName(container: string, key: string): { container: string; key: string } {
  const slash = container === "" ? key.indexOf("/") : -1;
  return slash < 0 ? { container, key } : { container: key.slice(0, slash), key: key.slice(slash + 1) };
}

function invalid(reference: string, why: string): StowdError {
  return new StowdError("INVALID_REFERENCE", `${reference} cannot be stored by the local store: ${why}`, {
    reference,
    field: "reference",
    backend: KIND,
  });
}

function checkSegment(segment: string, reference: string, what: string): void {
  if (segment.includes("\0")) throw invalid(reference, `the ${what} contains a NUL character`);
  if (Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES) {
    throw invalid(reference, `a path segment of the ${what} is longer than ${MAX_SEGMENT_BYTES} bytes, the file-name limit`);
  }
}

/** The directory of a container: the root itself for "" (as in `file:///tmp/x`). */
export function containerDir(layout: LocalLayout, container: string, reference: string): string {
  if (container === "") return layout.root;
  if (container === "." || container === ".." || container === INTERNAL_DIR) {
    throw invalid(
      reference,
      `"${container}" is not a usable container name (it would name a directory outside the container or stowd's internal one)`,
    );
  }
  if (container.includes("/")) throw invalid(reference, "the container contains '/'");
  checkSegment(container, reference, "container");
  return path.join(layout.root, container);
}

/** Checks a key against the local store's rules; an empty key only when `allowEmpty`. */
export function checkKey(container: string, key: string, reference: string, allowEmpty: boolean): void {
  if (key === "") {
    if (allowEmpty) return;
    throw invalid(reference, "the key is empty; name an object");
  }
  const segments = key.split("/");
  for (const segment of segments) {
    if (segment === "") {
      throw invalid(
        reference,
        `the key ${JSON.stringify(key)} has an empty path segment (leading '/' or '//'), which a file path cannot represent`,
      );
    }
    if (segment === "." || segment === "..") throw invalid(reference, `"${segment}" path segments are not allowed`);
    checkSegment(segment, reference, "key");
  }
  if (container === "" && segments[0] === INTERNAL_DIR) {
    throw invalid(reference, `keys starting with "${INTERNAL_DIR}/" are reserved for stowd's internal files in the root container`);
  }
}

/** The data file of `key`, after checking the key; always inside the container directory. */
export function objectPath(dir: string, container: string, key: string, reference: string): string {
  checkKey(container, key, reference, false);
  const file = path.join(dir, ...key.split("/"));
  if (!file.startsWith(dir + path.sep)) throw invalid(reference, "the key leads outside the container directory");
  return file;
}

/** The directories between the root and the target's file, top down, as full paths. */
function directoriesAbove(layout: LocalLayout, target: PathTarget): string[] {
  let at = layout.root;
  return path
    .relative(layout.root, path.dirname(target.file))
    .split(path.sep)
    .filter((p) => p !== "")
    .map((part) => (at = path.join(at, part)));
}

/** Names what blocks the directories of the target's file (a link, or an object where a directory should be), for error messages. */
async function blockingAncestor(layout: LocalLayout, target: PathTarget): Promise<StowdError | undefined> {
  for (const at of directoriesAbove(layout, target)) {
    const stats = await lstat(at).catch(() => undefined);
    if (stats === undefined) return undefined;
    if (stats.isSymbolicLink()) return symlinkRefused(target.reference, path.relative(layout.root, at));
    if (!stats.isDirectory()) {
      const inContainer = at.startsWith(target.dir + path.sep);
      // Outside the container directory only the container directory itself can be in the way: an object at the root (`file:///c` against `file://c/k`).
      const owner = inContainer ? target.owner : { scheme: target.owner.scheme, authority: "" };
      const key = path
        .relative(inContainer ? target.dir : layout.root, at)
        .split(path.sep)
        .join("/");
      return ancestorIsObject(target.reference, formatReference(owner, key));
    }
  }
  return undefined;
}

/** The error for a write whose file system call found a file where a directory of its path should be (ENOTDIR). */
export async function blockedPath(layout: LocalLayout, target: PathTarget, err: unknown): Promise<StowdError> {
  return (await blockingAncestor(layout, target)) ?? fromLocalError(err, target.reference, "resolving the directory of");
}

/**
 * Checks that the parent directory of the target's file is exactly where the
 * lexical path says (no symbolic link on the way; `dir` is under the real
 * root). Returns false when it does not exist (yet). For a write, an object
 * where a directory should be is the directory/object conflict error.
 */
export async function checkParent(layout: LocalLayout, target: PathTarget, forWrite: boolean): Promise<boolean> {
  const parent = path.dirname(target.file);
  let real: string;
  try {
    real = await realpathNow(parent);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT") return false;
    if (code === "ENOTDIR" && !forWrite) return false; // an ancestor is an object, so this key is not one
    if (code === "ENOTDIR") throw await blockedPath(layout, target, err);
    if (code === "ELOOP") throw symlinkRefused(target.reference, path.relative(layout.root, parent));
    throw fromLocalError(err, target.reference, "resolving the directory of");
  }
  if (real !== parent) {
    // Both a link pointing outside and one pointing elsewhere inside the root
    // are refused: following either would alias or escape.
    throw (await blockingAncestor(layout, target)) ?? symlinkRefused(target.reference, path.relative(layout.root, parent));
  }
  return true;
}

/**
 * Creates the missing directories between the root and the target's file,
 * refusing links and files on the way. Records the highest directory it
 * created in `created`, also when it fails part way.
 */
export async function ensureParent(layout: LocalLayout, target: PathTarget, created: CreatedDirs): Promise<void> {
  for (const at of directoriesAbove(layout, target)) {
    try {
      await mkdir(at);
      created.top ??= at;
      continue;
    } catch (err) {
      if (errnoCode(err) !== "EEXIST") {
        if (errnoCode(err) === "ENOTDIR") throw await blockedPath(layout, target, err);
        throw fromLocalError(err, target.reference, "creating the directories of");
      }
    }
    const stats = await lstat(at);
    if (stats.isSymbolicLink()) throw symlinkRefused(target.reference, path.relative(layout.root, at));
    if (!stats.isDirectory()) throw (await blockingAncestor(layout, target)) ?? objectIsDirectory(target.reference);
  }
}

/**
 * Removes now-empty directories from `from` up to (not including) `stop`.
 * A level that does not exist (or whose path is too long to exist) is
 * passed over: a write may have failed part way down its directory chain.
 */
export async function pruneEmptyDirs(from: string, stop: string): Promise<void> {
  let at = from;
  while (at.startsWith(stop + path.sep)) {
    try {
      await rmdir(at);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== "ENOENT" && code !== "ENAMETOOLONG") return; // not empty, or in use: stop climbing
    }
    at = path.dirname(at);
  }
}

/** The sidecar file holding the metadata of (container, key). */
export function sidecarPath(layout: LocalLayout, container: string, key: string): string {
  const hash = createHash("sha256").update(container).update("\0").update(key).digest("hex");
  return path.join(layout.metaDir, hash.slice(0, 2), `${hash}.json`);
}
