// The bare node:http2 server, the second ceiling: the same bytes as the bare
// grpc-js server, in the same 1 MiB writes with the same backpressure, with no
// gRPC framing or library in between. Run as a child process by bench/main.ts
// (`node --import tsx bench/ceilings/bare-http2-server.ts SIZE_BYTES`); binds
// 127.0.0.1 on a free port and prints `{"port":N}` once it serves.
//   GET  /download?bytes=N  answers the first N payload bytes
//   POST /upload            reads the body, answers its byte count
import { once } from "node:events";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { CHUNK_BYTES, makePayload } from "../common.js";
import { announcePort, exitWithBenchmark } from "./ceiling-process.js";

const size = Number(process.argv[2]);
if (!Number.isSafeInteger(size) || size <= 0) {
  console.error("usage: bare-http2-server.ts SIZE_BYTES");
  process.exit(2);
}
const payload = makePayload(size);

async function download(stream: http2.ServerHttp2Stream, count: number): Promise<void> {
  stream.respond({ ":status": 200, "content-type": "application/octet-stream" });
  // Same flow control as the bare grpc-js server: wait for drain, give up when the stream closes.
  const closed = new AbortController();
  stream.once("close", () => closed.abort());
  for (let offset = 0; offset < count; offset += CHUNK_BYTES) {
    if (!stream.write(payload.subarray(offset, Math.min(offset + CHUNK_BYTES, count)))) {
      await once(stream, "drain", { signal: closed.signal });
    }
  }
  stream.end();
}

function upload(stream: http2.ServerHttp2Stream): void {
  let received = 0;
  stream.on("data", (chunk: Buffer) => {
    received += chunk.length;
  });
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end(String(received));
  });
}

// The same session settings the grpc-js server uses (server.js): Node's
// default windows and no session memory cap.
const server = http2.createServer({ maxSessionMemory: Number.MAX_SAFE_INTEGER });
server.on("stream", (stream, headers) => {
  stream.on("error", () => undefined);
  const url = new URL(String(headers[":path"]), "http://bench");
  if (headers[":method"] === "GET" && url.pathname === "/download") {
    const count = Number(url.searchParams.get("bytes"));
    if (!Number.isSafeInteger(count) || count < 0 || count > payload.length) {
      stream.respond({ ":status": 400 });
      stream.end(`ask for 0..${payload.length} bytes`);
      return;
    }
    download(stream, count).catch(() => stream.destroy()); // rejects only when the client went away
  } else if (headers[":method"] === "POST" && url.pathname === "/upload") {
    upload(stream);
  } else {
    stream.respond({ ":status": 404 });
    stream.end();
  }
});
server.listen(0, "127.0.0.1", () => announcePort((server.address() as AddressInfo).port));
exitWithBenchmark();
