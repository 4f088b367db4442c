// A cancelled WriteRaw (or Append) whose header declares no size must store
// nothing (proto/stowd/v1/raw_store.proto: "a cancelled or failed stream
// leaves nothing"). Node clients cancel with END_STREAM followed by
// RST_STREAM, so the daemon sees a real half-close first; see
// server/calls/request-end.ts. Each client cancels uploads at many points
// (after 0, 1 or several chunks, at once or after a pause, from a timer
// while chunks flow), several at a time, next to uploads that finish, on
// mem:// and file://, and Head must say exists = false every time.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createStowdClient, createStowdTransport, StowdClientError, type StowdClient } from "../../client/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { rawStoreClient } from "../helpers/proto-loader-client.js";

const CHUNK = new Uint8Array(64 * 1024).fill(7);
const ITERATIONS = 50;
const PARALLEL = 5;

/** When a cancelling client aborts its upload. */
interface Plan {
  /** Chunks sent (each handed to the transport, which waits for the write) before the abort. */
  chunks: number;
  /** Pause after the last chunk before aborting; 0 = at once. */
  pauseMs: number;
  /** Abort from a timer started with the call, after this many ms, while chunks keep flowing (overrides the two above). */
  timerMs?: number;
}

const PLANS: Plan[] = [
  { chunks: 0, pauseMs: 0 },
  { chunks: 1, pauseMs: 0 },
  { chunks: 4, pauseMs: 0 },
  { chunks: 1, pauseMs: 5 },
  { chunks: 3, pauseMs: 15 },
  { chunks: 0, pauseMs: 0, timerMs: 1 },
  { chunks: 0, pauseMs: 0, timerMs: 3 },
];

/** Starts an upload of `ref` (no declared size unless `size`), cancels it as `plan` says, and resolves with the client's error. */
type Cancel = (ref: string, plan: Plan, size?: number) => Promise<unknown>;

let daemon: TestDaemon;
const closers: (() => void)[] = [];

beforeAll(async () => {
  daemon = await startTestDaemon();
});

afterAll(async () => {
  for (const close of closers) close();
  await daemon?.close();
});

function sdk(client: StowdClient, rpc: "write" | "append"): Cancel {
  return (ref, plan, size) => {
    const controller = new AbortController();
    const abort = () => controller.abort();
    const timer = plan.timerMs === undefined ? undefined : setTimeout(abort, plan.timerMs);
    async function* body() {
      if (timer !== undefined) {
        // Chunks flow until the timer aborts the call.
        for (let i = 0; i < 64 && !controller.signal.aborted; i++) yield CHUNK;
      } else {
        for (let i = 0; i < plan.chunks; i++) yield CHUNK;
        if (plan.pauseMs > 0) await sleep(plan.pauseMs);
        abort();
      }
      // Never end the body: an ended body is a finished upload.
      await sleep(20);
      yield CHUNK;
    }
    const options = { signal: controller.signal, ...(size === undefined ? {} : { size }) };
    const call = rpc === "write" ? client.write(ref, body(), options) : client.append(ref, body(), { signal: controller.signal });
    return call.then(
      () => new Error(`the cancelled ${rpc} of ${ref} succeeded`),
      (err: unknown) => err,
    );
  };
}

function grpcJs(client: grpc.Client & Record<string, (...args: never[]) => unknown>): Cancel {
  return (ref, plan, size) =>
    new Promise((resolve) => {
      const call = (client.WriteRaw as unknown as (cb: (err: grpc.ServiceError | null) => void) => grpc.ClientWritableStream<object>)(
        (err) => resolve(err ?? new Error(`the cancelled WriteRaw of ${ref} succeeded`)),
      );
      const write = (message: object) => new Promise<void>((done) => call.write(message, () => done()));
      const timer = plan.timerMs === undefined ? undefined : setTimeout(() => call.cancel(), plan.timerMs);
      void (async () => {
        await write({ header: { reference: ref, ...(size === undefined ? {} : { size: String(size) }) } });
        if (timer !== undefined) {
          for (let i = 0; i < 64; i++) await write({ chunk: Buffer.from(CHUNK) });
          return;
        }
        for (let i = 0; i < plan.chunks; i++) await write({ chunk: Buffer.from(CHUNK) });
        if (plan.pauseMs > 0) await sleep(plan.pauseMs);
        call.cancel();
      })();
    });
}

function codeOf(err: unknown): string {
  if (err instanceof StowdClientError) return Code[err.code];
  // grpc-js's status numbers are gRPC codes, as connect's Code is.
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "number") return Code[err.code as Code];
  return String(err);
}

async function inFlightUploads(): Promise<number> {
  const gauge = await daemon.metrics.rpcInFlight.get();
  return gauge.values.filter((v) => /^(WriteRaw|Append)$/.test(String(v.labels.grpc_method))).reduce((sum, v) => sum + v.value, 0);
}

/**
 * Waits until the daemon has finished every upload the client started: a
 * fence call on the same connection arrives after all their frames, then
 * the daemon's in-flight gauge drains (bounded, not a speed assertion).
 */
async function settle(fence: () => Promise<unknown>): Promise<void> {
  await fence();
  for (let i = 0; i < 500 && (await inFlightUploads()) > 0; i++) await sleep(10);
  expect(await inFlightUploads()).toBe(0);
}

