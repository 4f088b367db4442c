// `stowd get`: cp with a remote source and a local (or stdout) destination.
import type { Command } from "../command.js";
import { locationOf, referenceBasename, requireReference } from "../location.js";
import { UsageError } from "../usage-error.js";
import { booleanFlag } from "../command.js";
import { hasWildcard } from "../remote-objects.js";
import { bulkFlagHelp, bulkFlags, COPY_JSON, runCopy } from "./cp.js";

export const get: Command = {
  name: "get",
  summary: "download an object to a local file (or - for stdout)",
  synopsis: "stowd get [options] REF [DEST]",
  description: `Downloads REF into DEST (default: the key's last segment, in the current directory;
an existing directory gets that name inside it; - writes to stdout). The file is
written under a temp name and renamed when complete. Quiet on success; a progress
bar on stderr when it is a terminal. ${COPY_JSON}
With -r (REF a prefix) or a wildcard in REF, the objects go under DEST (default: the
current directory) with their names relative to the prefix (see stowd cp --help).`,
  flags: bulkFlags,
  flagHelp: bulkFlagHelp,
  examples: [
    "stowd get -r -j 8 s3://bucket/site/ ./site/",
    "stowd get file://bucket/data/big.bin",
    "stowd get mem://b/report.csv /tmp/",
    "stowd get mem://b/k - | sha256sum",
  ],
  positionals: { min: 1, max: 2 },
  run(context, flags, [reference = "", destination]) {
    requireReference(reference, "REF");
    const many = booleanFlag(flags, "recursive") || hasWildcard(reference);
    const target = locationOf(destination ?? (many ? "." : referenceBasename(reference)));
    if (target.kind === "remote") throw new UsageError("DEST is a local path or -; to copy between references use cp");
    return runCopy(context, flags, { kind: "remote", reference }, target);
  },
};
