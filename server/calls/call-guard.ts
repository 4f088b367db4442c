// The call guard's work on a stream's messages, as the call pipeline
// (call-pipeline.ts) applies it to each admitted call (call-limits.ts): the
// data chunks are charged to the in-flight byte budget (stream-budget.ts),
// each stream to its own share (writers wait instead of buffering, readers
// send smaller messages when it is contended), every message moving either
// way restarts the idle-stream timer, and the payload bytes are counted for
// the call log (call-log.ts).
import type { HandlerContext } from "@connectrpc/connect";
import { nextOrAbort } from "../next-or-abort.js";
import type { AdmittedCall } from "./call-limits.js";
import type { CallRecord } from "./call-log.js";
import { payloadBytes, splitChunkMessage } from "./message-payload.js";
import type { StreamShare } from "./stream-budget.js";

/**
 * A server stream's messages as the transport gets them. The next message is
 * pulled once the last one is sent, so a stream holds at most one (a ReadRaw
 * chunk: up to 1 MiB of its store's read). It goes out in pieces of what the
 * stream may take from the budget now: the whole message when the budget is
 * free, its share or reserve when it is contended (stream-budget.ts). A read
 * never waits for the budget: a header or a small chunk always fits the
 * reserve, and many readers each move in smaller pieces instead of taking
 * turns.
 */
export async function* guardResponses(
  responses: AsyncIterable<unknown>,
  call: AdmittedCall,
  record: CallRecord,
  share: StreamShare,
): AsyncGenerator<unknown> {
  const it = responses[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await it.next();
      if (next.done === true) return;
      let rest: unknown = next.value;
      while (rest !== undefined) {
        const size = payloadBytes(rest);
        // At least 1 byte: the stream holds nothing here, and a stream
        // holding nothing always gets its reserve.
        const held = size === 0 ? 0 : share.takeUpTo(size);
        const [piece, later] = splitChunkMessage(rest, held);
        rest = later;
        record.bytesOut += payloadBytes(piece);
        call.touch();
        try {
          yield piece;
        } finally {
          share.release(held);
        }
        call.touch();
      }
    }
  } finally {
    await it.return?.();
  }
}

/**
 * A client stream's messages as the service reads them: each message's data
 * bytes are charged to the stream's share of the budget from arrival until
 * the service asks for the next one; waiting for the budget (a message larger
 * than the stream's reserve while the pool is used up) stops reading, which
 * backpressures the client. It stops at once when the call is aborted, even
 * if the transport's stream would wait for a client that sends nothing.
 */
export async function* guardRequests(
  requests: AsyncIterable<unknown>,
  ctx: HandlerContext,
  call: AdmittedCall,
  record: CallRecord,
  share: StreamShare,
): AsyncGenerator<unknown> {
  const it = requests[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      const next = await nextOrAbort(it, ctx.signal);
      if (next.done === true) {
        ended = true;
        call.requestsEnded();
        return;
      }
      call.touch();
      const size = payloadBytes(next.value);
      record.bytesIn += size;
      const held = await takeBudget(share, size, ctx.signal, call);
      try {
        yield next.value;
      } finally {
        share.release(held);
      }
    }
  } finally {
    // Not awaited: after an abort the transport's iterator may still be
    // waiting for a message that never comes.
    if (!ended) void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

/** Takes `bytes` for a message that has arrived, marking the call as waiting for the budget meanwhile (its idle timeout then says so). */
async function takeBudget(share: StreamShare, bytes: number, signal: AbortSignal, call: AdmittedCall): Promise<number> {
  call.setWaitingForBudget(true);
  try {
    return await share.take(bytes, signal);
  } finally {
    call.setWaitingForBudget(false);
  }
}
