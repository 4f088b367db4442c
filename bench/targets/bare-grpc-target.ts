// The bare grpc-js ceiling as a stream target: Download / Upload of raw
// Buffers against bench/ceilings/bare-grpc-server.ts.
import * as grpc from "@grpc/grpc-js";
import { CLIENT_OPTIONS } from "../common.js";
import { bareService } from "../ceilings/bare-grpc-service.js";
import { chunksOf, drain, identity, upload, verifyAt } from "../harness/grpc-calls.js";
import type { StreamTarget } from "./stream-target.js";

export interface BareGrpcTargetOptions {
  port: number;
  serverPid: number;
  label?: string;
}

export function createBareGrpcTarget(options: BareGrpcTargetOptions): StreamTarget & { client: grpc.Client } {
  const label = options.label ?? "bare grpc-js";
  const client = new grpc.Client(`127.0.0.1:${options.port}`, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
  const { Download, Upload } = bareService;
  return {
    label,
    serverPid: options.serverPid,
    client,
    async write(_name, payload) {
      const res = await upload(client, Upload.path, identity, identity, chunksOf(payload));
      if (res.toString("ascii") !== String(payload.length))
        throw new Error(`${label}: Upload counted ${res.toString("ascii")} bytes, sent ${payload.length}`);
    },
    async read(_name, size, verify) {
      const call = client.makeServerStreamRequest(Download.path, identity, identity, Buffer.from(String(size), "ascii"));
      let offset = 0;
      const bytes = await drain(call, (chunk: Buffer) => {
        if (verify !== undefined) verifyAt(verify, offset, chunk, label);
        offset += chunk.length;
        return chunk.length;
      });
      if (bytes !== size) throw new Error(`${label}: Download returned ${bytes} bytes, expected ${size}`);
      return bytes;
    },
    async reset() {},
    close: () => client.close(),
  };
}
