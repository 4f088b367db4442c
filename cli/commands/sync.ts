// `stowd sync`: makes DST hold what SRC holds, copying only what is missing
// or differs (cli/sync-plan.ts), with the bulk copy's parallel executor.
import { printPlan, runBulkCopy } from "../bulk-copy.js";
import type { Command } from "../command.js";
import { booleanFlag } from "../command.js";
import { locationOf } from "../location.js";
import { planSync, SYNC_COMPARISON_HELP } from "../sync-plan.js";
import { UsageError } from "../usage-error.js";
import { DEFAULT_JOBS, jobsOf } from "./cp.js";

export const sync: Command = {
  name: "sync",
  summary: "copy only what is missing or differs: dir -> prefix, prefix -> dir or prefix",
  synopsis: "stowd sync [options] SRC DST",
  description: `Makes DST (a local directory or a prefix) hold the files of SRC (a local directory,
a prefix or a wildcard), copying only those missing at DST or differing, -j at a time
with one progress bar, each as cp -r copies it (checked by CRC32C, never a partial
object or file). ${SYNC_COMPARISON_HELP}
--delete also removes what DST has and SRC does not; --dry-run prints what would be
done and changes nothing. An interrupted sync leaves no partial object; running it
again copies only what is still missing. With --json, one line per file copied, as
cp prints them, and {"deleted":REF|PATH} per deletion; with --dry-run:
  {"action":"copy","source":...,"destination":...,"bytes":N} or {"action":"delete","destination":...}`,
  flags: {
    delete: { type: "boolean" },
    "dry-run": { type: "boolean" },
    jobs: { type: "string", short: "j" },
  },
  flagHelp: [
    "--delete             remove files / objects at DST that SRC does not have",
    "--dry-run            print one line per copy or deletion it would make; change nothing",
    `-j, --jobs N         transfers (and local checksums) at a time (default ${DEFAULT_JOBS})`,
  ],
  examples: [
    "stowd sync ./site/ s3://bucket/site/",
    "stowd sync --delete -j 8 s3://bucket/site/ ./site/",
    "stowd sync --dry-run --delete mem://b/run1/ file://bucket/run1/",
  ],
  positionals: { min: 2, max: 2 },
  async run(context, flags, [src = "", dst = ""]) {
    const source = locationOf(src);
    const destination = locationOf(dst);
    if (source.kind === "stdio" || destination.kind === "stdio") throw new UsageError("sync takes directories and prefixes, not -");
    if (source.kind === "local" && destination.kind === "local")
      throw new UsageError("SRC or DST must be a stowd reference; for two local directories use rsync");
    const jobs = jobsOf(flags);
    const plan = await planSync(context.client(), source, destination, { deleteExtra: booleanFlag(flags, "delete"), jobs }, context.signal);
    if (booleanFlag(flags, "dry-run")) {
      printPlan(context, plan);
      return;
    }
    await runBulkCopy(context, plan, { jobs, write: {} });
  },
};
