// A fast path for the hottest message: a ReadRaw data chunk. protobuf-es
// copies a bytes field twice while encoding (into its writer, then into the
// result); for 1 MiB chunks that doubled the daemon's CPU per byte. The message is
// `oneof body { ...; bytes chunk = 2; }`, so its encoding is just the tag,
// the length and the bytes, and when the chunk has free room in front
// (stores/kit/message-headroom.ts) the header goes there and nothing is
// copied at all: grpc-js copies the serialized message into its frame at
// once (serializeMessage), before anything else can run and reuse the room.
import type { DescMethod } from "@bufbuild/protobuf";
import { ReadRawResponseSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { headroomOf } from "../stores/kit/message-headroom.js";

const CHUNK_TAG = (2 << 3) | 2; // field 2, wire type 2 (length-delimited)

/** The chunk of a ReadRawResponse carrying data, else undefined. */
export function readRawChunk(method: DescMethod, value: object): Uint8Array | undefined {
  if (method.output.typeName !== ReadRawResponseSchema.typeName) return undefined;
  return chunkOf(value);
}

/** The data of a `{ body: { case: "chunk", value } }` message, else undefined. */
function chunkOf(message: unknown): Uint8Array | undefined {
  const body = (message as { body?: { case?: string; value?: unknown } } | null)?.body;
  return body?.case === "chunk" && body.value instanceof Uint8Array ? body.value : undefined;
}

/** The encoded chunk message; its header is written into the chunk's free room in front when it has enough. */
export function encodeChunkMessage(chunk: Uint8Array): Buffer {
  const header = [CHUNK_TAG];
  for (let n = chunk.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      header.push(n);
      break;
    }
    header.push((n % 128) | 128);
  }
  if (headroomOf(chunk) >= header.length) {
    const out = Buffer.from(chunk.buffer, chunk.byteOffset - header.length, header.length + chunk.length);
    out.set(header, 0);
    return out;
  }
  const out = Buffer.allocUnsafe(header.length + chunk.length);
  out.set(header, 0);
  out.set(chunk, header.length);
  return out;
}