/** Runs `count` cancelled uploads, PARALLEL at a time, next to uploads that finish; returns the refs of the cancelled ones. */
async function cancelMany(
  cancel: Cancel,
  base: string,
  count: number,
  finishing: (ref: string) => Promise<void>,
  size?: number,
): Promise<string[]> {
  const refs: string[] = [];
  const codes: string[] = [];
  for (let start = 0; start < count; start += PARALLEL) {
    const batch = Array.from({ length: Math.min(PARALLEL, count - start) }, (_, k) => start + k);
    const cancelled = batch.map(async (i) => {
      const ref = `${base}/cancelled-${i}`;
      refs.push(ref);
      codes.push(codeOf(await cancel(ref, PLANS[i % PLANS.length] as Plan, size)));
    });
    // Load: finished uploads and heads on the same connection, at the same time.
    await Promise.all([...cancelled, finishing(`${base}/finished-${start}`)]);
  }
  expect(new Set(codes)).toEqual(new Set(["Canceled"]));
  return refs;
}

interface Port {
  cancel: Cancel;
  client: StowdClient;
  fence: () => Promise<unknown>;
}

const PORTS = [
  "SDK over gRPC on the gRPC port",
  "grpc-js client on the gRPC port",
  "SDK over Connect (HTTP/2) on the HTTP port",
  "SDK over gRPC on the HTTP port",
  "SDK over Connect (HTTP/1.1) on the HTTP port",
] as const;

const ports = new Map<(typeof PORTS)[number], Port>();

beforeAll(() => {
  const raw = rawStoreClient(daemon.grpcAddress);
  closers.push(() => raw.close());
  const rawHead = (ref: string) =>
    new Promise((resolve, reject) =>
      (raw.Head as unknown as (req: object, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void)(
        { reference: ref },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
  const sdkPort = (options: Parameters<typeof createStowdTransport>[0]): Port => {
    const transport = createStowdTransport(options);
    closers.push(() => transport.close());
    const client = createStowdClient({ transport });
    return { cancel: sdk(client, "write"), client, fence: () => client.head("mem://fence/x") };
  };
  const grpcPort = sdkPort({ baseUrl: daemon.grpcUrl });
  ports.set(PORTS[0], grpcPort);
  ports.set(PORTS[1], { cancel: grpcJs(raw), client: grpcPort.client, fence: () => rawHead("mem://fence/x") });
  ports.set(PORTS[2], sdkPort({ baseUrl: daemon.httpUrl, protocol: "connect" }));
  ports.set(PORTS[3], sdkPort({ baseUrl: daemon.httpUrl, protocol: "grpc" }));
  ports.set(PORTS[4], sdkPort({ baseUrl: daemon.httpUrl, protocol: "connect", httpVersion: "1.1" }));
});

function port(name: (typeof PORTS)[number]): Port {
  const found = ports.get(name);
  if (found === undefined) throw new Error(`no client for ${name}`);
  return found;
}

describe.each(["mem", "file"])("%s:// uploads of unknown size", (scheme) => {
  it.each(PORTS)("stores nothing for a cancelled upload: %s", async (name) => {
    const { client, cancel, fence } = port(name);
    const base = `${scheme}://cancel/${randomUUID()}`;
    const finished: string[] = [];
    const finishing = async (ref: string) => {
      // A streamed body (no declared size) that the client does finish.
      await client.write(
        ref,
        (async function* () {
          yield CHUNK;
          yield CHUNK;
        })(),
      );
      finished.push(ref);
      await client.head(ref);
    };
    const refs = await cancelMany(cancel, base, ITERATIONS, finishing);
    await settle(fence);
    const stored: string[] = [];
    for (const ref of refs) if ((await client.head(ref)) !== undefined) stored.push(ref);
    expect(stored).toEqual([]);
    expect(finished.length).toBe(Math.ceil(ITERATIONS / PARALLEL));
    for (const ref of finished) expect((await client.head(ref))?.size).toBe(2 * CHUNK.length);
  });
});

describe("other uploads", () => {
  it("stores nothing for cancelled uploads of declared size, and stores finished ones", async () => {
    const { client, cancel, fence } = port(PORTS[0]);
    const base = `mem://cancel/${randomUUID()}`;
    const refs = await cancelMany(
      cancel,
      base,
      14,
      async (ref) => {
        await client.write(ref, CHUNK);
      },
      8 * CHUNK.length,
    );
    await settle(fence);
    for (const ref of refs) expect(await client.head(ref)).toBeUndefined();
    expect((await client.head(`${base}/finished-0`))?.size).toBe(CHUNK.length);
  });

  it.each(["mem", "file"])("leaves a %s:// object unchanged when an Append is cancelled", async (scheme) => {
    const { client } = port(PORTS[2]);
    const ref = `${scheme}://cancel/${randomUUID()}/log`;
    await client.write(ref, "start");
    const cancel = sdk(client, "append");
    const codes: string[] = [];
    for (let start = 0; start < 14; start += PARALLEL) {
      // Appends to one object serialize; a few at a time still overlap their ends.
      const batch = Array.from({ length: Math.min(PARALLEL, 14 - start) }, (_, k) =>
        cancel(ref, PLANS[(start + k) % PLANS.length] as Plan),
      );
      for (const err of await Promise.all(batch)) codes.push(codeOf(err));
    }
    expect(new Set(codes)).toEqual(new Set(["Canceled"]));
    await settle(() => client.head(ref));
    expect((await client.head(ref))?.size).toBe(5);
    // And an Append that finishes still appends.
    await client.append(
      ref,
      (async function* () {
        yield CHUNK;
      })(),
    );
    expect((await client.head(ref))?.size).toBe(5 + CHUNK.length);
  });
});

describe("the README", () => {
  it("says what these tests show: a cancelled upload from stdin stores nothing", async () => {
    const readme = await import("node:fs/promises").then((fs) => fs.readFile(new URL("../../README.md", import.meta.url), "utf8"));
    // It used to say the daemon stores the bytes that arrived before the cancel.
    expect(readme).not.toMatch(/stores the bytes that arrived/);
    expect(readme).toMatch(/so does one from stdin or a pipe/);
  });
});
