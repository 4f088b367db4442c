// The bare node:http2 ceiling as a stream target, against
// bench/ceilings/bare-http2-server.ts, with the same receive windows the
// grpc-js and SDK clients use (8 MiB per stream and per connection).
import { once } from "node:events";
import * as http2 from "node:http2";
import { CLIENT_OPTIONS } from "../common.js";
import { verifyAt, writeHttpBody } from "../harness/grpc-calls.js";
import type { StreamTarget } from "./stream-target.js";

export interface BareHttp2TargetOptions {
  port: number;
  serverPid: number;
}

export function createBareHttp2Target(options: BareHttp2TargetOptions): StreamTarget {
  const label = "bare node:http2";
  const windowBytes = CLIENT_OPTIONS["grpc-node.flow_control_window"] as number;
  let session: http2.ClientHttp2Session | undefined;
  const connect = (): http2.ClientHttp2Session => {
    if (session !== undefined && !session.destroyed && !session.closed) return session;
    const s = http2.connect(`http://127.0.0.1:${options.port}`, { settings: { initialWindowSize: windowBytes } });
    s.on("error", () => undefined); // each request sees its own error
    s.once("connect", () => s.setLocalWindowSize(windowBytes));
    session = s;
    return s;
  };

  async function response(req: http2.ClientHttp2Stream, onData: (chunk: Buffer) => void): Promise<void> {
    const [headers] = (await Promise.race([once(req, "response"), once(req, "error").then(([e]) => Promise.reject(e as Error))])) as [
      http2.IncomingHttpHeaders,
    ];
    const status = Number(headers[":status"]);
    req.on("data", (chunk: Buffer) => {
      try {
        onData(chunk);
      } catch (err) {
        req.destroy(err as Error); // surfaces as the 'error' awaited below
      }
    });
    await Promise.race([once(req, "end"), once(req, "error").then(([e]) => Promise.reject(e as Error))]);
    if (status !== 200) throw new Error(`${label}: HTTP ${status}`);
  }

  return {
    label,
    serverPid: options.serverPid,
    async write(_name, payload) {
      const req = connect().request({ ":method": "POST", ":path": "/upload", "content-type": "application/octet-stream" });
      let text = "";
      const answered = response(req, (chunk) => (text += chunk.toString("ascii")));
      await writeHttpBody(req, payload, answered);
      await answered;
      if (text !== String(payload.length)) throw new Error(`${label}: upload counted ${text} bytes, sent ${payload.length}`);
    },
    async read(_name, size, verify) {
      const req = connect().request({ ":method": "GET", ":path": `/download?bytes=${size}` });
      req.end();
      let offset = 0;
      await response(req, (chunk) => {
        if (verify !== undefined) verifyAt(verify, offset, chunk, label);
        offset += chunk.length;
      });
      if (offset !== size) throw new Error(`${label}: download returned ${offset} bytes, expected ${size}`);
      return offset;
    },
    async reset() {},
    close: () => session?.close(),
  };
}
