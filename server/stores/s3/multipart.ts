// The streaming half of S3 multipart uploads: cutting a body into parts, and
// running part uploads in bounded parallel. Every part is awaited before
// uploadParts returns or throws, so when the caller then aborts the upload no
// part is still on its way to the server. (upload.ts creates, completes and
// aborts the upload itself.)
import { createHash } from "node:crypto";
import { createChunkHolder } from "../kit/held-chunks.js";
import type { PartBody } from "./part-body.js";

/** One part cut from a body; `last` = the body ended with it. */
export interface BodyPart extends PartBody {
  last: boolean;
}

export interface PartReader {
  /** The next part: exactly `partSize` bytes unless it is the last one (which may be empty only if the body was). */
  next(): Promise<BodyPart>;
  /** Releases the body without waiting (it may be stalled in a read). */
  close(): void;
}

/**
 * Cuts `source` into parts of `partSize` bytes. A part is `last` when the
 * body ends with it, found by reading one chunk ahead, so a body of exactly
 * `partSize` bytes is one last part (one PutObject, not a multipart upload).
 * Parts hold the body's chunks, not copies (see kit/held-chunks.ts).
 */
export function createPartReader(source: AsyncIterable<Uint8Array>, partSize: number): PartReader {
  const it = source[Symbol.asyncIterator]();
  let carry: Uint8Array | undefined;
  let ended = false;

  async function pull(): Promise<Uint8Array | undefined> {
    if (carry !== undefined) {
      const chunk = carry;
      carry = undefined;
      return chunk;
    }
    while (!ended) {
      const next = await it.next();
      if (next.done) {
        ended = true;
        break;
      }
      if (next.value.length > 0) return next.value;
    }
    return undefined;
  }

  return {
    async next() {
      const held = createChunkHolder();
      const hash = createHash("sha256");
      while (held.size < partSize) {
        const chunk = await pull();
        if (chunk === undefined) break;
        const take = Math.min(chunk.length, partSize - held.size);
        const part = take === chunk.length ? chunk : chunk.subarray(0, take);
        hash.update(part);
        held.add(part);
        if (take < chunk.length) carry = chunk.subarray(take);
      }
      let last = held.size < partSize;
      if (!last) {
        const peek = await pull();
        if (peek === undefined) last = true;
        else carry = peek;
      }
      return { ...held.take(), sha256: hash.digest("hex"), last };
    },
    close() {
      ended = true;
      carry = undefined;
      void it.return?.()?.catch(() => {});
    },
  };
}

/** A part the server has stored, as CompleteMultipartUpload wants it. */
export interface UploadedPart {
  PartNumber: number;
  ETag: string;
}

export interface UploadPartsOptions<P> {
  /** The next part to upload, or undefined when there are no more. */
  next: () => Promise<P | undefined>;
  /** Uploads one part; `signal` fires when the caller aborts or another part failed. */
  upload: (part: P, partNumber: number, signal: AbortSignal) => Promise<UploadedPart>;
  /** Parts in flight at most (memory: that many parts plus the one being read). */
  concurrency: number;
  /** S3 allows part numbers 1..10000. */
  maxParts: number;
  /** Thrown when `next` yields more than `maxParts` parts. */
  tooManyParts: () => Error;
  signal: AbortSignal;
}

/**
 * Uploads every part `next` produces, at most `concurrency` at a time, and
 * returns them in part order. On the first failure (of a part, of `next`, or
 * the signal) it stops reading, cancels the parts in flight, waits for all
 * of them to settle, and throws that first failure.
 */
export async function uploadParts<P>(options: UploadPartsOptions<P>): Promise<UploadedPart[]> {
  const cancel = new AbortController();
  const partSignal = AbortSignal.any([options.signal, cancel.signal]);
  const inFlight = new Set<Promise<void>>();
  const uploaded: UploadedPart[] = [];
  let failure: { err: unknown } | undefined;
  const fail = (err: unknown) => {
    if (failure === undefined) failure = { err };
    cancel.abort();
  };
  // `p`, or undefined as soon as a part fails. Not Promise.race(p, failed) with
  // one promise that lives as long as the upload: each race leaves a reaction
  // on it that keeps the race's result alive, so every part read (8 MiB
  // each) stayed in memory until the whole upload ended. The listener here
  // goes away when `p` settles.
  const untilFailure = <T>(p: Promise<T>): Promise<T | undefined> =>
    new Promise<T | undefined>((resolve, reject) => {
      const onAbort = () => resolve(undefined);
      if (cancel.signal.aborted) onAbort();
      cancel.signal.addEventListener("abort", onAbort, { once: true });
      p.then(resolve, reject).finally(() => cancel.signal.removeEventListener("abort", onAbort));
    });

  try {
    for (let partNumber = 1; failure === undefined; partNumber++) {
      while (inFlight.size >= Math.max(1, options.concurrency) && failure === undefined) await untilFailure(Promise.race(inFlight));
      if (failure !== undefined) break;
      // A failing part must not wait for a slow client to send its next chunk.
      const reading = options.next();
      reading.catch(() => {}); // when a part fails first, this read's outcome no longer matters
      const part = await untilFailure(reading);
      if (part === undefined || failure !== undefined) break;
      if (partNumber > options.maxParts) throw options.tooManyParts();
      const task: Promise<void> = options.upload(part, partNumber, partSignal).then(
        (done) => void uploaded.push(done),
        (err: unknown) => fail(err),
      );
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
    }
  } catch (err) {
    fail(err);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure.err;
  return uploaded.sort((a, b) => a.PartNumber - b.PartNumber);
}
