// Copies many files or objects: a local directory up under a remote prefix,
// a remote prefix (or wildcard) down into a local directory, or a remote
// prefix to another (CopyRaw per object). Each file moves as a single `cp`
// would (uploads with their size and CRC32C declared, atomic at the daemon;
// downloads verified against the object's CRC32C into a temp file renamed
// when complete; server-side copies checked against the source's size and
// CRC32C), `jobs` at a time, counted into one bar for them all. sync adds
// deletions to the same run; mv deletes each source once its copy is
// complete and verified, so an interrupted run loses nothing.
import { mkdir, rm } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { ObjectInfo, StowdClient, WriteOptions } from "../client/index.js";
import { formatCrc32c } from "../client/crc32c.js";
import { StowdError } from "../common/errors.js";
import type { CommandContext } from "./command.js";
import { objectJson } from "./format.js";
import { filesUnder } from "./local-tree.js";
import { localError } from "./local-errors.js";
import type { Location } from "./location.js";
import { runParallel } from "./parallel.js";
import { createProgress, type Progress } from "./progress.js";
import { hasWildcard, objectsOf } from "./remote-objects.js";
import { download, upload } from "./transfer.js";
import { UsageError } from "./usage-error.js";

/** One file or object to copy; `relative` is its name under the source (and destination) directory or prefix. */
export type CopyJob =
  | { kind: "upload"; path: string; reference: string; size: number; relative: string }
  | { kind: "download"; reference: string; path: string; size: number; relative: string; sourceInfo: ObjectInfo }
  | { kind: "copy"; source: string; destination: string; size: number; relative: string; sourceInfo: ObjectInfo };

/** A destination file or object that sync --delete removes. */
export type DeleteJob = { kind: "delete-object"; reference: string; size: 0 } | { kind: "delete-file"; path: string; size: 0 };

export type BulkJob = CopyJob | DeleteJob;

/** What a bulk copy moves, each with its destination; NOT_FOUND when the source holds nothing. */
export async function planBulkCopy(client: StowdClient, source: Location, destination: Location, signal: AbortSignal): Promise<CopyJob[]> {
  let jobs: CopyJob[];
  if (source.kind === "local" && destination.kind === "remote") {
    const files = await filesUnder(source.path);
    const prefix = asPrefix(destination.reference);
    jobs = files.map((f) => ({ kind: "upload", path: f.path, reference: `${prefix}${f.relative}`, size: f.size, relative: f.relative }));
  } else if (source.kind === "remote" && destination.kind !== "stdio") {
    const objects = await objectsOf(client, sourcePrefix(source.reference), signal);
    jobs = objects.map(({ info, relative }) =>
      destination.kind === "local"
        ? {
            kind: "download",
            reference: info.reference,
            path: localPathUnder(destination.path, relative),
            size: info.size,
            relative,
            sourceInfo: info,
          }
        : {
            kind: "copy",
            source: info.reference,
            destination: `${asPrefix(destination.reference)}${relative}`,
            size: info.size,
            relative,
            sourceInfo: info,
          },
    );
  } else {
    throw new UsageError(
      "a recursive or wildcard transfer goes from a local directory to a reference, or from a reference to a directory or a reference",
    );
  }
  if (jobs.length === 0) {
    const what = source.kind === "local" ? `local directory ${source.path}` : sourcePrefix(source.reference);
    throw new StowdError("NOT_FOUND", `nothing to copy: ${what} holds no files`, { field: what });
  }
  return jobs;
}

export interface BulkCopyOptions {
  jobs: number;
  /** Content type, metadata and preconditions of every object written. */
  write: Omit<WriteOptions, "size" | "signal">;
  /** mv: delete each source once its copy is complete and verified. */
  moveSources?: boolean;
}

/** Runs the jobs, printing one --json line per file as it completes. */
export async function runBulkCopy(context: CommandContext, jobs: readonly BulkJob[], options: BulkCopyOptions): Promise<void> {
  const client = context.client();
  if (options.moveSources === true) {
    const ontoItself = jobs.find((job) => job.kind === "copy" && job.source === job.destination);
    if (ontoItself?.kind === "copy") throw new UsageError(`${ontoItself.source} would be moved onto itself`);
  }
  const bar = createProgress({
    enabled: context.progress,
    total: jobs.reduce((sum, job) => sum + job.size, 0),
    label: "",
    files: jobs.length,
  });
  try {
    await runParallel(jobs, options.jobs, context.signal, async (job, signal) => {
      if (job.kind === "delete-object" || job.kind === "delete-file") {
        await runDelete(client, job, signal);
        bar.fileDone();
        context.out.result({ deleted: job.kind === "delete-object" ? job.reference : job.path });
        return;
      }
      const done = await runJob(client, job, options, bar, signal);
      if (options.moveSources === true) await deleteSource(client, job, signal);
      bar.fileDone();
      context.out.result({ source: done.source, destination: done.destination, bytes: done.bytes, object: objectJson(done.info) });
    });
  } finally {
    bar.stop();
  }
}

