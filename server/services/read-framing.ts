// Frames a read's bytes into ReadRaw messages. Backends deliver bytes in
// whatever pieces their sockets produce (16-64 KiB from S3, Azure, GCS),
// and every gRPC message costs a frame, a header and, on the gRPC port, a
// wait for the transport to take it (grpc-service.ts sends one message at a
// time so slow readers cannot pile up data). Small pieces are therefore
// joined into messages of at least `minBytes`; large ones are cut to at most
// `maxBytes` without copying.

export interface ReadFraming {
  /** Pieces are joined until at least this many bytes (or the end) before a message goes out. */
  minBytes: number;
  /** No message carries more than this. */
  maxBytes: number;
}

export async function* frameReadChunks(chunks: AsyncIterable<Uint8Array>, framing: ReadFraming): AsyncGenerator<Uint8Array> {
  const { minBytes, maxBytes } = framing;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    if (pendingBytes === 0 && chunk.length >= minBytes) {
      yield* cut(chunk, maxBytes);
      continue;
    }
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= minBytes) {
      const joined = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      yield* cut(joined, maxBytes);
    }
  }
  if (pendingBytes > 0) yield* cut(Buffer.concat(pending, pendingBytes), maxBytes);
}

function* cut(chunk: Uint8Array, maxBytes: number): Generator<Uint8Array> {
  for (let offset = 0; offset < chunk.length; offset += maxBytes) {
    yield chunk.subarray(offset, Math.min(offset + maxBytes, chunk.length));
  }
}
