// `stowd cp`: local file -> object (WriteRaw), object -> local file
// (ReadRaw), object -> object (CopyRaw, no bytes through this machine);
// with -r or a wildcard, many of them (cli/bulk-copy.ts). `get` and `put`
// are this with one side fixed.
import type { WriteOptions } from "../../client/index.js";
import { planBulkCopy, runBulkCopy } from "../bulk-copy.js";
import type { Command, CommandContext, FlagSpecs, FlagValues } from "../command.js";
import { booleanFlag, stringFlag, stringsFlag } from "../command.js";
import { parseCount, parseMetadata } from "../flag-values.js";
import { objectJson } from "../format.js";
import { destinationReference, localBasename, locationOf, referenceBasename, type Location } from "../location.js";
import { hasWildcard } from "../remote-objects.js";
import { download, upload } from "../transfer.js";
import { UsageError } from "../usage-error.js";

/** The flags of every copy: the object written gets these. */
export const copyFlags: FlagSpecs = {
  "content-type": { type: "string" },
  metadata: { type: "string", multiple: true },
  "if-not-exists": { type: "boolean", short: "n" },
  "if-match": { type: "string" },
};

/** Flags of the commands that move many files: what to take and how many at a time. */
export const bulkFlags: FlagSpecs = {
  recursive: { type: "boolean", short: "r" },
  jobs: { type: "string", short: "j" },
};

export const DEFAULT_JOBS = 4;

export const bulkFlagHelp = [
  "-r, --recursive      copy a local directory's files or every object under a prefix",
  `-j, --jobs N         transfers at a time for -r and wildcards (default ${DEFAULT_JOBS})`,
];

/** --jobs, at least 1. */
export function jobsOf(flags: FlagValues): number {
  const text = stringFlag(flags, "jobs");
  const jobs = text === undefined ? DEFAULT_JOBS : parseCount(text, "jobs");
  if (jobs < 1) throw new UsageError("--jobs takes a whole number >= 1");
  return jobs;
}

export const copyFlagHelp = [
  "--content-type T     content type of the uploaded object (default: from the file's extension,",
  "                     else application/octet-stream)",
  "--metadata K=V       user metadata of the uploaded object; repeat for more",
  "-n, --if-not-exists  fail (exit 5) when the destination object exists",
  "--if-match ETAG      write only over the destination object with this etag (else exit 5)",
];

export const COPY_JSON = `With --json, one line per file copied (none when the bytes go to stdout):
  {"source":...,"destination":...,"bytes":N,"object":{...the object's info, as stat --json}}`;

export const BULK_HELP = `With -r, SRC is a local directory or a remote prefix and its files go under DST
(a directory or a prefix) with their paths relative to SRC; mem://b/run1 means
mem://b/run1/, never mem://b/run10. A wildcard in a remote SRC's key (* and ? within
one segment, ** across, [abc], {a,b}) copies the objects it matches, named from the
last "/" before the wildcard; a pattern matching nothing exits 3. Files move -j at
a time with one progress bar for all (files, bytes, rate, ETA). Uploads and
downloads are checked by CRC32C; an interrupted run leaves no partial object and
no partial local file, and running it again copies everything again (sync copies
only what differs).`;

export const cp: Command = {
  name: "cp",
  summary: "copy local <-> remote, or remote -> remote (server side)",
  synopsis: "stowd cp [options] SRC DST",
  description: `Copies one object or file. A stowd reference is scheme://container/key; anything else
is a local path and - is stdin / stdout. local -> remote uploads, streaming (the file
is never read whole into memory); remote -> local downloads into a temp file renamed
into place when complete; remote -> remote is CopyRaw, done by the daemon (also
across schemes). A destination ending with "/" (or an existing local directory)
gets the source's name. Quiet on success; a progress bar on stderr when it is a
terminal. ${COPY_JSON}

${BULK_HELP}`,
  flags: { ...copyFlags, ...bulkFlags },
  flagHelp: [...copyFlagHelp, ...bulkFlagHelp],
  examples: [
    "stowd cp ./big.bin file://bucket/data/big.bin",
    "stowd cp -r -j 8 ./site/ s3://bucket/site/",
    "stowd cp 'mem://b/logs/*.log' ./logs/",
    "stowd cp file://bucket/data/big.bin ./",
    "stowd cp mem://b/a.txt s3://bucket/copies/",
    "tar c dir | stowd cp - file://bucket/dir.tar",
  ],
  positionals: { min: 2, max: 2 },
  run: (context, flags, [source = "", destination = ""]) => runCopy(context, flags, locationOf(source), locationOf(destination)),
};

