// The message streams of a grpc-js call as the call pipeline sees them: the
// request messages of a client stream as an async iterable, and a server
// stream's responses written with the client's flow control.
import type * as grpc from "@grpc/grpc-js";
import { nextOrAbort } from "../next-or-abort.js";

/** Yields parsed messages from a grpc-js request stream; throws when the call is aborted. */
export async function* readRequests<T>(call: AsyncIterable<Buffer>, parse: (bytes: Buffer) => T, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = call[Symbol.asyncIterator]();
  for (;;) {
    const next = await nextOrAbort(iterator, signal);
    if (next.done) return;
    yield parse(next.value);
  }
}

/** Writes one message and resolves once grpc-js has passed it to the HTTP/2 stream; rejects when the call is aborted first. */
function writeMessage(call: grpc.ServerWritableStream<Buffer, unknown>, message: unknown, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    call.write(message, () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}

/**
 * Writes a server stream's messages, respecting the client's flow control
 * and holding at most one message per stream: each waits until grpc-js has
 * handed the last one to HTTP/2 (its own queue would take 16, i.e. 16 MiB of
 * ReadRaw chunks per slow reader, outside the in-flight byte budget).
 */
export async function writeAll(
  call: grpc.ServerWritableStream<Buffer, unknown>,
  responses: AsyncIterable<unknown>,
  signal: AbortSignal,
): Promise<void> {
  for await (const response of responses) await writeMessage(call, response, signal);
}
