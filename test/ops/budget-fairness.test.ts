// Fairness of the in-flight byte budget (server.maxInFlightMBs) in a daemon:
// streams whose clients stopped reading must not keep other calls waiting,
// and many slow readers must all move at their own pace.
//
// The readers are bare node:http2 gRPC calls, each on its own connection with
// Node's default 64 KiB windows (as in the benchmark's slow readers): pausing
// one really stops reading, and nothing is buffered beyond its window.
//
// Before the budget granted by stream (outside audit, item 5), it granted
// whole 1 MiB messages in arrival order: with maxInFlightMBs: 4, four parked
// readers held all of it, every later stream (even its header) and a 5-byte
// ReadRaw waited until the idle-stream timeout, and slow readers took turns
// of one 1 MiB message each instead of all moving.
import * as http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReadRawRequestSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { splitChunkMessage } from "../../server/calls/message-payload.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { listenersOf, MiB, type Listener } from "./clients.js";

const KiB = 1024;

interface Reader {
  stream: http2.ClientHttp2Stream;
  /** Response bytes received so far (gRPC framing included). */
  received(): number;
  /** Resolves at the first response bytes. */
  started: Promise<void>;
  /** Resolves with the grpc-status (or the error) when the stream ends. */
  ended: Promise<string>;
  readonly closed: boolean;
  close(): void;
}

/**
 * ReadRaw of `reference` on a connection of its own. `pace`: "park" stops
 * reading after the first bytes (until the stream is resumed); a number reads that many bytes per second
 * (pausing after each piece as long as it takes at that rate); "free" reads
 * as fast as it can.
 */
function read(address: string, reference: string, pace: "park" | "free" | number): Reader {
  const session = http2.connect(`http://${address}`);
  session.on("error", () => {});
  const stream = session.request({
    ":method": "POST",
    ":path": "/stowd.v1.RawStoreService/ReadRaw",
    "content-type": "application/grpc",
    te: "trailers",
  });
  const message = toBinary(ReadRawRequestSchema, create(ReadRawRequestSchema, { reference }));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  stream.end(frame);
  let bytes = 0;
  let closed = false;
  let first: () => void = () => {};
  const started = new Promise<void>((resolve) => (first = resolve));
  const ended = new Promise<string>((resolve) => {
    let status = "no trailers";
    stream.on("trailers", (trailers: http2.IncomingHttpHeaders) => (status = String(trailers["grpc-status"])));
    stream.on("error", (err: Error) => (status = err.message));
    stream.on("close", () => {
      closed = true;
      session.close();
      resolve(status);
    });
  });
  stream.on("data", (chunk: Buffer) => {
    if (bytes === 0) {
      first();
      if (pace === "park") stream.pause();
    }
    bytes += chunk.length;
    if (typeof pace === "number") {
      stream.pause();
      setTimeout(() => stream.resume(), (1000 * chunk.length) / pace);
    }
  });
  return {
    stream,
    received: () => bytes,
    started,
    ended,
    get closed() {
      return closed;
    },
    close() {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      session.destroy();
    },
  };
}

