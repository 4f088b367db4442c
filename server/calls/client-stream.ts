// Client-streaming RPCs (WriteRaw, Append) send one header message and then
// data chunks. The call pipeline splits such a stream once, where it enters
// (call-pipeline.ts): authorization checks the header it read, and the
// service gets the header and a lazy chunk iterable. Streams that break the
// framing are rejected here.
import { StowdError } from "../../common/errors.js";

/** A message of a `oneof body { Header header = 1; bytes chunk = 2; }` stream. */
export interface FramedMessage<H> {
  body: { case: "header"; value: H } | { case: "chunk"; value: Uint8Array } | { case: undefined; value?: undefined };
}

/** The header type of a framed request message. */
export type HeaderOf<M> = M extends { body: infer B } ? (B extends { case: "header"; value: infer H } ? H : never) : never;

/** A client stream as the service sees it: its header, then its chunks. */
export interface ClientStream<H> {
  header: H;
  /** The chunks after the header (empty ones dropped). Iterate it once, to the end or until it throws. */
  chunks: AsyncIterable<Uint8Array>;
}

/** A split stream, with what its reader must call when the call ends. */
export interface SplitClientStream<H> extends ClientStream<H> {
  /** Stops reading the request stream when `chunks` will not be consumed (a no-op once they are). */
  release(): Promise<void>;
}

/** Reads the header (the first message) of `requests`; INVALID_ARGUMENT naming `rpc` when the first message is not one. */
export async function splitClientStream<H>(requests: AsyncIterable<FramedMessage<H>>, rpc: string): Promise<SplitClientStream<H>> {
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
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      const body = next.value.body;
      if (body.case === "chunk") {
        if (body.value.length > 0) yield body.value;
      } else {
        throw new StowdError("INVALID_ARGUMENT", `a ${rpc} stream carries exactly one header, first; later messages must be body.chunk`, {
          field: "chunk",
        });
      }
    }
  }
  return {
    header: first.value.body.value,
    chunks: chunks(),
    release: async () => {
      await iterator.return?.();
    },
  };
}
