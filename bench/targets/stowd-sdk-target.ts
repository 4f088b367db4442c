// stowd through its TypeScript SDK (client/, createStowdClient over the
// connect-node gRPC transport with its default 8 MiB windows): what an
// application using stowd gets.
import { createStowdClient } from "../../client/index.js";
import { verifyAt } from "../harness/grpc-calls.js";
import type { StreamTarget } from "./stream-target.js";

export interface StowdSdkTargetOptions {
  label: string;
  port: number;
  serverPid: number;
  reference: (name: string) => string;
}

export function createStowdSdkTarget(options: StowdSdkTargetOptions): StreamTarget {
  const { label } = options;
  const client = createStowdClient({ baseUrl: `http://127.0.0.1:${options.port}` });
  return {
    label,
    serverPid: options.serverPid,
    async write(name, payload) {
      const info = await client.write(options.reference(name), payload, { contentType: "application/octet-stream" });
      if (info.size !== payload.length) throw new Error(`${label}: write stored ${info.size} bytes, sent ${payload.length}`);
    },
    async read(name, size, verify) {
      const handle = await client.read(options.reference(name));
      let offset = 0;
      for await (const chunk of handle.chunks) {
        if (verify !== undefined) verifyAt(verify, offset, chunk, label);
        offset += chunk.length;
      }
      if (offset !== size) throw new Error(`${label}: read returned ${offset} bytes, expected ${size}`);
      return offset;
    },
    async reset(name) {
      await client.delete(options.reference(name), { allowMissing: true });
    },
    close: () => client.close(),
  };
}
