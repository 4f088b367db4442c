// The bare node:http file server (bench/ceilings/bare-http-file-server.ts) as
// a stream target: the ceiling of a daemon-signed URL, the same node:http
// client calls with no signature and no store in between.
import { createHttp1Agent, http1Get, http1Put } from "../harness/http1-calls.js";
import type { StreamTarget } from "./stream-target.js";

export const BARE_HTTP_FILES = "bare node:http file server";

export interface BareHttpTargetOptions {
  port: number;
  serverPid: number;
}

export function createBareHttpTarget(options: BareHttpTargetOptions): StreamTarget {
  const label = BARE_HTTP_FILES;
  const agent = createHttp1Agent();
  const url = (name: string) => `http://127.0.0.1:${options.port}/${encodeURIComponent(name)}`;
  return {
    label,
    serverPid: options.serverPid,
    async write(name, payload) {
      const text = await http1Put(agent, url(name), payload, {}, label);
      if (text !== String(payload.length)) throw new Error(`${label}: PUT stored ${text} bytes, sent ${payload.length}`);
    },
    async read(name, size, verify) {
      const bytes = await http1Get(agent, url(name), label, verify);
      if (bytes !== size) throw new Error(`${label}: GET returned ${bytes} bytes, expected ${size}`);
      return bytes;
    },
    async reset() {}, // a PUT replaces the file (rename), as a WriteRaw replaces the object
    close: () => agent.destroy(),
  };
}
