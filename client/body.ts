// What a write or append can send, cut into stream messages, with its
// CRC32C. Buffers are sliced (no copy) into 1 MiB chunks: well under the
// 4 MiB default message limit of gRPC servers, and large enough that
// per-message cost vanishes. No Node module is imported: browsers use this too.
import type { Crc32cFactory } from "./crc32c.js";

/**
 * Bytes to upload: a buffer, a string (sent as UTF-8), a Blob (or File), a
 * web ReadableStream, or any async iterable of byte (or string) chunks, which
 * includes a Node Readable.
 */
export type WriteBody = Uint8Array | string | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>;

export const CHUNK_BYTES = 1024 * 1024;

export interface PreparedBody {
  /** The exact size when known up front (buffers, strings, Blobs); undefined for streams. */
  size: number | undefined;
  /** CRC32C of the whole body when known before sending (buffers and strings); undefined otherwise. */
  crc32c: number | undefined;
  chunks: AsyncIterable<Uint8Array>;
  /**
   * For a body whose checksum was computed while it streamed: its CRC32C,
   * once `chunks` has ended. Undefined for a body with `crc32c`, or without
   * checksums.
   */
  streamedCrc32c: () => number | undefined;
  /**
   * What the body's source threw, if it did. connect turns it into a generic
   * cancellation, so the caller reports this instead: a failing file stream
   * or a failed `readStream` of another object keeps its own error.
   */
  failure: () => { error: unknown } | undefined;
}

export interface BodyChecksum {
  crc32c: Crc32cFactory;
  /** Compute the checksum of a streamed body as it passes (false where the protocol has no trailer to send it in). */
  streamed: boolean;
}

/** Prepares `body` for sending; with `checksum`, computes its CRC32C (up front for buffers, else as it streams). */
export async function prepareBody(body: WriteBody, checksum: BodyChecksum | undefined): Promise<PreparedBody> {
  if (typeof body === "string") {
    body = new TextEncoder().encode(body);
  }
  if (body instanceof Uint8Array) {
    const bytes = body;
    let crc32c: number | undefined;
    if (checksum !== undefined) {
      const running = await checksum.crc32c();
      running.update(bytes);
      crc32c = running.digest();
    }
    return { size: bytes.byteLength, crc32c, chunks: slices(bytes), streamedCrc32c: () => undefined, failure: () => undefined };
  }
  const running = checksum?.streamed === true ? await checksum.crc32c() : undefined;
  const blob = typeof Blob !== "undefined" && body instanceof Blob ? body : undefined;
  const source: AsyncIterable<unknown> =
    blob !== undefined ? readerChunks(blob.stream()) : isWebStream(body) ? readerChunks(body) : (body as AsyncIterable<unknown>);
  let failed: { error: unknown } | undefined;
  let ended = false;
  return {
    size: blob?.size,
    crc32c: undefined,
    chunks: (async function* () {
      try {
        for await (const chunk of source) {
          const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
          if (!(bytes instanceof Uint8Array)) {
            throw new TypeError(`write body yielded a ${typeof chunk}, expected bytes or a string`);
          }
          running?.update(bytes);
          yield* slices(bytes);
        }
        ended = true;
      } catch (error) {
        failed = { error };
        throw error;
      }
    })(),
    streamedCrc32c: () => (ended ? running?.digest() : undefined),
    failure: () => failed,
  };
}

function isWebStream(body: object): body is ReadableStream<unknown> {
  return typeof (body as { getReader?: unknown }).getReader === "function";
}

/** A web stream's chunks; not every browser makes ReadableStream async-iterable. Cancels it when abandoned. */
async function* readerChunks(stream: ReadableStream<unknown>): AsyncGenerator<unknown> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) {
      await reader.cancel().catch(() => {});
    }
    reader.releaseLock();
  }
}

async function* slices(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let start = 0; start < bytes.byteLength; start += CHUNK_BYTES) {
    yield bytes.subarray(start, start + CHUNK_BYTES);
  }
}
