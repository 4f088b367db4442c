// Shared by the benchmark and its ceiling servers: the payload bytes, the chunk
// size and the grpc-js channel settings every client and server uses.
import { createCipheriv } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";

export const MiB = 1024 * 1024;
/** Data chunk size on both paths (stowd's ReadRaw messages are at most 1 MiB too: READ_FRAMING). */
export const CHUNK_BYTES = MiB;

/** The same settings for the stowd and the bare client, so the comparison is fair. */
export const CLIENT_OPTIONS: grpc.ChannelOptions = {
  "grpc-node.flow_control_window": 8 * MiB,
  "grpc.max_receive_message_length": 16 * MiB,
};

/** The same limits and settings stowd's gRPC listener sets (server/transports/grpc-listener.ts: maxMessageBytes 16 MiB). */
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
