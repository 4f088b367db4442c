// What `stowd sync` does: the copies a bulk copy would make, minus those
// whose destination already holds the same bytes, plus (with --delete) the
// removal of destination files and objects the source does not have.
// "The same" is judged like rsync's quick check, with checksums where both
// sides have them: the sizes must match, then the CRC32Cs (an object's is in
// its listing; a local file's is computed, only when the sizes match), else
// for two objects their etags, else the size alone decides.
import { stat } from "node:fs/promises";
import type { ObjectInfo, StowdClient } from "../client/index.js";
import { asPrefix, planBulkCopy, type BulkJob, type CopyJob, type DeleteJob } from "./bulk-copy.js";
import { fileCrc32c } from "./file-crc32c.js";
import { filesUnder } from "./local-tree.js";
import { localError } from "./local-errors.js";
import type { Location } from "./location.js";
import { runParallel } from "./parallel.js";
import { hasWildcard, objectsUnder } from "./remote-objects.js";
import { UsageError } from "./usage-error.js";

export const SYNC_COMPARISON_HELP = `A file or object is copied when the destination has none of that name or its
differs: first by size; then by CRC32C where both sides know it (objects keep it,
local files are checksummed when the sizes match); else, between two objects, by
etag when both have one; else equal sizes count as the same.`;

/** A destination entry sync compares with. */
type Existing = { kind: "file"; path: string; size: number } | { kind: "object"; info: ObjectInfo };

export interface SyncOptions {
  /** --delete: also remove what the destination has and the source does not. */
  deleteExtra: boolean;
  /** Comparisons (local checksums) at a time. */
  jobs: number;
}

export async function planSync(
  client: StowdClient,
  source: Location,
  destination: Location,
  options: SyncOptions,
  signal: AbortSignal,
): Promise<BulkJob[]> {
  if (options.deleteExtra && source.kind === "remote" && hasWildcard(source.reference)) {
    throw new UsageError("--delete needs a whole directory or prefix as SRC, not a wildcard: everything else at DST would go");
  }
  const copies = await planBulkCopy(client, source, destination, signal);
  const existing = await existingAt(client, destination, signal);
  const differing = new Set<CopyJob>();
  await runParallel(copies, options.jobs, signal, async (job, jobSignal) => {
    const there = existing.get(job.relative);
    if (there === undefined || (await differs(job, there, jobSignal))) differing.add(job);
  });
  const jobs: BulkJob[] = copies.filter((job) => differing.has(job));
  if (options.deleteExtra) {
    const kept = new Set(copies.map((job) => job.relative));
    for (const [relative, there] of existing) if (!kept.has(relative)) jobs.push(deletionOf(there));
  }
  return jobs;
}

/** What DST holds, by name relative to it; a local directory that does not exist yet holds nothing. */
async function existingAt(client: StowdClient, destination: Location, signal: AbortSignal): Promise<Map<string, Existing>> {
  const existing = new Map<string, Existing>();
  if (destination.kind === "local") {
    const found = await stat(destination.path).catch((err: unknown) => {
      if ((err as { code?: unknown }).code === "ENOENT") return undefined;
      throw localError(err, destination.path, "checking");
    });
    if (found === undefined) return existing;
    for (const file of await filesUnder(destination.path)) existing.set(file.relative, { kind: "file", path: file.path, size: file.size });
  } else if (destination.kind === "remote") {
    const prefix = asPrefix(destination.reference);
    for (const { info, relative } of await objectsUnder(client, prefix, signal)) existing.set(relative, { kind: "object", info });
  }
  return existing;
}

async function differs(job: CopyJob, there: Existing, signal: AbortSignal): Promise<boolean> {
  const size = there.kind === "file" ? there.size : there.info.size;
  if (job.size !== size) return true;
  if (job.kind === "upload") {
    // Local source, remote destination.
    const stored = there.kind === "object" ? there.info.crc32c : undefined;
    return stored !== undefined && (await fileCrc32c(job.path, signal)) !== stored;
  }
  if (there.kind === "file") {
    const stored = job.sourceInfo.crc32c;
    return stored !== undefined && (await fileCrc32c(there.path, signal)) !== stored;
  }
  const [a, b] = [job.sourceInfo, there.info];
  if (a.crc32c !== undefined && b.crc32c !== undefined) return a.crc32c !== b.crc32c;
  if (a.etag !== "" && b.etag !== "") return a.etag !== b.etag;
  return false;
}

function deletionOf(there: Existing): DeleteJob {
  return there.kind === "file"
    ? { kind: "delete-file", path: there.path, size: 0 }
    : { kind: "delete-object", reference: there.info.reference, size: 0 };
}
