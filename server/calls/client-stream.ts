// Client-streaming RPCs (WriteRaw, Append) send one header message and then
// data chunks. This splits such a stream into the header and a lazy chunk
// iterable, rejecting streams that break the framing.
import { StowdError } from "../../common/errors.js";

/** A message of a `oneof body { Header header = 1; bytes chunk = 2; }` stream. */
export interface FramedMessage<H> {
  body: { case: "header"; value: H } | { case: "chunk"; value: Uint8Array } | { case: undefined; value?: undefined };
}

export interface SplitStream<H> {
  header: H;
  /** The chunks after the header. Iterate it once, to the end or until it throws. */
  chunks: AsyncIterable<Uint8Array>;
  /** Stops reading the request stream when `chunks` will not be consumed. */
  release(): Promise<void>;
}

export async function splitHeader<H>(requests: AsyncIterable<FramedMessage<H>>, rpc: string): Promise<SplitStream<H>> {
  const iterator = requests[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done || first.value.body.case !== "header") {
    await iterator.return?.();
    throw new StowdError("INVALID_ARGUMENT", `the first ${rpc} message must carry the header (body.header), then send data as body.chunk messages`, {
      field: "header",
    });
  }
  const header = first.value.body.value;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
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
    header,
    chunks: chunks(),
    release: async () => {
      await iterator.return?.();
    },
  };
}
