// A part's bytes as they travel to S3: the body's own chunks, sent as a
// stream (kit/held-chunks.ts says why not one Buffer), with the SHA-256 that
// SigV4 signs computed while the part was cut: the SDK hashes only bodies it
// holds whole. S3 (and RGW) check the signed hash against the body, so it
// guards the bytes on the way, as a Content-MD5 would, in one hash pass
// instead of two (the direct SDK upload signs the same hash).
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { streamOfChunks, type HeldBytes } from "../kit/held-chunks.js";

export interface PartBody extends HeldBytes {
  /** Hex SHA-256 of the bytes, for x-amz-content-sha256. */
  sha256: string;
}

const PAYLOAD_SHA256 = Symbol("stowd.payloadSha256");

type HashedStream = Readable & { [PAYLOAD_SHA256]?: string };

/** A fresh stream of the part's bytes (one per attempt: a retry sends them again), carrying their hash. */
export function partStream(part: PartBody): Readable {
  const stream: HashedStream = streamOfChunks(part.chunks);
  stream[PAYLOAD_SHA256] = part.sha256;
  return stream;
}

/** Makes the client sign the hash a partStream carries (else it would send a stream as UNSIGNED-PAYLOAD). */
export function signPartStreams(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      const sha256 = request.body instanceof Readable ? (request.body as HashedStream)[PAYLOAD_SHA256] : undefined;
      if (request.headers !== undefined && sha256 !== undefined) request.headers["x-amz-content-sha256"] = sha256;
      return next(args);
    },
    { step: "build", name: "stowdPartPayloadHash" },
  );
}
