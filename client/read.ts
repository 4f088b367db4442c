// Reading an object: the ReadRaw stream's header is awaited before the
// caller gets a handle, so NOT_FOUND, OUT_OF_RANGE, a failed precondition or
// the download limit reject the promise before any data. The chunk stream
// then ends in an error, never silently short: the bytes are counted against
// the header's length.
import { Readable } from "node:stream";
import { Code, type Client } from "@connectrpc/connect";
import type { ObjectInfo } from "../gen/stowd/v1/object_pb.js";
import type { RawStoreService, ReadRawHeader, ReadRawResponse } from "../gen/stowd/v1/raw_store_pb.js";
import { type ByteCount, type CallOptions, linkedController, toInt64, withTimeout } from "./call-options.js";
import { clientError, toStowdError } from "./client-error.js";

/** Which bytes to read: `{ offset, length? }` (length omitted = to the end) or `{ suffixLength }`. */
export type ReadRange =
  { offset: ByteCount; length?: ByteCount; suffixLength?: never } | { suffixLength: ByteCount; offset?: never; length?: never };

export interface ReadOptions extends CallOptions {
  /** The bytes to read; the whole object when omitted. */
  range?: ReadRange;
  /** Fail with FAILED_PRECONDITION unless the object's etag is this. */
  ifMatchEtag?: string;
  /** When the object's etag is this, answer `notModified` with no data. */
  ifNoneMatchEtag?: string;
}

/** An open read whose header has arrived. */
export interface ReadHandle {
  /** The whole object's info (not just the range's). */
  readonly info: ObjectInfo;
  /** Offset of the first byte `chunks` yields. */
  readonly offset: number;
  /** Exactly how many bytes `chunks` yields before it ends. */
  readonly length: number;
  /** True when `ifNoneMatchEtag` matched; `chunks` is then empty. */
  readonly notModified: boolean;
  /**
   * The data, in order; iterate once. Fails with a StowdClientError on any
   * error, including a stream that ended short. Breaking out of the loop
   * cancels the call.
   */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Cancels the call; needed only when `chunks` will not be iterated to the end. */
  cancel(): void;
}

type RawClient = Client<typeof RawStoreService>;

export async function openRead(
  client: RawClient,
  reference: string,
  options: ReadOptions,
  timeoutMs: number | undefined,
): Promise<ReadHandle> {
  const request = {
    reference,
    range: toByteRange(options.range, reference),
    ifMatchEtag: options.ifMatchEtag ?? "",
    ifNoneMatchEtag: options.ifNoneMatchEtag ?? "",
  };
  // Our own controller: connect's stream iterator has no return(), so
  // abandoning it would leave the call open until its deadline.
  const { controller, unlink } = linkedController(options.signal);
  const cancel = () => {
    controller.abort();
    unlink();
  };
  const stream = client.readRaw(request, withTimeout({ signal: controller.signal }, timeoutMs));
  const responses = stream[Symbol.asyncIterator]();
  let header: ReadRawHeader;
  let info: ObjectInfo;
  try {
    const first = await responses.next();
    if (first.done === true || first.value.body.case !== "header") {
      throw clientError(Code.Internal, "protocol error: ReadRaw did not start with a header", reference);
    }
    header = first.value.body.value;
    if (header.info === undefined) {
      throw clientError(Code.Internal, "protocol error: ReadRaw header without object info", reference);
    }
    info = header.info;
  } catch (e) {
    cancel();
    throw toStowdError(e, reference);
  }
  const length = Number(header.length);
  return {
    info,
    offset: Number(header.offset),
    length,
    notModified: header.notModified,
    chunks: verifiedChunks(responses, length, reference, cancel),
    cancel,
  };
}

async function* verifiedChunks(
  responses: AsyncIterator<ReadRawResponse>,
  length: number,
  reference: string,
  cancel: () => void,
): AsyncGenerator<Uint8Array, void, undefined> {
  let received = 0;
  try {
    for (;;) {
      // Reaching `done` means the status was OK, so a full count is final.
      const next = await responses.next();
      if (next.done === true) {
        break;
      }
      if (next.value.body.case !== "chunk") {
        throw clientError(Code.Internal, "protocol error: ReadRaw sent a second header", reference);
      }
      const chunk = next.value.body.value;
      received += chunk.byteLength;
      if (received > length) {
        throw clientError(Code.DataLoss, `ReadRaw sent more than the ${length} bytes announced`, reference);
      }
      if (chunk.byteLength > 0) {
        yield chunk;
      }
    }
    if (received !== length) {
      throw clientError(Code.DataLoss, `ReadRaw ended after ${received} of the ${length} bytes announced`, reference);
    }
  } catch (e) {
    throw toStowdError(e, reference);
  } finally {
    // Also runs when the consumer breaks out early: cancel the call then.
    // After a complete stream it only detaches the caller's signal.
    cancel();
  }
}

/** Reads a handle's chunks into one buffer of exactly `length` bytes. */
export async function collect(handle: ReadHandle): Promise<Uint8Array> {
  const bytes = new Uint8Array(handle.length);
  let position = 0;
  for await (const chunk of handle.chunks) {
    bytes.set(chunk, position);
    position += chunk.byteLength;
  }
  return bytes;
}

/**
 * A Readable over a read that opens lazily (on the first `read()`). Errors,
 * including the header's, are emitted as stream errors; destroying the
 * stream cancels the call.
 */
export function readableOf(open: (signal: AbortSignal) => Promise<ReadHandle>, signal: AbortSignal | undefined): Readable {
  const { controller, unlink } = linkedController(signal);
  let chunks: AsyncIterator<Uint8Array> | undefined;
  const pull = async (stream: Readable) => {
    try {
      chunks ??= (await open(controller.signal)).chunks[Symbol.asyncIterator]();
      const next = await chunks.next();
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
      controller.abort();
      unlink();
      callback(error);
    },
  });
}

function toByteRange(range: ReadRange | undefined, reference: string) {
  if (range === undefined) {
    return undefined;
  }
  if (range.suffixLength !== undefined) {
    return { suffixLength: toInt64(range.suffixLength, "range.suffixLength", reference) };
  }
  return {
    offset: toInt64(range.offset, "range.offset", reference),
    length: toInt64(range.length ?? 0, "range.length", reference),
  };
}
