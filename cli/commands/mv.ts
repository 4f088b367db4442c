// `stowd mv`: a copy (upload, download or CopyRaw) whose source is deleted
// once its destination is complete and verified, object by object, so an
// interrupted mv leaves each object at its source or whole at its destination.
import { stat } from "node:fs/promises";
import type { StowdClient } from "../../client/index.js";
import { StowdError } from "../../common/errors.js";
import { planBulkCopy, runBulkCopy, type CopyJob } from "../bulk-copy.js";
import type { Command } from "../command.js";
import { booleanFlag } from "../command.js";
import { localError } from "../local-errors.js";
import { destinationReference, localBasename, locationOf, referenceBasename, type Location } from "../location.js";
import { hasWildcard } from "../remote-objects.js";
import { UsageError } from "../usage-error.js";
import { bulkFlags, DEFAULT_JOBS, jobsOf } from "./cp.js";

export const mv: Command = {
  name: "mv",
  summary: "move local <-> remote or remote -> remote (copy, verify, then delete the source)",
  synopsis: "stowd mv [options] SRC DST",
  description: `Moves one object or file, or with -r (or a wildcard in SRC) every file of a directory
or object under a prefix, named as cp names them. Each is copied as cp copies it
(uploads and downloads checked by CRC32C, remote -> remote by CopyRaw and checked
against the source's size and CRC32C), and its source is deleted only after that: an
interrupted mv leaves every object either still at its source or complete at its
destination. An object changed since it was listed (another etag) is not deleted
(exit 5). With --json, one line per file moved, as cp prints them.`,
  flags: bulkFlags,
  flagHelp: [
    "-r, --recursive      move a local directory's files or every object under a prefix",
    `-j, --jobs N         moves at a time for -r and wildcards (default ${DEFAULT_JOBS})`,
  ],
  examples: [
    "stowd mv mem://b/tmp/report.csv s3://bucket/reports/",
    "stowd mv -r -j 8 ./outbox/ s3://bucket/inbox/",
    "stowd mv 'mem://b/logs/*.log' ./logs/",
  ],
  positionals: { min: 2, max: 2 },
  async run(context, flags, [src = "", dst = ""]) {
    const source = locationOf(src);
    const destination = locationOf(dst);
    if (source.kind === "stdio" || destination.kind === "stdio")
      throw new UsageError("mv moves files and objects, not stdin / stdout: use cp");
    if (source.kind === "local" && destination.kind === "local")
      throw new UsageError("SRC or DST must be a stowd reference; for local files use mv(1)");
    const many = booleanFlag(flags, "recursive") || (source.kind === "remote" && hasWildcard(source.reference));
    if (!many && flags.jobs !== undefined) throw new UsageError("--jobs applies to -r and wildcard moves");
    const jobs = many
      ? await planBulkCopy(context.client(), source, destination, context.signal)
      : [await singleMove(context.client(), source, destination, context.signal)];
    await runBulkCopy(context, jobs, { jobs: many ? jobsOf(flags) : 1, write: {}, moveSources: true });
  },
};

/** One file or object to move, its destination named as cp names it. */
async function singleMove(client: StowdClient, source: Location, destination: Location, signal: AbortSignal): Promise<CopyJob> {
  if (source.kind === "local" && destination.kind === "remote") {
    const found = await stat(source.path).catch((err: unknown) => {
      throw localError(err, source.path, "checking");
    });
    if (found.isDirectory()) throw new UsageError(`${source.path} is a directory; move it with mv -r`);
    const reference = destinationReference(destination.reference, () => localBasename(source.path));
    return { kind: "upload", path: source.path, reference, size: found.size, relative: localBasename(source.path) };
  }
  if (source.kind !== "remote") throw new UsageError("SRC or DST must be a stowd reference");
  const info = await client.head(source.reference, { signal });
  if (info === undefined) throw new StowdError("NOT_FOUND", `${source.reference} does not exist`, { reference: source.reference });
  const name = referenceBasename(source.reference);
  if (destination.kind === "local") {
    // download() puts it inside an existing directory under this name.
    return { kind: "download", reference: source.reference, path: destination.path, size: info.size, relative: name, sourceInfo: info };
  }
  if (destination.kind !== "remote") throw new UsageError("DST must be a local path or a stowd reference");
  const target = destinationReference(destination.reference, () => name);
  return { kind: "copy", source: source.reference, destination: target, size: info.size, relative: name, sourceInfo: info };
}
