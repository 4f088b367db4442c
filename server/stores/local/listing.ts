// Sorted directory listings for the local store's List. A page resumes from
// its token by binary search into the sorted entries of each directory on
// the way, so its cost does not grow with the pages already served. The
// sorted entries of a directory are kept in a small cache, bounded in bytes,
// and trusted only while the directory's identity and change times are the
// ones they were read under: any entry created, removed or renamed changes
// the directory's ctime. A directory changed too recently to tell a later
// change in the same clock tick apart is read again on every page instead.
// Reading and sorting a large directory yields to the event loop between
// batches, so other calls keep being served meanwhile.
import type { BigIntStats, Dir } from "node:fs";
import { lstat, opendir } from "node:fs/promises";
import path from "node:path";
import { LRUCache } from "lru-cache";
import { compareKeys } from "../kit/list-pages.js";
import { errnoCode, fromLocalError } from "./errors.js";

export interface DirectoryListingsOptions {
  /** Bound of the cache, in (estimated) bytes of sorted names; a directory larger than this is read again for every page. */
  maxBytes: number;
  /** A directory whose entry named `name` is never listed (stowd's internal directory in the root). */
  hidden?: { dir: string; name: string };
  /** A directory changed less than this long before it was read is not cached (default 1000 ms). */
  settleMs?: number;
}

export interface DirectoryListings {
  /**
   * The entry names of directory `absolute` in listing order (compareKeys),
   * a subdirectory's name followed by "/"; files and directories only
   * (symbolic links and special files are not objects). Undefined when
   * `absolute` is not a directory (missing, a file, a link). The array is
   * shared: never modify it.
   */
  names(absolute: string, reference: string): Promise<readonly string[] | undefined>;
}

/** Entries read between two turns of the event loop (opendir's buffer). */
const READ_BATCH = 1024;
/** Names sorted natively in one go before merging (about 10 ms for random names). */
const SORT_RUN = 16384;
/** Merge steps between two turns of the event loop. */
const MERGE_STEPS = 65536;
/** Estimated heap bytes of one cached name beyond its characters (string header, array slot). */
const NAME_OVERHEAD_BYTES = 40;
const DEFAULT_SETTLE_MS = 1000;

