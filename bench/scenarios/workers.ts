// server.workers: Head calls/s with the cache hit at 256 callers from two
// client processes (128 callers each, over 4 connections each), against a
// daemon with 1 worker and one with 2, runs alternated. Two client processes
// so the load generator is not one core's worth; on 2 cores they share the
// machine with the daemon, which the notes say. This file is also the client
// process (`--client`): it prints "ready" once connected and warmed up, then
// one JSON result line for every "go" line on stdin.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { HeadRequestSchema, ReadRawRequestSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { spawnNode, stopChild, whileAlive, childFailure, type Child } from "../harness/children.js";
import { drain, unary } from "../harness/grpc-calls.js";
import { unaryLoad } from "../harness/measure.js";
import { procCpuSeconds } from "../harness/proc-stats.js";
import { CACHE_HITS, CACHE_MISSES, metricValue, startStowdDaemon } from "../harness/stowd-daemon.js";
import type { UnaryRun, WorkersSection } from "../report/results.js";
import { Head, ReadRaw, createStowdGrpcJsTarget } from "../targets/stowd-grpc-js-target.js";
import type { ScenarioContext } from "./context.js";
import { isEntryModule } from "../../server/entry-module.js";

const CALLERS = 256;
const CLIENT_PROCESSES = 2;
/** Connections per client process: the primary hands each new one to the next worker, so 8 spread over both. */
const CONNECTIONS = 4;
const KEYS = 64;
const SMALL_BYTES = 4096;
const CACHE_MBS = 64;
const keyOf = (i: number) => `file://bench/small/key-${i}`;

interface WorkersDaemon {
  workers: number;
  child: Child;
  grpcPort: number;
  httpPort: number;
  /** CPU seconds of the daemon's processes: the primary and its workers. */
  cpuSeconds(): number;
}

/** A daemon on file:// with the cache on and `workers` workers. */
async function startWorkersDaemon(ctx: ScenarioContext, workers: number): Promise<WorkersDaemon> {
  const daemon = await startStowdDaemon({
    name: `stowd ${workers} worker${workers === 1 ? "" : "s"}`,
    dir: join(ctx.tmp, `stowd-workers-${workers}`),
    cacheMbs: CACHE_MBS,
    workers,
  });
  const { child } = daemon;
  ctx.started(child.name, child.command);
  const pids = () => {
    try {
      return [child.pid, ...childPids(child.pid)];
    } catch {
      return [child.pid];
    }
  };
  return {
    workers,
    child,
    grpcPort: daemon.grpcPort,
    httpPort: daemon.httpPort,
    cpuSeconds: () => pids().reduce((sum, pid) => sum + procCpuSeconds(pid), 0),
  };
}

function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

async function cacheCounters(daemon: WorkersDaemon): Promise<{ hits: number; misses: number }> {
  const text = await (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text();
  return { hits: metricValue(text, CACHE_HITS), misses: metricValue(text, CACHE_MISSES) };
}

interface ClientProcess {
  child: Child;
  lines: Interface;
  next(): Promise<string>;
}

function startClient(ctx: ScenarioContext, daemon: WorkersDaemon, index: number): ClientProcess {
  const callers = CALLERS / CLIENT_PROCESSES;
  const child = spawnNode(`workers client ${index} -> ${daemon.child.name}`, "bench/scenarios/workers.ts", [
    "--client",
    String(daemon.grpcPort),
    String(callers),
    String(ctx.options.unarySeconds),
    String(daemon.child.pid),
  ]);
  const lines = createInterface({ input: child.proc.stdout! });
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => (waiting.length > 0 ? waiting.shift()!(line) : queue.push(line)));
  return {
    child,
    lines,
    next: () => whileAlive([child], new Promise<string>((resolve) => (queue.length > 0 ? resolve(queue.shift()!) : waiting.push(resolve)))),
  };
}

/** One measured run: both clients start together; calls add up, latencies are the worse client's. */
async function measure(daemon: WorkersDaemon, clients: ClientProcess[]): Promise<UnaryRun> {
  const cpuBefore = daemon.cpuSeconds();
  for (const c of clients) c.child.proc.stdin!.write("go\n");
  const runs = (await Promise.all(clients.map((c) => c.next()))).map((line) => JSON.parse(line) as UnaryRun);
  const calls = runs.reduce((n, r) => n + r.calls, 0);
  return {
    callsPerSecond: runs.reduce((n, r) => n + r.callsPerSecond, 0),
    p50Ms: Math.max(...runs.map((r) => r.p50Ms)),
    p99Ms: Math.max(...runs.map((r) => r.p99Ms)),
    calls,
    serverCpuUs: (1e6 * (daemon.cpuSeconds() - cpuBefore)) / calls,
    clientCpuUs: runs.reduce((n, r) => n + r.clientCpuUs * r.calls, 0) / calls,
  };
}