async function gauge(daemon: TestDaemon, name: string): Promise<number> {
  const text = await (await fetch(`${daemon.httpUrl}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1]);
}

describe("splitChunkMessage", () => {
  it("cuts a ReadRaw chunk message after n bytes, sharing its memory, and leaves other messages whole", () => {
    const chunk = Uint8Array.from([1, 2, 3, 4, 5]);
    const [head, rest] = splitChunkMessage({ body: { case: "chunk", value: chunk } }, 2) as Array<{
      body: { case: string; value: Uint8Array };
    }>;
    expect(head?.body).toEqual({ case: "chunk", value: Uint8Array.from([1, 2]) });
    expect(rest?.body).toEqual({ case: "chunk", value: Uint8Array.from([3, 4, 5]) });
    expect(rest?.body.value.buffer).toBe(chunk.buffer);
    const whole = { body: { case: "chunk", value: chunk } };
    expect(splitChunkMessage(whole, 5)).toEqual([whole, undefined]);
    const header = { body: { case: "header", value: {} } };
    expect(splitChunkMessage(header, 0)).toEqual([header, undefined]);
  });
});

describe("parked readers do not block other calls", () => {
  const BUDGET = 4 * MiB;
  const PARKED = 12;
  const SIZE = 8 * MiB;
  let daemon: TestDaemon;
  let listeners: Listener[];
  beforeAll(async () => {
    // The idle timeout is far longer than the test waits, so nothing gets
    // through because a parked stream was cancelled.
    daemon = await startTestDaemon({ bounds: { maxInFlightBytes: BUDGET, idleStreamTimeoutMs: 60_000 } });
    listeners = listenersOf(daemon);
    await listeners[0]?.client.write("file://b/big", Buffer.alloc(SIZE, 7));
    await listeners[0]?.client.write("file://b/small", "small");
  });
  afterAll(async () => {
    for (const l of listeners ?? []) l.close();
    await daemon?.close();
  });

  it(`with maxInFlightMBs: 4, a 5-byte ReadRaw completes at once on both ports while ${PARKED} ReadRaw streams of ${SIZE / MiB} MiB have stopped reading, and the parked streams stay alive and finish when read`, async () => {
    const parked = Array.from({ length: PARKED }, () => read(daemon.grpcAddress, "file://b/big", "park"));
    try {
      // The parked streams take (nearly) the whole budget between them.
      await expect.poll(() => gauge(daemon, "stowd_in_flight_bytes"), { timeout: 5000 }).toBeGreaterThanOrEqual(BUDGET - MiB);
      await sleep(300);

      for (const { name, client } of listeners) {
        const timed = async (reference: string, timeoutMs: number) => {
          const t0 = performance.now();
          const bytes = await client.readBytes(reference, { timeoutMs }).catch((err: unknown) => {
            throw new Error(`${name}: ReadRaw of ${reference} failed after ${(performance.now() - t0).toFixed(0)} ms: ${String(err)}`);
          });
          return { bytes, ms: performance.now() - t0 };
        };
        const small = await timed("file://b/small", 5000);
        expect(Buffer.from(small.bytes).toString(), name).toBe("small");
        expect(small.ms, `${name}: the 5-byte read took ${small.ms.toFixed(0)} ms`).toBeLessThan(1000);
        // A large read is not blocked either: it moves in smaller messages.
        const big = await timed("file://b/big", 10_000);
        expect(big.bytes.length, name).toBe(SIZE);
        expect(big.ms, `${name}: the ${SIZE / MiB} MiB read took ${big.ms.toFixed(0)} ms`).toBeLessThan(5000);
      }

      // Every parked stream got its first message and holds what it was
      // given: its share at the time, or at least its 64 KiB reserve. They
      // are still open, and all finish once read.
      expect(parked.map((p) => p.received() > 0)).toEqual(Array(PARKED).fill(true));
      // (+ the ReadRaw requests, a few bytes each)
      expect(await gauge(daemon, "stowd_in_flight_bytes")).toBeLessThanOrEqual(BUDGET + PARKED * (64 * KiB + 64));
      expect(parked.map((p) => p.closed)).toEqual(Array(PARKED).fill(false));
      for (const p of parked) p.stream.resume();
      expect(await Promise.all(parked.map((p) => p.ended))).toEqual(Array(PARKED).fill("0"));
      for (const p of parked) expect(p.received()).toBeGreaterThan(SIZE);
      await expect.poll(() => gauge(daemon, "stowd_in_flight_bytes")).toBe(0);
    } finally {
      for (const p of parked) p.close();
    }
  });
});

describe("many slow readers", () => {
  const BUDGET = 4 * MiB;
  const READERS = 32;
  const RATE = 128 * KiB;
  const SECONDS = 6;
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({ bounds: { maxInFlightBytes: BUDGET, idleStreamTimeoutMs: 60_000 } });
    const [listener] = listenersOf(daemon);
    try {
      await listener?.client.write("file://b/big", Buffer.alloc(16 * MiB, 7));
    } finally {
      listener?.close();
    }
  });
  afterAll(async () => {
    await daemon?.close();
  });

  it(`${READERS} readers at ${RATE / KiB} KiB/s each, with maxInFlightMBs: 4, all receive bytes every second and keep their pace, while in-flight bytes stay within the budget plus 64 KiB per stream`, async () => {
    const readers = Array.from({ length: READERS }, () => read(daemon.grpcAddress, "file://b/big", RATE));
    try {
      // Every second, each reader's count must have moved: no reader waits
      // for others to drain a whole message at their pace.
      const stalls: string[] = [];
      let peakHeld = 0;
      let last = readers.map(() => 0);
      for (let second = 1; second <= SECONDS; second++) {
        await sleep(1000);
        peakHeld = Math.max(peakHeld, await gauge(daemon, "stowd_in_flight_bytes"));
        const now = readers.map((r) => r.received());
        now.forEach((n, i) => {
          if (n === last[i]) stalls.push(`reader ${i} received nothing in second ${second}`);
        });
        last = now;
      }
      expect(stalls).toEqual([]);
      // At their own pace: each got most of what its rate allows (the
      // first second includes the start).
      const expected = RATE * SECONDS;
      const slowest = Math.min(...last);
      expect(slowest, `slowest reader got ${(slowest / KiB).toFixed(0)} KiB of ~${expected / KiB} KiB`).toBeGreaterThan(0.6 * expected);
      expect(peakHeld).toBeLessThanOrEqual(BUDGET + READERS * (64 * KiB + 64));
      expect(readers.map((r) => r.closed)).toEqual(Array(READERS).fill(false));
    } finally {
      for (const r of readers) r.close();
    }
  });
});
