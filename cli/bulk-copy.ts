// Copies many files or objects: a local directory up under a remote prefix,
// a remote prefix (or wildcard) down into a local directory, or a remote
// prefix to another (CopyRaw per object). Each file moves as a single `cp`
// would (uploads with their size and CRC32C declared, atomic at the daemon;
// downloads verified against the object's CRC32C into a temp file renamed
// when complete), `jobs` at a time, counted into one bar for them all.
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { ObjectInfo, StowdClient, WriteOptions } from "../client/index.js";
import { StowdError } from "../common/errors.js";
import type { CommandContext } from "./command.js";
import { objectJson } from "./format.js";
import { filesUnder } from "./local-tree.js";
import { localError } from "./local-errors.js";
import type { Location } from "./location.js";
import { runParallel } from "./parallel.js";
import { createProgress } from "./progress.js";
import { hasWildcard, objectsOf } from "./remote-objects.js";
import { download, upload } from "./transfer.js";
import { UsageError } from "./usage-error.js";

export type CopyJob =
  | { kind: "upload"; path: string; reference: string; size: number }
  | { kind: "download"; reference: string; path: string; size: number }
  | { kind: "copy"; source: string; destination: string; size: number };

/** What a bulk copy moves, each with its destination; NOT_FOUND when the source holds nothing. */
export async function planBulkCopy(client: StowdClient, source: Location, destination: Location, signal: AbortSignal): Promise<CopyJob[]> {
  let jobs: CopyJob[];
  if (source.kind === "local" && destination.kind === "remote") {
    const files = await filesUnder(source.path);
    const prefix = asPrefix(destination.reference);
    jobs = files.map((f) => ({ kind: "upload", path: f.path, reference: `${prefix}${f.relative}`, size: f.size }));
  } else if (source.kind === "remote" && destination.kind !== "stdio") {
    const objects = await objectsOf(client, sourcePrefix(source.reference), signal);
    jobs = objects.map(({ info, relative }) =>
      destination.kind === "local"
        ? { kind: "download", reference: info.reference, path: localPathUnder(destination.path, relative), size: info.size }
        : { kind: "copy", source: info.reference, destination: `${asPrefix(destination.reference)}${relative}`, size: info.size },
    );
  } else {
    throw new UsageError(
      "a recursive or wildcard copy goes from a local directory to a reference, or from a reference to a directory or a reference",
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
}

/** Runs the jobs, printing one --json line per file as it completes. */
export async function runBulkCopy(context: CommandContext, jobs: readonly CopyJob[], options: BulkCopyOptions): Promise<void> {
  const client = context.client();
  const bar = createProgress({
    enabled: context.progress,
    total: jobs.reduce((sum, job) => sum + job.size, 0),
    label: "",
    files: jobs.length,
  });
  try {
    await runParallel(jobs, options.jobs, context.signal, async (job, signal) => {
      const done = await runJob(client, job, options, bar, signal);
      bar.fileDone();
      context.out.result({ ...done, object: objectJson(done.info) });
    });
  } finally {
    bar.stop();
  }
}

async function runJob(
  client: StowdClient,
  job: CopyJob,
  options: BulkCopyOptions,
  bar: ReturnType<typeof createProgress>,
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
      return { source: job.reference, destination: job.path, bytes: got.bytes, info: got.info };
    }
    case "copy": {
      const info = await client.copy(job.source, job.destination, { ...options.write, signal });
      bar.add(info.size);
      return { source: job.source, destination: job.destination, bytes: info.size, info };
    }
  }
}

/** A prefix to put names under: "x" and "x/" both mean the "directory" x/. */
function asPrefix(reference: string): string {
  return reference.endsWith("/") ? reference : `${reference}/`;
}

/** A recursive source without a wildcard is a directory: mem://b/run1 never takes mem://b/run10. */
function sourcePrefix(reference: string): string {
  return hasWildcard(reference) ? reference : asPrefix(reference);
}

/** Where an object lands under a local directory; a key that would climb out of it (../) is refused. */
function localPathUnder(directory: string, relative: string): string {
  const root = resolve(directory);
  const path = resolve(join(root, relative));
  if (!path.startsWith(`${root}${sep}`)) {
    throw new StowdError("INVALID_ARGUMENT", `the key ${JSON.stringify(relative)} would be written outside ${directory}`, {
      field: relative,
    });
  }
  return path;
}
