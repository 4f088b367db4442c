// The bare grpc-js service the ceilings measure: identity serializers over raw
// Buffers, so the bare numbers are the grpc-js transport and nothing else.
import type * as grpc from "@grpc/grpc-js";

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