/** --dry-run: one line per job (one JSON document with --json), nothing changed. */
export function printPlan(context: CommandContext, jobs: readonly BulkJob[]): void {
  for (const job of jobs) {
    const [source, destination] = endsOf(job);
    if (source === undefined) context.out.result({ action: "delete", destination }, `delete ${destination}`);
    else context.out.result({ action: "copy", source, destination, bytes: job.size }, `copy ${source} -> ${destination}`);
  }
}

/** A job's source (undefined for a deletion) and destination, as the user named them. */
function endsOf(job: BulkJob): [string | undefined, string] {
  switch (job.kind) {
    case "upload":
      return [job.path, job.reference];
    case "download":
      return [job.reference, job.path];
    case "copy":
      return [job.source, job.destination];
    case "delete-object":
      return [undefined, job.reference];
    case "delete-file":
      return [undefined, job.path];
  }
}

async function runJob(
  client: StowdClient,
  job: CopyJob,
  options: BulkCopyOptions,
  bar: Progress,
  signal: AbortSignal,
): Promise<{ source: string; destination: string; bytes: number; info: ObjectInfo }> {
  switch (job.kind) {
    case "upload": {
      const info = await upload({
        client,
        source: { kind: "local", path: job.path },
        reference: job.reference,
        write: options.write,
        progress: false,
        sharedBar: bar,
        signal,
      });
      return { source: job.path, destination: job.reference, bytes: info.size, info };
    }
    case "download": {
      await mkdir(dirname(job.path), { recursive: true }).catch((err: unknown) => {
        throw localError(err, dirname(job.path), "creating");
      });
      const got = await download({
        client,
        reference: job.reference,
        target: { kind: "local", path: job.path },
        progress: false,
        sharedBar: bar,
        signal,
      });
      return { source: job.reference, destination: got.path ?? job.path, bytes: got.bytes, info: got.info };
    }
    case "copy": {
      const info = await client.copy(job.source, job.destination, { ...options.write, signal });
      checkCopied(job.sourceInfo, info);
      bar.add(info.size);
      return { source: job.source, destination: job.destination, bytes: info.size, info };
    }
  }
}

/**
 * A server-side copy is checked like a transfer: the copy must have the
 * source's size and, where both are known, its CRC32C (uploads and downloads
 * are checked by the SDK as the bytes stream).
 */
function checkCopied(source: ObjectInfo, copy: ObjectInfo): void {
  const sameCrc = source.crc32c === undefined || copy.crc32c === undefined || source.crc32c === copy.crc32c;
  if (copy.size === source.size && sameCrc) return;
  const crc = (info: ObjectInfo) => (info.crc32c === undefined ? "" : `, CRC32C ${formatCrc32c(info.crc32c)}`);
  throw new StowdError(
    "CHECKSUM_MISMATCH",
    `the copy ${copy.reference} (${copy.size} bytes${crc(copy)}) differs from its source ${source.reference} (${source.size} bytes${crc(source)}); ` +
      "the source was kept: run the command again",
    { reference: copy.reference },
  );
}

/** mv: the source goes only now that its copy is complete; an object changed since it was listed (another etag) is kept. */
async function deleteSource(client: StowdClient, job: CopyJob, signal: AbortSignal): Promise<void> {
  if (job.kind === "upload") {
    await rm(job.path).catch((err: unknown) => {
      throw localError(err, job.path, "removing the moved");
    });
    return;
  }
  const source = job.kind === "download" ? job.reference : job.source;
  const etag = job.sourceInfo.etag;
  await client.delete(source, { signal, ...(etag === "" ? {} : { ifMatchEtag: etag }) });
}

async function runDelete(client: StowdClient, job: DeleteJob, signal: AbortSignal): Promise<void> {
  if (job.kind === "delete-object") {
    await client.delete(job.reference, { signal, allowMissing: true });
    return;
  }
  await rm(job.path, { force: true }).catch((err: unknown) => {
    throw localError(err, job.path, "deleting");
  });
}

/** A prefix to put names under: "x" and "x/" both mean the "directory" x/. */
export function asPrefix(reference: string): string {
  return reference.endsWith("/") ? reference : `${reference}/`;
}

/** A recursive source without a wildcard is a directory: mem://b/run1 never takes mem://b/run10. */
export function sourcePrefix(reference: string): string {
  return hasWildcard(reference) ? reference : asPrefix(reference);
}

/** Where an object lands under a local directory; a key that would climb out of it (../) is refused. */
export function localPathUnder(directory: string, relative: string): string {
  const root = resolve(directory);
  const path = resolve(join(root, relative));
  if (!path.startsWith(`${root}${sep}`)) {
    throw new StowdError("INVALID_ARGUMENT", `the key ${JSON.stringify(relative)} would be written outside ${directory}`, {
      field: relative,
    });
  }
  return path;
}
