// ReadRaw over a bare node:http2 session: no gRPC library in between, so
// pausing the stream really stops reading. The session keeps Node's default
// 64 KiB windows; nothing is buffered beyond them, and the daemon feels every
// pause as HTTP/2 backpressure.
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { ReadRawRequestSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { grpcFrame } from "../helpers/grpc-frame.js";

export interface RawReader {
  stream: http2.ClientHttp2Stream;
  /** Response bytes received so far (gRPC framing included). */
  received(): number;
  /** Resolves at the first response bytes. */
  started: Promise<void>;
}

export function connectRaw(address: string): http2.ClientHttp2Session {
  const session = http2.connect(`http://${address}`);
  session.on("error", () => {});
  return session;
}

/** Starts ReadRaw of `reference` on `session`; the stream starts paused after its first bytes when `pauseAtStart`. */
export function rawRead(session: http2.ClientHttp2Session, reference: string, pauseAtStart: boolean): RawReader {
  const stream = session.request({
    ":method": "POST",
    ":path": "/stowd.v1.RawStoreService/ReadRaw",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => {});
  stream.end(grpcFrame(toBinary(ReadRawRequestSchema, create(ReadRawRequestSchema, { reference }))));
  let bytes = 0;
  let first: () => void = () => {};
  const started = new Promise<void>((resolve) => (first = resolve));
  stream.on("data", (chunk: Buffer) => {
    if (bytes === 0) {
      if (pauseAtStart) stream.pause();
      first();
    }
    bytes += chunk.length;
  });
  return { stream, received: () => bytes, started };
}
