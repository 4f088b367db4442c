// The proof that a client-streaming request ended because the client
// finished it (server/calls/request-end.ts), for requests served by
// node:http2, which carries both ports (grpc-js and connect-node).
//
// Two facts of Node 20's http2 make it work:
// - When an RST_STREAM (or the connection's end) arrives, onStreamClose sets
//   the stream's `closed` / `aborted` flags and only then ends its readable
//   side. So a stream whose messages ended because of a reset shows it at
//   once; grpc-js's 'cancelled' and connect-node's signal come later.
// - A Node client that cancels sends END_STREAM and then RST_STREAM
//   (closeStream ends the writable side first). The daemon then sees a real
//   half-close, and the reset may arrive in a later read. Frames on a
//   connection arrive in order, so the daemon sends a frame the client must
//   acknowledge, and rechecks the flags when the acknowledgement arrives: a
//   reset sent along with the END_STREAM has arrived by then. It is a
//   SETTINGS frame with no settings, not a PING, because a session that is
//   closing (graceful shutdown) refuses pings and uploads must still finish
//   within the grace period. Two round trips, one after the other: nghttp2
//   sends acknowledgements ahead of queued RST_STREAMs, and Node queues a
//   reset behind a socket write in progress, so one acknowledgement can
//   overtake the reset; the second is sent only after the first arrived,
//   when the reset is already on the wire.
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { StowdError } from "../../common/errors.js";
import { resetError, type RequestEndProof } from "../calls/request-end.js";

/** Sequential acknowledged frames before a body of unknown length may commit. */
const ROUND_TRIPS = 2;

/** What the proof reads of a node:http2 stream. */
export type RequestStream = Pick<http2.Http2Stream, "aborted" | "closed" | "destroyed" | "session">;

export function createHttp2RequestEnd(stream: RequestStream): RequestEndProof {
  return {
    async confirm({ roundTrip, reference, signal }) {
      if (wasReset(stream)) throw resetError(reference);
      if (!roundTrip) return;
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const session = stream.session;
        if (session === undefined) throw resetError(reference);
        await untilAborted(acknowledgedFrame(session), signal);
        if (wasReset(stream)) throw resetError(reference);
      }
    },
  };
}

/** For a request on the HTTP port: HTTP/2 by its stream; HTTP/1.1 by whether the parser read the whole body (a cancelled chunked upload lacks its last chunk). */
export function createNodeRequestEnd(req: http.IncomingMessage | http2.Http2ServerRequest): RequestEndProof {
  if ("stream" in req) return createHttp2RequestEnd(req.stream);
  return {
    confirm({ reference }) {
      return req.complete ? Promise.resolve() : Promise.reject(resetError(reference));
    },
  };
}

/** A proof for a transport that could not reach the HTTP/2 stream: it refuses bodies of unknown length rather than guess. */
export function unprovableRequestEnd(why: string): RequestEndProof {
  return {
    confirm({ roundTrip, reference }) {
      if (!roundTrip) return Promise.resolve();
      return Promise.reject(
        new StowdError(
          "INTERNAL",
          `cannot prove that the client finished the upload to ${reference} (${why}); nothing was stored. Send header.size, or report this stowd bug`,
          { reference },
        ),
      );
    },
  };
}

function wasReset(stream: RequestStream): boolean {
  return stream.aborted || stream.closed || stream.destroyed;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** Per session: whether our SETTINGS frame is in flight, and who waits for the next one. */
interface Barrier {
  inFlight: boolean;
  waiting: Waiter[];
}

const barriers = new WeakMap<http2.Http2Session, Barrier>();

/**
 * Resolves when the client acknowledged a SETTINGS frame sent after this
 * call. Calls on one session share frames, and a caller never joins a frame
 * already in flight (it may have left before this stream's END_STREAM
 * arrived): at most one of ours is unacknowledged per session, far below
 * Node's limit (maxOutstandingSettings, 10), past which it destroys the session.
 */
function acknowledgedFrame(session: http2.Http2Session): Promise<void> {
  let barrier = barriers.get(session);
  if (barrier === undefined) {
    barrier = { inFlight: false, waiting: [] };
    barriers.set(session, barrier);
  }
  const b = barrier;
  return new Promise<void>((resolve, reject) => {
    b.waiting.push({ resolve, reject });
    if (!b.inFlight) sendFrame(session, b);
  });
}

function sendFrame(session: http2.Http2Session, barrier: Barrier): void {
  const batch = barrier.waiting;
  barrier.waiting = [];
  barrier.inFlight = true;
  const done = (err: Error | null) => {
    barrier.inFlight = false;
    for (const waiter of batch) {
      if (err === null) waiter.resolve();
      else waiter.reject(err);
    }
    if (barrier.waiting.length > 0) sendFrame(session, barrier);
  };
  try {
    session.settings({}, (err) => done(err));
  } catch (err) {
    done(err as Error);
  }
}

function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}
