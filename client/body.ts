// What a write or append can send, cut into stream messages. Buffers are
// sliced (no copy) into 1 MiB chunks: well under the 4 MiB default message
// limit of gRPC servers, and large enough that per-message cost vanishes.
import type { Readable } from "node:stream";

/**
 * Bytes to upload: a buffer, a string (sent as UTF-8), a Node Readable, or any
 * async iterable of byte (or string) chunks.
 */
export type WriteBody = Uint8Array | string | Readable | AsyncIterable<Uint8Array | string>;

export const CHUNK_BYTES = 1024 * 1024;

export interface PreparedBody {
  /** The exact size when the body is a buffer or string; undefined for streams. */
  size: number | undefined;
  chunks: AsyncIterable<Uint8Array>;
  /**
   * What the body's source threw, if it did. connect turns it into a generic
   * cancellation, so the caller reports this instead: a failing file stream
   * or a failed `readStream` of another object keeps its own error.
   */
  failure: () => { error: unknown } | undefined;
}

export function prepareBody(body: WriteBody): PreparedBody {
  if (typeof body === "string") {
    body = new TextEncoder().encode(body);
  }
  if (body instanceof Uint8Array) {
    const bytes = body;
    return {
      size: bytes.byteLength,
      chunks: (async function* () {
        yield* slices(bytes);
      })(),
      failure: () => undefined,
    };
  }
  const source = body;
  let failed: { error: unknown } | undefined;
  return {
    size: undefined,
    chunks: (async function* () {
      try {
        for await (const chunk of source as AsyncIterable<unknown>) {
          if (typeof chunk === "string") {
            yield* slices(new TextEncoder().encode(chunk));
          } else if (chunk instanceof Uint8Array) {
            yield* slices(chunk);
          } else {
            throw new TypeError(`write body yielded a ${typeof chunk}, expected bytes or a string`);
          }
        }
      } catch (error) {
        failed = { error };
        throw error;
      }
    })(),
    failure: () => failed,
  };
}

function* slices(bytes: Uint8Array): Generator<Uint8Array> {
  for (let start = 0; start < bytes.byteLength; start += CHUNK_BYTES) {
    yield bytes.subarray(start, start + CHUNK_BYTES);
  }
}
