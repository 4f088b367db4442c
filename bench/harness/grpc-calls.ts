// Generic grpc-js calls over raw method paths: unary, draining a server stream,
// and a client stream written with backpressure. The plain grpc-js client of
// stowd and the bare grpc-js ceiling both use these, so they differ only in
// the server and the message encoding.
import { once } from "node:events";
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { CHUNK_BYTES } from "../common.js";

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export interface ProtoMethod<I extends DescMessage, O extends DescMessage> {
  path: string;
  serialize: (value: MessageShape<I>) => Buffer;
  deserialize: (bytes: Buffer) => MessageShape<O>;
}

export function protoMethod<I extends DescMessage, O extends DescMessage>(name: string, input: I, output: O): ProtoMethod<I, O> {
  return {
    path: `/stowd.v1.RawStoreService/${name}`,
    serialize: (value) => asBuffer(toBinary(input, value)),
    deserialize: (bytes) => fromBinary(output, bytes),
  };
}

export const identity = (b: Buffer): Buffer => b;

export function unary<Req, Res>(
  client: grpc.Client,
  path: string,
  ser: (v: Req) => Buffer,
  de: (b: Buffer) => Res,
  req: Req,
): Promise<Res> {
  return new Promise((resolveCall, reject) => {
    client.makeUnaryRequest(path, ser, de, req, (err, res) =>
      err !== null || res === undefined ? reject(err ?? new Error(`${path}: no response`)) : resolveCall(res),
    );
  });
}

/** Drains a server stream; `onMessage` returns the data bytes a message carried. */
export function drain<Res>(call: grpc.ClientReadableStream<Res>, onMessage: (m: Res) => number): Promise<number> {
  return new Promise((resolveCall, reject) => {
    let bytes = 0;
    call.on("data", (m: Res) => {
      try {
        bytes += onMessage(m);
      } catch (err) {
        call.cancel();
        reject(err);
      }
    });
    call.on("error", reject);
    call.on("status", (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolveCall(bytes);
    });
  });
}

/** Writes every message with backpressure, ends the stream and returns the response. */
export async function upload<Req, Res>(
  client: grpc.Client,
  path: string,
  ser: (v: Req) => Buffer,
  de: (b: Buffer) => Res,
  messages: Iterable<Req>,
): Promise<Res> {
  let call: grpc.ClientWritableStream<Req> | undefined;
  const response = new Promise<Res>((resolveCall, reject) => {
    call = client.makeClientStreamRequest(path, ser, de, (err, res) =>
      err !== null || res === undefined ? reject(err ?? new Error(`${path}: no response`)) : resolveCall(res),
    );
  });
  // Stop waiting for drain once the call has failed (no Promise.race against
  // the long-lived response promise: that retains every raced value).
  const failed = new AbortController();
  response.catch(() => failed.abort());
  const stream = call as unknown as grpc.ClientWritableStream<Req>;
  stream.on("error", () => undefined); // the callback reports errors
  for (const message of messages) {
    if (stream.write(message)) continue;
    try {
      await once(stream, "drain", { signal: failed.signal });
    } catch {
      return response; // rejects with the call's error
    }
  }
  stream.end();
  return response;
}

export function* chunksOf(payload: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < payload.length; offset += CHUNK_BYTES)
    yield payload.subarray(offset, Math.min(offset + CHUNK_BYTES, payload.length));
}

/**
 * Writes `payload` to an HTTP request body in CHUNK_BYTES pieces, waiting for
 * drain, and ends it. Stops waiting once the request fails or `answered` (the
 * response) rejects, so a failed request never leaves a drain wait behind;
 * the reason is what the caller's await of `answered` reports.
 */
export async function writeHttpBody(req: NodeJS.WritableStream, payload: Buffer, answered: Promise<unknown>): Promise<void> {
  const failed = new AbortController();
  answered.catch(() => failed.abort());
  req.on("error", () => failed.abort());
  for (const chunk of chunksOf(payload)) {
    if (req.write(chunk)) continue;
    try {
      await once(req as NodeJS.EventEmitter, "drain", { signal: failed.signal });
    } catch {
      break; // `answered` rejects with the reason
    }
  }
  req.end();
}

/** Throws unless `chunk` equals the payload at `offset`. */
export function verifyAt(payload: Buffer, offset: number, chunk: Uint8Array, label: string): void {
  if (offset + chunk.length > payload.length || payload.compare(chunk, 0, chunk.length, offset, offset + chunk.length) !== 0) {
    throw new Error(`${label}: wrong bytes at offset ${offset} (chunk of ${chunk.length})`);
  }
}
