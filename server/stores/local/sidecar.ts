// Metadata sidecars of the local store. A data file cannot carry an etag,
// content type or user metadata, so each object has a JSON sidecar under
// `.stowd/meta/`. A sidecar entry names the exact data file it describes by
// inode, modification time (ns) and size, so a reader that opened a file
// only trusts metadata written for that file. A sidecar keeps the entry of
// the previous version too, so a reader that opened the old file just
// before an overwrite still finds its metadata. A sidecar is named after the
// object's canonical (container, key) (paths.ts canonicalName), so every
// spelling of the object's reference finds the same one.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { DEFAULT_CONTENT_TYPE } from "../kit/content-type.js";
import type { ObjectMeta } from "../raw-store.js";
import { readTextNow } from "./metadata-calls.js";
import type { LocalLayout } from "./paths.js";
import { errnoCode, fromLocalError } from "./errors.js";

/** Which data file an entry belongs to. */
export interface FileIdentity {
  ino: string;
  mtimeNs: string;
  size: number;
}

export interface SidecarEntry extends FileIdentity {
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  /** Base64. */
  contentMd5?: string;
  /** CRC32C of the file's content, as a number. */
  crc32c?: number;
  /** ISO time of the commit. */
  updated: string;
}

interface SidecarFile {
  version: 1;
  container: string;
  key: string;
  /** Newest first: the current version, then the one it replaced. */
  entries: SidecarEntry[];
}

export function identityOf(stats: BigIntStats): FileIdentity {
  return { ino: stats.ino.toString(), mtimeNs: stats.mtimeNs.toString(), size: Number(stats.size) };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.size === b.size;
}

/** A fresh random etag: unlike one derived from file stats, it can never come back (no ABA). */
export function newEtag(): string {
  return randomBytes(12).toString("hex");
}

/** The entries of a sidecar, or undefined when there is none (or it is unreadable or for another key). */
export async function readSidecar(file: string, container: string, key: string): Promise<SidecarEntry[] | undefined> {
  let text: string;
  try {
    text = await readTextNow(file);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw fromLocalError(err, key, "reading the metadata of");
  }
  try {
    const parsed = JSON.parse(text) as Partial<SidecarFile>;
    if (parsed.version !== 1 || parsed.container !== container || parsed.key !== key || !Array.isArray(parsed.entries)) return undefined;
    return parsed.entries;
  } catch {
    return undefined; // a torn or foreign file: treat the object as having no sidecar
  }
}

/** Writes a sidecar atomically: temp file, fsync, rename. */
export async function writeSidecar(
  layout: LocalLayout,
  file: string,
  container: string,
  key: string,
  entries: SidecarEntry[],
  reference: string,
): Promise<void> {
  const body: SidecarFile = { version: 1, container, key, entries };
  const temp = path.join(layout.tmpDir, `${randomUUID()}.meta`);
  try {
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(JSON.stringify(body));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await mkdir(path.dirname(file), { recursive: true });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw fromLocalError(err, reference, "writing the metadata of");
  }
}

export function entryToMeta(key: string, entry: SidecarEntry): ObjectMeta {
  const meta: ObjectMeta = {
    key,
    size: entry.size,
    etag: entry.etag,
    contentType: entry.contentType,
    metadata: { ...entry.metadata },
    updated: new Date(entry.updated),
    generation: "",
  };
  if (entry.contentMd5 !== undefined) meta.contentMd5 = Uint8Array.from(Buffer.from(entry.contentMd5, "base64"));
  if (typeof entry.crc32c === "number") meta.crc32c = entry.crc32c;
  return meta;
}

/** Metadata for a file stowd did not write (placed by hand, or its sidecar was lost). */
export function syntheticMeta(key: string, stats: BigIntStats): ObjectMeta {
  const etag = createHash("sha256").update(`${stats.dev}:${stats.ino}:${stats.mtimeNs}:${stats.size}`).digest("hex").slice(0, 32);
  return {
    key,
    size: Number(stats.size),
    etag,
    contentType: DEFAULT_CONTENT_TYPE,
    metadata: {},
    updated: new Date(Number(stats.mtimeMs)),
    generation: "",
  };
}

export interface MetaMatch {
  meta: ObjectMeta;
  /** The sidecar entry, when stowd wrote this file. */
  entry?: SidecarEntry;
}

/**
 * The metadata of the file `stats` describes. "stale" when a sidecar exists
 * but has no entry for this file (a writer is between its two renames, or the
 * file was replaced twice since it was opened): reopen and try again, or pass
 * `settle` to fall back to synthetic metadata.
 */
export function matchMeta(key: string, stats: BigIntStats, entries: SidecarEntry[] | undefined, settle: boolean): MetaMatch | "stale" {
  if (entries === undefined) return { meta: syntheticMeta(key, stats) };
  const identity = identityOf(stats);
  const entry = entries.find((e) => sameIdentity(e, identity));
  if (entry !== undefined) return { meta: entryToMeta(key, entry), entry };
  return settle ? { meta: syntheticMeta(key, stats) } : "stale";
}
