// Reading an object: the ReadRaw stream's header is awaited before the
// caller gets a handle, so NOT_FOUND, OUT_OF_RANGE, a failed precondition or
// the download limit reject the promise before any data. The chunk stream
// then ends in an error, never silently short: the bytes are counted against
// the header's length. A stream that breaks with a retryable error resumes
// from the last byte received, pinned to the first header's etag so two
// versions are never spliced; a whole-object read is checked against the
// object's CRC32C. No Node module is imported: browsers use this too.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, type Client } from "@connectrpc/connect";
import { ErrorReason } from "../gen/stowd/v1/error_pb.js";
import type { RawStoreService, ReadRawHeader, ReadRawRequestSchema, ReadRawResponse } from "../gen/stowd/v1/raw_store_pb.js";
import { type ByteCount, type CallOptions, linkedController, toInt64, withTimeout } from "./call-options.js";
import { type StowdClientError, clientError, toStowdError } from "./client-error.js";
import { type Crc32c, type Crc32cFactory, formatCrc32c } from "./crc32c.js";
import { type ObjectInfo, toObjectInfo } from "./object-info.js";
import { type AttemptOptions, type Retrier, type RetrySettings, createRetrier, retrying } from "./retry.js";

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
  /**
   * Verify a read of the whole object against its stored CRC32C (DATA_LOSS,
   * reason CHECKSUM_MISMATCH, at the end of the data). Default: the client's
   * `checksum` setting, on unless turned off. Ranges are never verified.
   */
  checksum?: boolean;
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
   * error, including a stream that ended short or bytes that fail the
   * checksum. Breaking out of the loop cancels the call.
   */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Cancels the call; needed only when `chunks` will not be iterated to the end. */
  cancel(): void;
}

/** What a read needs from the client it belongs to. */
export interface ReadContext {
  client: Client<typeof RawStoreService>;
  retry: RetrySettings;
  crc32c: Crc32cFactory;
  /** Whether whole-object reads are verified when the call does not say. */
  checksum: boolean;
  /** The client's default deadline. */
  timeoutMs: number | undefined;
}

type Request = MessageInitShape<typeof ReadRawRequestSchema>;

/** One ReadRaw call whose header has arrived. */
interface OpenStream {
  header: ReadRawHeader;
  responses: AsyncIterator<ReadRawResponse>;
}

export async function openRead(context: ReadContext, reference: string, options: ReadOptions): Promise<ReadHandle> {
  const request: Request = {
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
  // One deadline and one signal for the whole read, resumptions included.
  const retrier = createRetrier(
    context.retry,
    reference,
    withTimeout({ signal: controller.signal }, options.timeoutMs ?? context.timeoutMs),
  );
  try {
    const { header, responses } = await retrying(retrier, reference, (attempt) => openStream(context, request, attempt, reference));
    if (header.info === undefined) {
      throw clientError(Code.Internal, "protocol error: ReadRaw header without object info", reference);
    }
    const info = toObjectInfo(header.info);
    const offset = Number(header.offset);
    const length = Number(header.length);
    const wholeObject = !header.notModified && offset === 0 && length === info.size;
    const verify = (options.checksum ?? context.checksum) && wholeObject && info.crc32c !== undefined;
    const read: ReadState = { context, reference, info, offset, length, retrier, cancel };
    return {
      info,
      offset,
      length,
      notModified: header.notModified,
      chunks: resumingChunks(read, responses, verify ? await context.crc32c() : undefined),
      cancel,
    };
  } catch (e) {
    cancel();
    throw toStowdError(e, reference);
  }
}

interface ReadState {
  context: ReadContext;
  reference: string;
  info: ObjectInfo;
  offset: number;
  length: number;
  retrier: Retrier;
  cancel: () => void;
}

async function openStream(context: ReadContext, request: Request, attempt: AttemptOptions, reference: string): Promise<OpenStream> {
  const responses = context.client.readRaw(request, attempt)[Symbol.asyncIterator]();
  const first = await responses.next();
  if (first.done === true || first.value.body.case !== "header") {
    throw clientError(Code.Internal, "protocol error: ReadRaw did not start with a header", reference);
  }
  return { header: first.value.body.value, responses };
}

async function* resumingChunks(
  read: ReadState,
  first: AsyncIterator<ReadRawResponse>,
  checksum: Crc32c | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { reference, length } = read;
  let responses = first;
  let received = 0;
  try {
    for (;;) {
      let next: IteratorResult<ReadRawResponse>;
      try {
        next = await responses.next();
      } catch (e) {
        const error = toStowdError(e, reference);
        // Every announced byte is here: a break after the last one loses nothing.
        if (received === length && read.retrier.retryable(error)) {
          break;
        }
        responses = await resume(read, received, error);
        continue;
      }
      // Reaching `done` means the status was OK, so a full count is final.
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
        read.retrier.progressed();
        checksum?.update(chunk);
        yield chunk;
      }
    }
    if (received !== length) {
      throw clientError(Code.DataLoss, `ReadRaw ended after ${received} of the ${length} bytes announced`, reference);
    }
    const expected = read.info.crc32c;
    if (checksum !== undefined && expected !== undefined && checksum.digest() !== expected) {
      throw clientError(
        Code.DataLoss,
        `the bytes read have CRC32C ${formatCrc32c(checksum.digest())}, but the object's stored CRC32C is ${formatCrc32c(expected)}: ` +
          "it was corrupted in storage or in transit",
        reference,
        ErrorReason.CHECKSUM_MISMATCH,
      );
    }
  } catch (e) {
    throw toStowdError(e, reference);
  } finally {
    // Also runs when the consumer breaks out early: cancel the call then.
    // After a complete stream it only detaches the caller's signal.
    read.cancel();
  }
}