export async function runWorkers(ctx: ScenarioContext): Promise<WorkersSection> {
  const daemons = [await startWorkersDaemon(ctx, 1), await startWorkersDaemon(ctx, 2)];
  const clients = new Map<WorkersDaemon, ClientProcess[]>();
  try {
    for (const daemon of daemons) {
      const writer = createStowdGrpcJsTarget({
        label: daemon.child.name,
        port: daemon.grpcPort,
        serverPid: daemon.child.pid,
        reference: (k) => k,
      });
      for (let i = 0; i < KEYS; i++) await whileAlive([daemon.child], writer.write(keyOf(i), ctx.payload.subarray(0, SMALL_BYTES)));
      writer.close();
      const started = Array.from({ length: CLIENT_PROCESSES }, (_, i) => startClient(ctx, daemon, i + 1));
      for (const c of started) if ((await c.next()) !== "ready") throw childFailure(c.child, "did not get ready");
      clients.set(daemon, started);
    }
    const cacheBefore = await Promise.all(daemons.map(cacheCounters));
    const cells = daemons.map((d) => ({ workers: d.workers, runs: [] as UnaryRun[] }));
    for (let run = 0; run < ctx.options.runs; run++) {
      for (const [i, daemon] of daemons.entries()) {
        const r = await measure(daemon, clients.get(daemon)!);
        cells[i]!.runs.push(r);
        ctx.progress(
          `workers: ${daemon.workers} x${CALLERS} run ${run + 1}/${ctx.options.runs}: ${r.callsPerSecond.toFixed(0)} calls/s, p99 ${r.p99Ms.toFixed(2)} ms, ${r.serverCpuUs.toFixed(0)} µs server CPU/call`,
        );
      }
    }
    const cacheAfter = await Promise.all(daemons.map(cacheCounters));
    const cacheNote = daemons
      .map((d, i) => {
        const [before, after] = [cacheBefore[i]!, cacheAfter[i]!];
        return `${d.workers} worker${d.workers === 1 ? "" : "s"} ${after.hits - before.hits} hits, ${after.misses - before.misses} misses`;
      })
      .join("; ");
    return {
      title: `server.workers: Head (cache hit) at ${CALLERS} callers from ${CLIENT_PROCESSES} client processes, 1 worker vs 2`,
      callers: CALLERS,
      cells,
      notes: [
        `${KEYS} objects of ${SMALL_BYTES} bytes on file://, cache.max_size_mbs: ${CACHE_MBS}, every call a cache hit after a warm-up. ${CLIENT_PROCESSES} client processes of ${CALLERS / CLIENT_PROCESSES} closed-loop callers over ${CONNECTIONS} grpc-js connections each; the primary hands each connection to the next worker, so the 2-worker daemon serves 4 connections per worker.`,
        `Cache check during the runs (/metrics, every worker summed): ${cacheNote}.`,
        "calls/s adds up both clients; p50/p99 are the worse client's. Server CPU is the daemon's primary and workers together. The daemon and both client processes share the machine's cores: on 2 cores the clients take a large part of them, so 2 workers cannot double the calls/s here.",
      ],
    };
  } finally {
    for (const list of clients.values()) for (const c of list) c.lines.close();
    await Promise.all([...[...clients.values()].flat().map((c) => stopChild(c.child)), ...daemons.map((d) => stopChild(d.child))]);
  }
}

/** The client process: `--client PORT CALLERS SECONDS DAEMON_PID`. */
async function runClient(args: string[]): Promise<void> {
  const [port, callers, seconds, daemonPid] = args.map(Number) as [number, number, number, number];
  // A local subchannel pool: each client its own connection (grpc-js shares one between identical clients otherwise).
  const connections = Array.from(
    { length: CONNECTIONS },
    () => new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }),
  );
  const requests = Array.from({ length: KEYS }, (_, i) => create(HeadRequestSchema, { reference: keyOf(i) }));
  const call = async (caller: number, n: number) => {
    const res = await unary(
      connections[caller % CONNECTIONS]!,
      Head.path,
      Head.serialize,
      Head.deserialize,
      requests[(caller + n) % KEYS]!,
    );
    if (!res.exists) throw new Error("Head says a benchmark object does not exist");
  };
  // Head never fills the cache: a read of every object on every connection fills each worker's, then a warm-up.
  for (const connection of connections) {
    for (let i = 0; i < KEYS; i++) {
      const request = create(ReadRawRequestSchema, { reference: keyOf(i) });
      const stream = connection.makeServerStreamRequest(ReadRaw.path, ReadRaw.serialize, ReadRaw.deserialize, request);
      await drain(stream, (m) => (m.body.case === "chunk" ? m.body.value.length : 0));
    }
  }
  await unaryLoad(daemonPid, call, callers, 1);
  process.stdout.write("ready\n");
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== "go") continue;
    process.stdout.write(`${JSON.stringify(await unaryLoad(daemonPid, call, callers, seconds))}\n`);
  }
  for (const c of connections) c.close();
}

if (isEntryModule(import.meta.url) && process.argv[2] === "--client") {
  runClient(process.argv.slice(3)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
