// `stowd ls`: List, page after page, printed as the pages arrive.
import type { ObjectInfo } from "../../client/index.js";
import type { Command } from "../command.js";
import { booleanFlag, stringFlag } from "../command.js";
import { parseCount } from "../flag-values.js";
import { objectJson, shortTime } from "../format.js";
import { requireReference } from "../location.js";
import type { Output } from "../output.js";
import { hasWildcard, objectsMatching } from "../remote-objects.js";
import { UsageError } from "../usage-error.js";

export const ls: Command = {
  name: "ls",
  summary: "list objects and prefixes under a prefix",
  synopsis: "stowd ls [options] PREFIX",
  description: `Lists what is under PREFIX, following every page of List. Keys are rolled up at "/"
like a directory listing: a rolled-up prefix shows as a PRE line. -r lists every
object under PREFIX instead. A wildcard in PREFIX's key (* and ? within one
segment, ** across, [abc], {a,b}) lists the objects it matches; a pattern matching
nothing exits 3 and says so. Each object line shows size in bytes, update time and
reference. With --json, one line per entry:
  {"kind":"object","reference":...,"size":N,"etag":...,"md5":...,"contentType":...,
   "metadata":{...},"updateTime":ISO|null,"generation":...}
  {"kind":"prefix","reference":...}`,
  flags: {
    recursive: { type: "boolean", short: "r" },
    delimiter: { type: "string" },
    "page-size": { type: "string" },
  },
  flagHelp: [
    "-r, --recursive      every object under PREFIX, no roll-up",
    '--delimiter D        roll keys up at D instead of "/"',
    "--page-size N        entries per List call (default: the daemon's, 1000)",
  ],
  examples: [
    "stowd ls file://bucket/",
    "stowd ls 'file://bucket/logs/*.log'",
    "stowd ls -r mem://b/runs/42/",
    "stowd ls --json s3://bucket/data/ | jq -r .reference",
  ],
  positionals: { min: 1, max: 1 },
  async run(context, flags, [prefix = ""]) {
    requireReference(prefix, "PREFIX");
    const recursive = booleanFlag(flags, "recursive");
    const delimiter = stringFlag(flags, "delimiter");
    if (recursive && delimiter !== undefined) throw new UsageError("--recursive and --delimiter exclude each other");
    const { out } = context;
    if (hasWildcard(prefix)) {
      for (const { info } of await objectsMatching(context.client(), prefix, context.signal)) printObject(out, info);
      return;
    }
    const pageSize = stringFlag(flags, "page-size");
    const pages = context.client().listPages(prefix, {
      signal: context.signal,
      ...(recursive ? {} : { delimiter: delimiter ?? "/" }),
      ...(pageSize === undefined ? {} : { pageSize: parseCount(pageSize, "page-size") }),
    });
    for await (const page of pages) {
      for (const info of page.objects) printObject(out, info);
      for (const reference of page.commonPrefixes) {
        out.result({ kind: "prefix", reference }, `${"PRE".padStart(12)}  ${"".padEnd(20)}  ${reference}`);
      }
    }
  },
};

function printObject(out: Output, info: ObjectInfo): void {
  const o = objectJson(info);
  out.result({ kind: "object", ...o }, `${String(o.size).padStart(12)}  ${shortTime(o.updateTime).padEnd(20)}  ${o.reference}`);
}
