// Daemon memory under slow readers: 256 clients, each on its own HTTP/2
// connection with Node's default 64 KiB windows, start a ReadRaw of one 64 MiB
// file:// object and consume it at a slow pace for a bounded time, then
// cancel. A daemon that respects backpressure holds a bounded amount per
// stream; one that buffers would grow towards clients x object size. The bare
// grpc-js server then serves the same readers the same bytes, as the floor of
// what grpc-js itself holds per stream. The clients are raw node:http2 gRPC
// calls (not grpc-js): a grpc-js client stream is an object-mode Readable that
// reads up to 16 messages (16 MiB here) ahead of its consumer.
import { writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { ReadRawRequestSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { grpcFrame } from "../../test/helpers/grpc-frame.js";
import { MiB } from "../common.js";
import { bareService } from "../ceilings/bare-grpc-service.js";
import { isRunning, stopChild, whileAlive, type Child } from "../harness/children.js";
import { startBareGrpcServer } from "../harness/ceiling-servers.js";
import { procStatus, rssMiB } from "../harness/proc-stats.js";
import { startStowdDaemon } from "../harness/stowd-daemon.js";
import type { SlowReadersResult, SlowReadersRun } from "../report/results.js";
import { createStowdGrpcJsTarget } from "../targets/stowd-grpc-js-target.js";
import type { ScenarioContext } from "./context.js";

interface Reader {
  consumed: number;
  open: boolean;
  failure: string | undefined;
  cancel(): void;
}

function startReader(port: number, path: string, request: Buffer, bytesPerSecond: number, deadline: number): Reader {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined); // the stream reports it
  const reader: Reader = {
    consumed: 0,
    open: true,
    failure: undefined,
    cancel() {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      session.close();
    },
  };
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
  stream.end(request);
  stream.on("response", (headers) => {
    if (headers[":status"] !== 200) reader.failure = `HTTP ${String(headers[":status"])}`;
  });
  stream.on("trailers", (trailers: http2.IncomingHttpHeaders) => {
    if (trailers["grpc-status"] !== "0")
      reader.failure = `grpc-status ${String(trailers["grpc-status"])}: ${String(trailers["grpc-message"])}`;
  });
  stream.on("data", (chunk: Buffer) => {
    reader.consumed += chunk.length;
    // Pace: hold the stream paused as long as this chunk takes at the given rate.
    stream.pause();
    const wait = (1000 * chunk.length) / bytesPerSecond;
    if (performance.now() + wait < deadline) setTimeout(() => stream.resume(), wait);
  });
  stream.on("error", (err: Error) => (reader.failure ??= err.message));
  stream.on("close", () => {
    reader.open = false;
    session.close();
  });
  return reader;
}

interface SlowTarget {
  label: string;
  child: Child;
  port: number;
  /** gRPC method path and the request message's bytes. */
  path: string;
  request: Uint8Array;
}

/** Starts the readers on one server, samples its RSS until the deadline, then cancels them. */
async function measureReaders(ctx: ScenarioContext, target: SlowTarget): Promise<SlowReadersRun> {
  const { slowClients: clients, slowSeconds: seconds, slowRateBytes: rate } = ctx.options;
  const { pid } = target.child;
  const readers: Reader[] = [];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const idle = rssMiB(pid);
    let exact = true;
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      exact = false;
    }
    const frame = grpcFrame(target.request);
    const deadline = performance.now() + seconds * 1000;
    const samples: number[] = [];
    for (let i = 0; i < clients; i++) readers.push(startReader(target.port, target.path, frame, rate, deadline));
    ctx.progress(`slow: ${clients} readers of ${target.label} at ${(rate / 1024).toFixed(0)} KiB/s each for ${seconds} s`);
    while (performance.now() < deadline) {
      await whileAlive([target.child], new Promise((r) => setTimeout(r, 100)));
      samples.push(rssMiB(pid));
    }
    if (!isRunning(target.child)) throw new Error(`${target.label} exited during the slow reads`);
    const status = procStatus(pid);
    const peak = Math.max(...samples, exact ? status.hwmKiB / 1024 : 0);
    const openAtEnd = readers.filter((r) => r.open).length;
    // Before cancelling: our own cancel is not a failure.
    const failures = [...new Set(readers.flatMap((r) => (r.failure === undefined ? [] : [r.failure])))];
    ctx.progress(
      `slow: ${target.label} RSS idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB; ${openAtEnd}/${clients} streams open at the end`,
    );
    return {
      target: target.label,
      idleRssMiB: idle,
      peakRssMiB: peak,
      meanRssMiB: samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length),
      method: exact ? "VmHWM" : "VmRSS sampled",
      bytesConsumed: readers.reduce((a, r) => a + r.consumed, 0),
      openAtEnd,
      failures,
    };
  } finally {
    for (const r of readers) r.cancel();
    for (let i = 0; i < 40 && readers.some((r) => r.open); i++) await new Promise((res) => setTimeout(res, 50));
  }
}

export async function runSlowReaders(ctx: ScenarioContext): Promise<SlowReadersResult> {
  const { slowClients: clients, slowSeconds: seconds, slowRateBytes: rate, slowObjectBytes: size } = ctx.options;
  const reference = `file://bench/slow-${size / MiB}MiB`;
  const runs: SlowReadersRun[] = [];
  // One server at a time, so neither's readers load the other.
  const daemon = await startStowdDaemon({ name: "stowd (slow readers)", dir: join(ctx.tmp, "stowd-slow") });
  ctx.started(daemon.child.name, daemon.child.command);
  try {
    const seed = createStowdGrpcJsTarget({ label: "seed", port: daemon.grpcPort, serverPid: daemon.child.pid, reference: () => reference });
    const payload = size <= ctx.payload.length ? ctx.payload.subarray(0, size) : Buffer.alloc(size, 7);
    await whileAlive([daemon.child], seed.write("slow", payload));
    seed.close();
    const request = toBinary(ReadRawRequestSchema, create(ReadRawRequestSchema, { reference }));
    runs.push(
      await measureReaders(ctx, {
        label: "stowd ReadRaw",
        child: daemon.child,
        port: daemon.grpcPort,
        path: "/stowd.v1.RawStoreService/ReadRaw",
        request,
      }),
    );
  } finally {
    await stopChild(daemon.child);
  }
  const bare = await startBareGrpcServer(size);
  ctx.started(bare.child.name, bare.child.command);
  try {
    const request = Buffer.from(String(size), "ascii");
    runs.push(
      await measureReaders(ctx, {
        label: "bare grpc-js Download",
        child: bare.child,
        port: bare.port,
        path: bareService.Download.path,
        request,
      }),
    );
  } finally {
    await stopChild(bare.child);
  }
  return { clients, objectBytes: size, bytesPerSecondPerClient: rate, seconds, reference, runs };
}