interface Listing {
  /** Device, inode, modification and change time of the directory the names were read from. */
  stamp: string;
  names: readonly string[];
  bytes: number;
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function stampOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/** True when a name has a UTF-16 surrogate, the only case where JS string order differs from byte-wise UTF-8 order. */
function hasSurrogate(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

/**
 * Sorts `names` in listing order (compareKeys) without holding the event
 * loop for long: runs of `runLength` names are sorted one at a time, then
 * merged pairwise, yielding every `MERGE_STEPS` steps. Removes duplicates.
 */
export async function sortNames(names: readonly string[], runLength = SORT_RUN): Promise<string[]> {
  const exact = names.some(hasSurrogate);
  const less = exact ? (a: string, b: string) => compareKeys(a, b) < 0 : (a: string, b: string) => a < b;
  let runs: string[][] = [];
  for (let i = 0; i < names.length; i += runLength) {
    const run = names.slice(i, i + runLength);
    // Without surrogates, JS string order is byte-wise UTF-8 order, and the native comparison is fastest.
    if (exact) run.sort(compareKeys);
    else run.sort();
    runs.push(run);
    if (i + runLength < names.length) await turn();
  }
  let steps = 0;
  while (runs.length > 1) {
    const merged: string[][] = [];
    for (let r = 0; r < runs.length; r += 2) {
      const a = runs[r] as string[];
      const b = runs[r + 1];
      if (b === undefined) {
        merged.push(a);
        continue;
      }
      const out = new Array<string>(a.length + b.length);
      let i = 0;
      let j = 0;
      let k = 0;
      while (i < a.length && j < b.length) {
        const x = a[i] as string;
        const y = b[j] as string;
        if (less(y, x)) {
          out[k++] = y;
          j++;
        } else {
          out[k++] = x;
          i++;
        }
        if (++steps % MERGE_STEPS === 0) await turn();
      }
      while (i < a.length) out[k++] = a[i++] as string;
      while (j < b.length) out[k++] = b[j++] as string;
      merged.push(out);
    }
    runs = merged;
  }
  const sorted = runs[0] ?? [];
  // Two names that decode to one string (the lossy decoding of invalid UTF-8) must not list one key twice.
  let w = 0;
  for (let r = 0; r < sorted.length; r++) {
    if (w === 0 || sorted[r] !== sorted[w - 1]) sorted[w++] = sorted[r] as string;
  }
  sorted.length = w;
  return sorted;
}

/** First index in `names` (sorted by compareKeys) whose name is at or after `target` (`inclusive`) or after it. */
export function searchNames(names: readonly string[], target: string, inclusive: boolean): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(names[mid] as string, target);
    if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index at or after `from` whose name sorts after every name starting with `prefix` (those are contiguous). */
export function endOfPrefix(names: readonly string[], prefix: string, from: number): number {
  let lo = from;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const name = names[mid] as string;
    if (name.startsWith(prefix) || compareKeys(name, prefix) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function createDirectoryListings(options: DirectoryListingsOptions): DirectoryListings {
  const settleNs = BigInt(Math.round((options.settleMs ?? DEFAULT_SETTLE_MS) * 1e6));
  const cache = new LRUCache<string, Listing>({
    maxSize: Math.max(1, options.maxBytes),
    sizeCalculation: (listing) => Math.max(1, listing.bytes),
  });
  /** Reads in progress, by directory and stamp: concurrent pages of one directory share one read. */
  const loading = new Map<string, Promise<Listing | undefined>>();

  async function read(absolute: string, stats: BigIntStats, reference: string): Promise<Listing | undefined> {
    const started = BigInt(Date.now()) * 1_000_000n;
    const hidden = options.hidden?.dir === absolute ? options.hidden.name : undefined;
    const names: string[] = [];
    let bytes = 0;
    let dir: Dir;
    try {
      dir = await opendir(absolute, { bufferSize: READ_BATCH });
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw fromLocalError(err, reference, "listing");
    }
    try {
      for await (const dirent of dir) {
        const name = dirent.name;
        if (name === hidden) continue;
        const isDir = dirent.isDirectory();
        if (!isDir && !dirent.isFile()) continue; // symbolic links and special files are not objects and are never followed
        // A name that is not valid UTF-8 decodes with U+FFFD and names no file; no key can name it.
        if (name.includes("\uFFFD") && (await lstat(path.join(absolute, name)).catch(() => undefined)) === undefined) continue;
        const entry = isDir ? `${name}/` : name;
        names.push(entry);
        bytes += entry.length * 2 + NAME_OVERHEAD_BYTES;
      }
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw fromLocalError(err, reference, "listing");
    }
    const listing: Listing = { stamp: stampOf(stats), names: await sortNames(names), bytes };
    // Changed within `settle` of the read: a change in the same clock tick would keep the stamp, so do not trust it later.
    if (started - stats.ctimeNs > settleNs) cache.set(absolute, listing);
    return listing;
  }

  return {
    async names(absolute, reference) {
      let stats: BigIntStats;
      try {
        stats = await lstat(absolute, { bigint: true });
      } catch (err) {
        const code = errnoCode(err);
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        throw fromLocalError(err, reference, "listing");
      }
      if (!stats.isDirectory()) return undefined;
      const stamp = stampOf(stats);
      const cached = cache.get(absolute);
      if (cached?.stamp === stamp) return cached.names;
      const key = `${absolute}\0${stamp}`;
      let pending = loading.get(key);
      if (pending === undefined) {
        pending = read(absolute, stats, reference).finally(() => loading.delete(key));
        loading.set(key, pending);
      }
      return (await pending)?.names;
    },
  };
}
