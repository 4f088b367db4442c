// `stowd cat`: ReadRaw straight to stdout, object after object, with ranges.
import { pipeline } from "node:stream/promises";
import type { ReadRange } from "../../client/index.js";
import type { Command, FlagValues } from "../command.js";
import { stringFlag } from "../command.js";
import { parseCount } from "../flag-values.js";
import { requireReference } from "../location.js";
import { UsageError } from "../usage-error.js";

export const cat: Command = {
  name: "cat",
  summary: "write objects (or a byte range) to stdout",
  synopsis: "stowd cat [options] REF...",
  description: `Streams each object to stdout in turn, as cat does with files. --offset/--length
or --tail read a byte range of each. Never shows a progress bar (use get for that);
--json does not change the output: the bytes are the output.`,
  flags: {
    offset: { type: "string" },
    length: { type: "string" },
    tail: { type: "string" },
  },
  flagHelp: [
    "--offset N           start at byte N",
    "--length N           read at most N bytes (from --offset, default 0)",
    "--tail N             the last N bytes",
  ],
  examples: [
    "stowd cat file://bucket/hello.txt",
    "stowd cat --tail 100 mem://b/log.txt",
    "stowd cat --offset 1024 --length 16 mem://b/blob | xxd",
  ],
  positionals: { min: 1, max: Infinity },
  async run(context, flags, references) {
    references.forEach((r) => requireReference(r, "REF"));
    const range = rangeOf(flags);
    for (const reference of references) {
      const handle = await context.client().read(reference, { signal: context.signal, ...(range === undefined ? {} : { range }) });
      try {
        await pipeline(handle.chunks, context.out.stdout, { end: false });
      } catch (err) {
        handle.cancel();
        throw err;
      }
    }
  },
};

function rangeOf(flags: FlagValues): ReadRange | undefined {
  const offset = stringFlag(flags, "offset");
  const length = stringFlag(flags, "length");
  const tail = stringFlag(flags, "tail");
  if (tail !== undefined) {
    if (offset !== undefined || length !== undefined) throw new UsageError("--tail excludes --offset and --length");
    return { suffixLength: parseCount(tail, "tail") };
  }
  if (offset === undefined && length === undefined) return undefined;
  const start = offset === undefined ? 0 : parseCount(offset, "offset");
  if (length === undefined) return { offset: start };
  const count = parseCount(length, "length");
  // The contract's length 0 means "to the end"; an empty range is just nothing to print.
  if (count === 0) throw new UsageError("--length must be at least 1");
  return { offset: start, length: count };
}