/**
 * After the stream broke with `error` once `received` bytes had arrived:
 * opens a new ReadRaw for the rest, pinned to the first header's etag, as
 * often as the retrier allows. Without an etag there is nothing to pin a
 * resumption to, so `error` stands.
 */
async function resume(read: ReadState, received: number, error: StowdClientError): Promise<AsyncIterator<ReadRawResponse>> {
  const { reference, info } = read;
  if (info.etag === "" || !(await read.retrier.shouldRetry(error))) {
    throw error;
  }
  const offset = read.offset + received;
  const length = read.length - received;
  const request: Request = { reference, range: { offset: BigInt(offset), length: BigInt(length) }, ifMatchEtag: info.etag };
  const progress = `after ${received} of the ${read.length} bytes had arrived`;
  try {
    const { header, responses } = await retrying(read.retrier, reference, (attempt) =>
      openStream(read.context, request, attempt, reference),
    );
    if (header.info?.etag !== info.etag || Number(header.offset) !== offset || Number(header.length) !== length) {
      throw clientError(
        Code.Internal,
        `protocol error: resuming the read at byte ${offset} for ${length} bytes of etag ${info.etag} was answered with ` +
          `${header.length} bytes at ${header.offset} of etag ${header.info?.etag ?? "(none)"}`,
        reference,
      );
    }
    return responses;
  } catch (e) {
    const failure = toStowdError(e, reference);
    if (failure.code === Code.FailedPrecondition) {
      throw clientError(
        Code.FailedPrecondition,
        `the object changed during the read: the stream broke ${progress} and the object is no longer version ${info.etag}; read it again`,
        reference,
        ErrorReason.PRECONDITION_FAILED,
      );
    }
    if (failure.code === Code.NotFound) {
      throw clientError(
        Code.NotFound,
        `the object was deleted during the read: the stream broke ${progress}`,
        reference,
        ErrorReason.NOT_FOUND,
      );
    }
    throw failure;
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

/** A read's chunks pulled one at a time, the read opening on the first pull; what the stream adapters share. */
export interface LazyRead {
  next(): Promise<IteratorResult<Uint8Array>>;
  /** Cancels the call (opened or not) and detaches the caller's signal. */
  cancel(): void;
}

export function lazyRead(open: (signal: AbortSignal) => Promise<ReadHandle>, signal: AbortSignal | undefined): LazyRead {
  const { controller, unlink } = linkedController(signal);
  let chunks: AsyncIterator<Uint8Array> | undefined;
  const cancel = () => {
    controller.abort();
    unlink();
  };
  return {
    async next() {
      try {
        chunks ??= (await open(controller.signal)).chunks[Symbol.asyncIterator]();
        const next = await chunks.next();
        if (next.done === true) {
          unlink();
        }
        return next;
      } catch (e) {
        cancel();
        throw e;
      }
    },
    cancel,
  };
}

/**
 * A web ReadableStream over a read that opens lazily (on the first pull).
 * Errors, including the header's, error the stream; cancelling it cancels the call.
 */
export function readableStreamOf(
  open: (signal: AbortSignal) => Promise<ReadHandle>,
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  const read = lazyRead(open, signal);
  return new ReadableStream<Uint8Array>(
    {
      async pull(stream) {
        const next = await read.next();
        if (next.done === true) {
          stream.close();
        } else {
          stream.enqueue(next.value);
        }
      },
      cancel: () => read.cancel(),
    },
    // Pull only when the consumer asks: the HTTP/2 window is the buffer.
    { highWaterMark: 0 },
  );
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
