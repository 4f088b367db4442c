// Client-streaming RPCs (WriteRaw, Append) send one header message, then
// data chunks, and (WriteRaw only) at most one trailer with facts known once
// the body was sent (its checksum). The call pipeline splits such a stream
// once, where it enters (call-pipeline.ts): authorization checks the header
// it read, and the service gets the header, a lazy chunk iterable and the
// trailer once the chunks ended. Streams that break the framing are rejected
// here.
import { StowdError } from "../../common/errors.js";

/** A message of a `oneof body { Header header = 1; bytes chunk = 2; [Trailer trailer = 3;] }` stream. */
export interface FramedMessage<H, T = never> {
  body:
    | { case: "header"; value: H }
    | { case: "chunk"; value: Uint8Array }
    | { case: "trailer"; value: T }
    | { case: undefined; value?: undefined };
}

/** The header type of a framed request message. */
export type HeaderOf<M> = M extends { body: infer B } ? (B extends { case: "header"; value: infer H } ? H : never) : never;

/** The trailer type of a framed request message; `never` for a stream that has none (Append). */
export type TrailerOf<M> = M extends { body: infer B } ? (B extends { case: "trailer"; value: infer T } ? T : never) : never;

/** A client stream as the service sees it: its header, then its chunks, then its trailer. */
export interface ClientStream<H, T = never> {
  header: H;
  /** The chunks after the header (empty ones dropped). Iterate it once, to the end or until it throws. */
  chunks: AsyncIterable<Uint8Array>;
  /** The trailer the client sent after the last chunk; undefined when it sent none. Read it once `chunks` ended. */
  trailer(): T | undefined;
}

/** A split stream, with what its reader must call when the call ends. */
export interface SplitClientStream<H, T = never> extends ClientStream<H, T> {
  /** Stops reading the request stream when `chunks` will not be consumed (a no-op once they are). */
  release(): Promise<void>;
}

/** Reads the header (the first message) of `requests`; INVALID_ARGUMENT naming `rpc` when the first message is not one. */
export async function splitClientStream<H, T = never>(
  requests: AsyncIterable<FramedMessage<H, T>>,
  rpc: string,
): Promise<SplitClientStream<H, T>> {
  const iterator = requests[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done === true || first.value.body.case !== "header") {
    await iterator.return?.();
    throw new StowdError(
      "INVALID_ARGUMENT",
      `the first ${rpc} message must carry the header (body.header), then send data as body.chunk messages`,
      {
        field: "header",
      },
    );
  }
  let trailer: T | undefined;
  let ended = false;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) {
        ended = true;
        return;
      }
      const body = next.value.body;
      if (body.case === "chunk") {
        if (body.value.length > 0) yield body.value;
      } else if (body.case === "trailer") {
        const afterTrailer = await iterator.next();
        if (afterTrailer.done !== true) {
          throw new StowdError("INVALID_ARGUMENT", `the ${rpc} trailer (body.trailer) must be the last message; a message followed it`, {
            field: "trailer",
          });
        }
        trailer = body.value;
        ended = true;
        return;
      } else {
        throw new StowdError(
          "INVALID_ARGUMENT",
          `a ${rpc} stream carries exactly one header, first, then body.chunk messages${body.case === "header" ? "" : " (a body.trailer exists only in WriteRaw, as its last message)"}; a later message was ${body.case === "header" ? "a second header" : "neither"}`,
          {
            field: "chunk",
          },
        );
      }
    }
  }
  return {
    header: first.value.body.value,
    chunks: chunks(),
    trailer: () => {
      if (!ended) throw new Error(`the ${rpc} trailer was read before the stream's chunks ended`);
      return trailer;
    },
    release: async () => {
      await iterator.return?.();
    },
  };
}
