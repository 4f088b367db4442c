// Reads as Node Readables: the only place the SDK's read path touches a Node
// module, so browsers never load it.
import { Readable } from "node:stream";
import { type ReadHandle, lazyRead } from "./read.js";

/**
 * A Readable over a read that opens lazily (on the first `read()`). Errors,
 * including the header's, are emitted as stream errors; destroying the
 * stream cancels the call.
 */
export function readableOf(open: (signal: AbortSignal) => Promise<ReadHandle>, signal: AbortSignal | undefined): Readable {
  const read = lazyRead(open, signal);
  const pull = async (stream: Readable) => {
    try {
      const next = await read.next();
      stream.push(next.done === true ? null : next.value);
    } catch (e) {
      stream.destroy(e as Error);
    }
  };
  return new Readable({
    // Readable ignores what read() returns; pull reports its failures by destroying the stream.
    read() {
      void pull(this);
    },
    destroy(error, callback) {
      read.cancel();
      callback(error);
    },
  });
}
