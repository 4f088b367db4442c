// uploadParts must not keep parts it has finished with: a write holds at most
// the parts in flight plus the one being read, whatever the object's size.
// Each part is watched through a WeakRef; while reading part 8 (parts 1-4
// long uploaded), a full GC must have collected parts 1-4. Before the fix in
// s3/multipart.ts a Promise.race against one upload-long promise kept every
// part reachable until the upload ended.
import { setImmediate as tick } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { expect, it } from "vitest";
import { uploadParts } from "../../server/stores/s3/multipart.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

it("lets parts that are uploaded be collected before the upload ends", async () => {
  const refs: Array<WeakRef<Buffer>> = [];
  let live: number[] = [];
  let produced = 0;
  const parts = await uploadParts<Buffer>({
    next: async () => {
      if (produced === 8) {
        // WeakRefs touched in this job keep their targets until it ends.
        await tick();
        gc();
        live = refs.flatMap((r, i) => (r.deref() === undefined ? [] : [i + 1]));
        return undefined;
      }
      const part = Buffer.alloc(1024 * 1024, ++produced);
      refs.push(new WeakRef(part));
      return part;
    },
    upload: async (part, partNumber) => {
      await tick();
      return { PartNumber: partNumber, ETag: String(part[0]) };
    },
    concurrency: 2,
    maxParts: 10_000,
    tooManyParts: () => new Error("too many parts"),
    signal: new AbortController().signal,
  });
  expect(parts.map((p) => p.ETag)).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"]);
  // At most the 2 in flight (7 and 8) may still be held.
  expect(live.filter((n) => n <= 6)).toEqual([]);
});
