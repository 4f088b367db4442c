// `stowd rm`: Delete, or DeletePrefix with -r / --prefix.
import { StowdError } from "../../common/errors.js";
import type { Command } from "../command.js";
import { booleanFlag } from "../command.js";
import { requireReference } from "../location.js";
import { hasWildcard, objectsMatching } from "../remote-objects.js";
import { UsageError } from "../usage-error.js";

export const rm: Command = {
  name: "rm",
  summary: "delete objects, or everything under a prefix",
  synopsis: "stowd rm [options] REF...",
  description: `Deletes each REF (Delete); a missing one exits 3 unless -f. -r deletes everything
under a "directory" and demands a REF ending with "/", so rm -r mem://b/run1/ never
takes mem://b/run10; --prefix deletes every key that starts with REF as written
(DeletePrefix both). A wildcard in REF's key (* and ? within one segment, ** across,
[abc], {a,b}) deletes each object it matches; a pattern matching nothing exits 3
(with -f: 0). Prints how many objects a prefix delete removed. With --json, one line
per object deleted or per prefix: {"deleted":REF} or {"prefix":REF,"deletedCount":N}.`,
  flags: {
    recursive: { type: "boolean", short: "r" },
    prefix: { type: "boolean" },
    force: { type: "boolean", short: "f" },
  },
  flagHelp: [
    '-r, --recursive      delete everything under REF/ (REF must end with "/")',
    "--prefix             delete every object whose reference starts with REF",
    "-f, --force          a missing object is not an error",
  ],
  examples: [
    "stowd rm mem://b/tmp.txt",
    "stowd rm 'mem://b/tmp/*.part'",
    "stowd rm -r file://bucket/runs/42/",
    "stowd rm --prefix file://bucket/logs/2026-11-",
  ],
  positionals: { min: 1, max: Infinity },
  async run(context, flags, references) {
    references.forEach((r) => requireReference(r, "REF"));
    const recursive = booleanFlag(flags, "recursive");
    const byPrefix = recursive || booleanFlag(flags, "prefix");
    if (recursive) {
      const bare = references.find((r) => !r.endsWith("/"));
      if (bare !== undefined) {
        throw new UsageError(`rm -r takes a prefix ending with "/", got ${bare}; add the "/" or use --prefix to match a partial key`);
      }
    }
    const { client, signal, out } = context;
    const force = booleanFlag(flags, "force");
    for (const reference of references) {
      if (hasWildcard(reference)) {
        if (byPrefix) throw new UsageError(`${reference} has a wildcard: it names objects, not a prefix; drop -r / --prefix`);
        const matched = await objectsMatching(client(), reference, signal).catch((err: unknown) => {
          if (force && err instanceof StowdError && err.reason === "NOT_FOUND") return [];
          throw err;
        });
        for (const { info } of matched) {
          await client().delete(info.reference, { signal, allowMissing: true });
          out.result({ deleted: info.reference });
        }
      } else if (byPrefix) {
        const count = await client().deletePrefix(reference, { signal });
        out.result({ prefix: reference, deletedCount: count }, `deleted ${count} object${count === 1 ? "" : "s"} under ${reference}`);
      } else {
        await client().delete(reference, { signal, allowMissing: force });
        out.result({ deleted: reference });
      }
    }
  },
};
