// A part's bytes held as the chunks the body yielded, for a backend request
// that sends one part or block of many chunks. Joining them into one Buffer
// costs a fresh allocation and a copy per part, and on a VM a fresh
// multi-MiB allocation faults in every page (measured ~4 µs/KB for 8 MiB
// parts, more than the rest of an upload); sending the chunks as a stream
// costs neither. Bodies never change a chunk after yielding it, so holding
// it is safe. Small chunks are copied together into runs, so a body of tiny
// chunks is not held as millions of views, nor a small view as its whole buffer.
import { Readable } from "node:stream";

/** Chunks at least this large are held as they are; smaller ones are copied into runs of this size. */
const RUN_BYTES = 64 * 1024;

export interface HeldBytes {
  chunks: Uint8Array[];
  /** Bytes in `chunks`. */
  size: number;
}

export interface ChunkHolder {
  /** Bytes added since the last take(). */
  readonly size: number;
  add(chunk: Uint8Array): void;
  /** What was added since the last take(), and starts over. */
  take(): HeldBytes;
}

export function createChunkHolder(): ChunkHolder {
  let chunks: Uint8Array[] = [];
  let size = 0;
  let run: Buffer | undefined;
  let runUsed = 0;
  const closeRun = () => {
    if (run !== undefined && runUsed > 0) {
      // A run cut short by a large chunk is trimmed, not kept at its full size.
      chunks.push(runUsed * 2 >= RUN_BYTES ? run.subarray(0, runUsed) : Buffer.from(run.subarray(0, runUsed)));
    }
    run = undefined;
    runUsed = 0;
  };
  return {
    get size() {
      return size;
    },
    add(chunk) {
      size += chunk.length;
      // A view of less than half its buffer would pin the rest of it.
      if (chunk.length >= RUN_BYTES && chunk.byteLength * 2 >= chunk.buffer.byteLength) {
        closeRun();
        chunks.push(chunk);
        return;
      }
      for (let at = 0; at < chunk.length;) {
        run ??= Buffer.allocUnsafeSlow(RUN_BYTES);
        const n = Math.min(chunk.length - at, RUN_BYTES - runUsed);
        run.set(chunk.subarray(at, at + n), runUsed);
        runUsed += n;
        at += n;
        if (runUsed === RUN_BYTES) closeRun();
      }
    },
    take() {
      closeRun();
      const held = { chunks, size };
      chunks = [];
      size = 0;
      return held;
    },
  };
}

/** A fresh byte stream of `chunks` (one per request attempt: a retry sends them again). */
export function streamOfChunks(chunks: readonly Uint8Array[]): Readable {
  return Readable.from(chunks, { objectMode: false });
}
