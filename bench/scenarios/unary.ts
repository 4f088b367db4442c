// Small calls: Head and 4 KiB ReadRaw calls/s and p50/p99 latency at 1, 32
// and 256 concurrent callers, with the read cache hit (a daemon with
// cache.max_size_mbs, the same 64 small objects read over and over) and
// missed (the same objects on a daemon without a cache, so every call reaches
// the local store), next to a bare grpc-js unary echo of the same request
// bytes (the transport ceiling) and a bare 4 KiB grpc-js server stream.
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { HeadRequestSchema, ReadRawRequestSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { bareService } from "../ceilings/bare-grpc-service.js";
import { stopChild, whileAlive, type Child } from "../harness/children.js";
import { startBareGrpcServer } from "../harness/ceiling-servers.js";
import { asBuffer, drain, identity, unary } from "../harness/grpc-calls.js";
import { unaryLoad } from "../harness/measure.js";
import { CACHE_HITS, CACHE_MISSES, metricValue, startStowdDaemon } from "../harness/stowd-daemon.js";
import type { UnaryCell, UnarySection } from "../report/results.js";
import { createBareGrpcTarget } from "../targets/bare-grpc-target.js";
import { Head, ReadRaw, createStowdGrpcJsTarget } from "../targets/stowd-grpc-js-target.js";
import type { ScenarioContext } from "./context.js";

export const SMALL_BYTES = 4096;
const KEYS = 64;
/** Large enough that a 4 KiB object is cached (an entry may be 1/1024 of the cache). */
const CACHE_MBS = 64;
export const ECHO = "bare grpc-js echo";
const STREAM_4K = "bare grpc-js 4 KiB stream";

interface Load {
  target: string;
  cache: UnaryCell["cache"];
  child: Child;
  call: (caller: number, n: number) => Promise<void>;
}

export function headCall(client: grpc.Client, keys: string[]): Load["call"] {
  const requests = keys.map((reference) => create(HeadRequestSchema, { reference }));
  return async (caller, n) => {
    const res = await unary(
      client,
      Head.path,
      Head.serialize,
      Head.deserialize,
      requests[(caller + n) % requests.length] as (typeof requests)[number],
    );
    if (!res.exists) throw new Error("Head says a benchmark object does not exist");
  };
}

export function readCall(client: grpc.Client, keys: string[]): Load["call"] {
  const requests = keys.map((reference) => create(ReadRawRequestSchema, { reference }));
  return async (caller, n) => {
    const call = client.makeServerStreamRequest(
      ReadRaw.path,
      ReadRaw.serialize,
      ReadRaw.deserialize,
      requests[(caller + n) % requests.length] as (typeof requests)[number],
    );
    const bytes = await drain(call, (m) => (m.body.case === "chunk" ? m.body.value.length : 0));
    if (bytes !== SMALL_BYTES) throw new Error(`ReadRaw returned ${bytes} bytes, expected ${SMALL_BYTES}`);
  };
}

export async function runUnary(ctx: ScenarioContext): Promise<UnarySection> {
  const [bare, cached, uncached] = await Promise.all([
    startBareGrpcServer(SMALL_BYTES),
    startStowdDaemon({ name: "stowd (cache on)", dir: join(ctx.tmp, "stowd-cache"), cacheMbs: CACHE_MBS }),
    startStowdDaemon({ name: "stowd (cache off)", dir: join(ctx.tmp, "stowd-nocache") }),
  ]);
  const children = [bare.child, cached.child, uncached.child];
  for (const c of children) ctx.started(c.name, c.command);
  const keys = Array.from({ length: KEYS }, (_, i) => `file://bench/small/key-${i}`);
  const bareTarget = createBareGrpcTarget({ port: bare.port, serverPid: bare.child.pid });
  const on = createStowdGrpcJsTarget({ label: "stowd cache on", port: cached.grpcPort, serverPid: cached.child.pid, reference: (k) => k });
  const off = createStowdGrpcJsTarget({
    label: "stowd cache off",
    port: uncached.grpcPort,
    serverPid: uncached.child.pid,
    reference: (k) => k,
  });
  const guard = <T>(p: Promise<T>) => whileAlive(children, p);
  try {
    const small = ctx.payload.subarray(0, SMALL_BYTES);
    for (const k of keys) {
      await guard(on.write(k, small));
      await guard(off.write(k, small));
    }
    // Fill the cache: every later call on the cache-on daemon is a hit.
    for (const k of keys) await guard(on.read(k, SMALL_BYTES, small));
    const before = await cached.metrics();

    // The echo carries exactly the bytes of a Head request.
    const echoRequest = asBuffer(toBinary(HeadRequestSchema, create(HeadRequestSchema, { reference: keys[0] ?? "" })));
    const stream4k = Buffer.from(String(SMALL_BYTES), "ascii");
    const loads: Load[] = [
      {
        target: ECHO,
        cache: "n/a",
        child: bare.child,
        call: async () => void (await unary(bareTarget.client, bareService.Echo.path, identity, identity, echoRequest)),
      },
      {
        target: STREAM_4K,
        cache: "n/a",
        child: bare.child,
        call: async () => {
          const bytes = await drain(
            bareTarget.client.makeServerStreamRequest(bareService.Download.path, identity, identity, stream4k),
            (b: Buffer) => b.length,
          );
          if (bytes !== SMALL_BYTES) throw new Error(`bare Download returned ${bytes} bytes`);
        },
      },
      { target: "stowd Head", cache: "hit", child: cached.child, call: headCall(on.client, keys) },
      { target: "stowd Head", cache: "miss", child: uncached.child, call: headCall(off.client, keys) },
      { target: "stowd ReadRaw 4 KiB", cache: "hit", child: cached.child, call: readCall(on.client, keys) },
      { target: "stowd ReadRaw 4 KiB", cache: "miss", child: uncached.child, call: readCall(off.client, keys) },
    ];
    const cells: UnaryCell[] = [];
    for (const concurrency of ctx.options.concurrency) {
      const row = loads.map((l): { load: Load; cell: UnaryCell } => ({
        load: l,
        cell: { target: l.target, cache: l.cache, concurrency, runs: [] },
      }));
      for (const { load } of row) await guard(unaryLoad(load.child.pid, load.call, concurrency, Math.min(0.5, ctx.options.unarySeconds)));
      // Runs interleaved across loads, as the streams are.
      for (let run = 0; run < ctx.options.runs; run++) {
        for (const { load, cell } of row) {
          const r = await guard(unaryLoad(load.child.pid, load.call, concurrency, ctx.options.unarySeconds));
          cell.runs.push(r);
          ctx.progress(
            `unary: ${load.target} (cache ${load.cache}) x${concurrency} run ${run + 1}/${ctx.options.runs}: ${r.callsPerSecond.toFixed(0)} calls/s, p99 ${r.p99Ms.toFixed(2)} ms`,
          );
        }
      }
      cells.push(...row.map((r) => r.cell));
    }
    const after = await cached.metrics();
    const counter = (text: string, name: string) => metricValue(text, name);
    return {
      title: "Head and 4 KiB ReadRaw: calls/s and latency by concurrent callers, cache hit and miss",
      ceiling: ECHO,
      streamCeiling: { target: STREAM_4K, appliesTo: "ReadRaw" },
      cells,
      cacheCheck: {
        hits: counter(after, CACHE_HITS) - counter(before, CACHE_HITS),
        misses: counter(after, CACHE_MISSES) - counter(before, CACHE_MISSES),
      },
      notes: [
        `${KEYS} objects of ${SMALL_BYTES} bytes on file://, read round-robin. Hit: a daemon with cache.max_size_mbs: ${CACHE_MBS}, filled before the runs. Miss: a daemon without a cache, so every call stats and reads the local disk (page cache warm).`,
        "One plain grpc-js client (one HTTP/2 connection) per server; callers are closed loops in the benchmark process, which is often the bottleneck at 256.",
        `${ECHO}: a unary call echoing the exact bytes of a Head request; ${STREAM_4K}: a server stream of one 4 KiB message, the ceiling of a small ReadRaw.`,
      ],
    };
  } finally {
    for (const t of [bareTarget, on, off]) t.close();
    await Promise.all(children.map(stopChild));
  }
}
