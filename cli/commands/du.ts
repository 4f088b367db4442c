// `stowd du`: how many bytes and objects are under each prefix (or match each
// wildcard), like gsutil du and aws s3 ls --summarize; List pages only.
import type { Command } from "../command.js";
import { booleanFlag } from "../command.js";
import { formatBytes } from "../format.js";
import { requireReference } from "../location.js";
import { objectsOf } from "../remote-objects.js";

export const du: Command = {
  name: "du",
  summary: "total bytes and object count under each prefix",
  synopsis: "stowd du [options] PREFIX...",
  description: `Adds up the size of every object under each PREFIX (every key that starts with it,
as written, across "/"), or of the objects a wildcard in its key matches (as ls; a
pattern matching nothing exits 3). Prints each object's size and reference, then per
PREFIX a total line: bytes, object count, PREFIX. -s prints only the totals; --human
shows sizes in KiB, MiB, GiB (-h is --help). With --json, one line per object
{"reference":...,"size":N} (not with -s) and per PREFIX {"prefix":...,"bytes":N,"objects":N}.`,
  flags: {
    summarize: { type: "boolean", short: "s" },
    human: { type: "boolean" },
  },
  flagHelp: ["-s, --summarize      only the total of each PREFIX", "--human              sizes as 1.5 KiB, 2.0 GiB instead of bytes"],
  examples: ["stowd du -s mem://b/runs/", "stowd du --human 'file://bucket/logs/*.log'", "stowd du -s --json s3://bucket/ | jq .bytes"],
  positionals: { min: 1, max: Infinity },
  async run(context, flags, prefixes) {
    prefixes.forEach((p) => requireReference(p, "PREFIX"));
    const summarize = booleanFlag(flags, "summarize");
    const size = (bytes: number) => (booleanFlag(flags, "human") ? formatBytes(bytes) : String(bytes)).padStart(12);
    const { out } = context;
    for (const prefix of prefixes) {
      let bytes = 0;
      let objects = 0;
      for (const { info } of await objectsOf(context.client(), prefix, context.signal)) {
        bytes += info.size;
        objects++;
        if (!summarize) out.result({ reference: info.reference, size: info.size }, `${size(info.size)}  ${info.reference}`);
      }
      const count = `${objects} object${objects === 1 ? "" : "s"}`;
      out.result({ prefix, bytes, objects }, `${size(bytes)}  ${count.padEnd(12)}  ${prefix}`);
    }
  },
};
