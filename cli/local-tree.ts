// Every regular file under a local directory, with its path relative to it
// ("/"-separated, as it becomes part of an object key). Symlinks to files
// are followed like cp -r -L would; other special files are skipped, and so
// are the temp files of downloads a killed CLI left (never uploaded, never
// compared by sync).
import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { localError } from "./local-errors.js";
import { isPartialDownload } from "./transfer.js";

export interface LocalFile {
  path: string;
  /** Relative to the directory walked, "/"-separated. */
  relative: string;
  size: number;
}

export async function filesUnder(directory: string): Promise<LocalFile[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch((err: unknown) => {
    throw localError(err, directory, "listing");
  });
  const files: LocalFile[] = [];
  for (const entry of entries) {
    if ((!entry.isFile() && !entry.isSymbolicLink()) || isPartialDownload(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path).catch((err: unknown) => {
      throw localError(err, path, "checking");
    });
    if (!info.isFile()) continue;
    files.push({ path, relative: relative(directory, path).split(sep).join("/"), size: info.size });
  }
  return files.sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
}
