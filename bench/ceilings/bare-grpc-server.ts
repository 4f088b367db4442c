// The bare grpc-js server, the first ceiling the benchmark compares stowd
// against; run as a child process by bench/main.ts (`node --import tsx
// bench/ceilings/bare-grpc-server.ts SIZE_BYTES`). It builds the payload, binds 127.0.0.1 on a free port and
// prints `{"port":N}` on stdout once it serves.
import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { CHUNK_BYTES, SERVER_OPTIONS, makePayload } from "../common.js";
import { bareService } from "./bare-grpc-service.js";
import { announcePort, exitWithBenchmark } from "./ceiling-process.js";

const size = Number(process.argv[2]);
if (!Number.isSafeInteger(size) || size <= 0) {
  console.error("usage: bare-grpc-server.ts SIZE_BYTES");
  process.exit(2);
}
const payload = makePayload(size);

const implementation: grpc.UntypedServiceImplementation = {
  Download(call: grpc.ServerWritableStream<Buffer, Buffer>) {
    const count = Number(call.request.toString("ascii"));
    if (!Number.isSafeInteger(count) || count < 0 || count > payload.length) {
      call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: `ask for 0..${payload.length} bytes` });
      return;
    }
    const cancelled = new AbortController();
    call.on("cancelled", () => cancelled.abort());
    (async () => {
      for (let offset = 0; offset < count; offset += CHUNK_BYTES) {
        // Same flow control as stowd's grpc-service.ts: wait for drain.
        if (!call.write(payload.subarray(offset, Math.min(offset + CHUNK_BYTES, count)))) {
          await once(call, "drain", { signal: cancelled.signal });
        }
      }
      call.end();
    })().catch(() => undefined);
  },
  Upload(call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
    let received = 0;
    call.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    call.on("end", () => callback(null, Buffer.from(String(received), "ascii")));
    call.on("error", () => undefined);
  },
  Echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
    callback(null, call.request);
  },
};

const server = new grpc.Server(SERVER_OPTIONS);
server.addService(bareService, implementation);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err !== null) {
    console.error(`bare-server: ${err.message}`);
    process.exit(1);
  }
  announcePort(port);
});
exitWithBenchmark(() => server.forceShutdown());