export async function runCopy(context: CommandContext, flags: FlagValues, source: Location, destination: Location): Promise<void> {
  const write = writeOptionsOf(flags);
  const bytesOnly = Object.keys(write).filter((k) => k === "contentType" || k === "metadata");
  const preconditions = Object.keys(write).filter((k) => k === "ifNotExists" || k === "ifMatchEtag");
  const { client, signal, progress, out } = context;
  if (source.kind === "remote" && destination.kind === "remote" && bytesOnly.length > 0) {
    throw new UsageError("--content-type and --metadata apply to uploads; a remote copy keeps the source's");
  }
  if (source.kind === "remote" && destination.kind !== "remote" && bytesOnly.length + preconditions.length > 0) {
    throw new UsageError("--content-type, --metadata, --if-not-exists and --if-match apply to a remote destination");
  }
  if (booleanFlag(flags, "recursive") || (source.kind === "remote" && hasWildcard(source.reference))) {
    const parallel = jobsOf(flags);
    const jobs = await planBulkCopy(client(), source, destination, signal);
    await runBulkCopy(context, jobs, { jobs: parallel, write });
    return;
  }
  if (flags.jobs !== undefined) throw new UsageError("--jobs applies to -r and wildcard copies");

  if (source.kind === "remote" && destination.kind === "remote") {
    const target = destinationReference(destination.reference, () => referenceBasename(source.reference));
    const info = await client().copy(source.reference, target, { ...write, signal });
    out.result({ source: source.reference, destination: target, bytes: info.size, object: objectJson(info) });
    return;
  }
  if (destination.kind === "remote") {
    const target = destinationReference(destination.reference, () => (source.kind === "local" ? localBasename(source.path) : failNoName()));
    const info = await upload({
      client: client(),
      source: source.kind === "local" ? { kind: "local", path: source.path } : { kind: "stdin", stream: process.stdin },
      reference: target,
      write,
      progress,
      signal,
    });
    out.result({
      source: source.kind === "local" ? source.path : "-",
      destination: target,
      bytes: info.size,
      object: objectJson(info),
    });
    return;
  }
  if (source.kind === "remote") {
    const toStdout = destination.kind === "stdio";
    const result = await download({
      client: client(),
      reference: source.reference,
      target: toStdout ? { kind: "stdout", stream: out.stdout } : { kind: "local", path: destination.path },
      // A bar on the same terminal as the bytes would garble them.
      progress: progress && !(toStdout && process.stdout.isTTY === true),
      signal,
    });
    // The bytes are stdout's content: no JSON line after them.
    if (!toStdout) out.result({ source: source.reference, destination: result.path, bytes: result.bytes, object: objectJson(result.info) });
    return;
  }
  throw new UsageError("SRC or DST must be a stowd reference (scheme://container/key); to copy local files, use cp(1)");
}

function writeOptionsOf(flags: FlagValues): Omit<WriteOptions, "size" | "signal"> {
  const contentType = stringFlag(flags, "content-type");
  const metadata = stringsFlag(flags, "metadata");
  const ifMatch = stringFlag(flags, "if-match");
  return {
    ...(contentType === undefined ? {} : { contentType }),
    ...(metadata.length === 0 ? {} : { metadata: parseMetadata(metadata) }),
    ...(booleanFlag(flags, "if-not-exists") ? { ifNotExists: true } : {}),
    ...(ifMatch === undefined ? {} : { ifMatchEtag: ifMatch }),
  };
}

function failNoName(): never {
  throw new UsageError('an upload from stdin has no name: give the full destination reference, not one ending with "/"');
}
