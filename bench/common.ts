// Shared by the benchmark and its bare grpc-js server: the payload bytes and
// the bare service definition (identity serializers over raw Buffers, so the
// bare numbers measure the grpc-js transport and nothing else).
import { createCipheriv } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";

export const MiB = 1024 * 1024;
/** Data chunk size on both paths (stowd's READ_CHUNK_BYTES is also 1 MiB). */
export const CHUNK_BYTES = MiB;

/** The same settings for the stowd and the bare client, so the comparison is fair. */
export const CLIENT_OPTIONS: grpc.ChannelOptions = {
  "grpc-node.flow_control_window": 8 * MiB,
  "grpc.max_receive_message_length": 16 * MiB,
};

/** The same limits stowd's gRPC listener sets (server/main.ts: maxMessageBytes 16 MiB). */
export const SERVER_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 16 * MiB,
  "grpc.max_send_message_length": 16 * MiB,
};

/**
 * Deterministic incompressible bytes (AES-128-CTR keystream), so the bench
 * process and the bare server build identical payloads without sending them.
 */
export function makePayload(size: number): Buffer {
  const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const out = Buffer.allocUnsafe(size);
  const zeros = Buffer.alloc(Math.min(size, 16 * MiB));
  for (let offset = 0; offset < size; offset += zeros.length) {
    const n = Math.min(zeros.length, size - offset);
    cipher.update(zeros.subarray(0, n)).copy(out, offset);
  }
  return out;
}

const identity = (value: Buffer): Buffer => value;

function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/bench.v1.Bare/${name}`,
    requestStream,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/**
 * The bare service. Download: the request is the decimal byte count, the
 * response stream is that prefix of the payload in 1 MiB chunks. Upload:
 * receives chunks, discards them, answers with the decimal byte count. Echo:
 * answers with the request bytes.
 */
export const bareService = {
  Download: method("Download", false, true),
  Upload: method("Upload", true, false),
  Echo: method("Echo", false, false),
} satisfies grpc.ServiceDefinition;
