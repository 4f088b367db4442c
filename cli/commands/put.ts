// `stowd put`: cp with a local (or stdin) source and a remote destination.
import type { Command } from "../command.js";
import { locationOf, requireReference } from "../location.js";
import { UsageError } from "../usage-error.js";
import { bulkFlagHelp, bulkFlags, COPY_JSON, copyFlagHelp, copyFlags, runCopy } from "./cp.js";

export const put: Command = {
  name: "put",
  summary: "upload a local file (or - for stdin) to an object",
  synopsis: "stowd put [options] FILE REF",
  description: `Uploads FILE to REF, streaming, with its size declared so the daemon refuses a file
that changes length meanwhile; - reads stdin. A REF ending with "/" gets the file's
name. The write is atomic: readers see the old object or the whole new one. Quiet on
success; a progress bar on stderr when it is a terminal. ${COPY_JSON}
With -r, FILE is a directory and its files go under REF (as cp -r; see stowd cp --help).`,
  flags: { ...copyFlags, ...bulkFlags },
  flagHelp: [...copyFlagHelp, ...bulkFlagHelp],
  examples: [
    "stowd put -r ./site/ s3://bucket/site/",
    "stowd put ./report.csv file://bucket/reports/",
    "stowd put -n --content-type text/plain notes.txt mem://b/notes.txt",
    "echo hello | stowd put - mem://b/hello.txt",
  ],
  positionals: { min: 2, max: 2 },
  run(context, flags, [file = "", reference = ""]) {
    requireReference(reference, "REF");
    const source = locationOf(file);
    if (source.kind === "remote") throw new UsageError("FILE is a local path or -; to copy between references use cp");
    return runCopy(context, flags, source, { kind: "remote", reference });
  },
};
