// A fast path for the hottest message: a ReadRaw data chunk. protobuf-es
// copies a bytes field twice while encoding (into its writer, then into the
// result); for 1 MiB chunks that doubled the daemon's CPU per byte. The
// message is `oneof body { ...; bytes chunk = 2; }`, so its encoding is just
// the tag, the length and the bytes.
import type { DescMethod } from "@bufbuild/protobuf";
import { ReadRawResponseSchema } from "../../gen/stowd/v1/raw_store_pb.js";

const CHUNK_TAG = (2 << 3) | 2; // field 2, wire type 2 (length-delimited)

/** The chunk of a ReadRawResponse carrying data, else undefined. */
export function readRawChunk(method: DescMethod, value: object): Uint8Array | undefined {
  if (method.output.typeName !== ReadRawResponseSchema.typeName) return undefined;
  const body = (value as { body?: { case?: string; value?: unknown } }).body;
  return body?.case === "chunk" && body.value instanceof Uint8Array ? body.value : undefined;
}

export function encodeChunkMessage(chunk: Uint8Array): Buffer {
  const header = [CHUNK_TAG];
  for (let n = chunk.length; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      header.push(n);
      break;
    }
    header.push((n % 128) | 128);
  }
  const out = Buffer.allocUnsafe(header.length + chunk.length);
  out.set(header, 0);
  out.set(chunk, header.length);
  return out;
}
