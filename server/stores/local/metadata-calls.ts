// The local store's metadata lookups (the parent directory's real path, the
// object's lstat, its sidecar) are synchronous system calls, wrapped so
// callers still await them and get failures as rejections. On this kind of
// machine (2-core VM, ext4, page cache warm) an fs/promises stat costs about
// 40 µs of CPU, nearly all of it the thread pool's round trip, where
// statSync costs 5 µs; a sidecar readFile about 300 µs against 13 µs. A
// Head on file:// makes three of them, so their round trips were most of its
// cost. The event loop waits for each while it runs: microseconds on a local
// disk, but a cold or network file system (NFS) can take milliseconds, which
// every other call then waits for too. Object data is still read and written
// with the asynchronous calls (local/files.ts).
import { lstatSync, readFileSync, realpathSync, type BigIntStats } from "node:fs";

export async function realpathNow(file: string): Promise<string> {
  return realpathSync.native(file);
}

export async function lstatNow(file: string): Promise<BigIntStats> {
  return lstatSync(file, { bigint: true });
}

/** A small file's text (a sidecar). */
export async function readTextNow(file: string): Promise<string> {
  return readFileSync(file, "utf8");
}
