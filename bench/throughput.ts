// `npm run bench` (tsx bench/throughput.ts): stowd's gRPC port next to a bare
// grpc-js server on the same machine, in one run:
//   1. ReadRaw / WriteRaw MB/s for one object (256 MiB) on mem:// and file://,
//      next to a bare grpc-js server stream / client stream of the same bytes;
//   2. Head calls/s and p50/p99 latency at 1 and 32 concurrent callers, next
//      to a bare grpc-js unary echo;
//   3. the peak RSS of each server process during the reads and writes.
// Each server is its own child process (stowd via server/main.ts), so client
// and server never share an event loop. Everything stays on 127.0.0.1.
// This is a benchmark, not a test: it prints numbers and fails only when a
// call fails or returns wrong bytes.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  DeleteRequestSchema,
  DeleteResponseSchema,
  HeadRequestSchema,
  HeadResponseSchema,
  ReadRawRequestSchema,
  ReadRawResponseSchema,
  WriteRawRequestSchema,
  WriteRawResponseSchema,
} from "../gen/stowd/v1/raw_store_pb.js";
import { CHUNK_BYTES, CLIENT_OPTIONS, MiB, bareService, makePayload } from "./common.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// ---------------------------------------------------------------- options

const usage = `usage: npm run bench -- [options]
  --size-mib N       object size for the stream measurements (default 256)
  --runs N           runs per measurement; the median is reported (default 3)
  --head-seconds S   duration of one Head / echo run (default 2)
  --json FILE        also write the results as JSON (default bench/results/latest.json, "" = off)
  --help             show this text`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      "size-mib": { type: "string", default: "256" },
      runs: { type: "string", default: "3" },
      "head-seconds": { type: "string", default: "2" },
      json: { type: "string", default: join(REPO, "bench", "results", "latest.json") },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const sizeMib = Number(values["size-mib"]);
  const runs = Number(values.runs);
  const headSeconds = Number(values["head-seconds"]);
  if (!(Number.isInteger(sizeMib) && sizeMib > 0)) throw new Error(`--size-mib must be a positive integer\n${usage}`);
  if (!(Number.isInteger(runs) && runs > 0)) throw new Error(`--runs must be a positive integer\n${usage}`);
  if (!(headSeconds > 0)) throw new Error(`--head-seconds must be positive\n${usage}`);
  return { size: sizeMib * MiB, runs, headSeconds, json: values.json };
}

// ---------------------------------------------------------------- child processes

interface Child {
  name: string;
  command: string;
  proc: ChildProcess;
  /** Last lines of its stderr, shown when something fails. */
  stderrTail: string[];
  exited: Promise<void>;
  /** Set when the benchmark itself stopped it. */
  stoppedByUs: boolean;
}

const children = new Set<Child>();
/** Every child ever started, for the failure report. */
const startedChildren: Child[] = [];
/** Temp dir holding the daemons' data; removed on every exit path. */
let tmpDir: string | undefined;

function cleanUpNow(): void {
  killAllNow();
  if (tmpDir !== undefined) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}

/** Runs `node --import tsx SCRIPT ARGS` in the repository: one process, so its pid is the server's. */
function spawnTs(name: string, script: string, args: string[]): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, STOWD_LOG_LEVEL: "info" }, // only shown when something fails
  });
  const child: Child = {
    name,
    command: `node --import tsx ${script} ${args.join(" ")}`.trim(),
    proc,
    stderrTail: [],
    exited: once(proc, "exit").then(() => undefined),
    stoppedByUs: false,
  };
  proc.stderr?.setEncoding("utf8").on("data", (text: string) => {
    child.stderrTail.push(...text.split("\n").filter((l) => l !== ""));
    child.stderrTail.splice(0, Math.max(0, child.stderrTail.length - 20));
  });
  children.add(child);
  startedChildren.push(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

function childFailure(child: Child, what: string): Error {
  const tail = child.stderrTail.length > 0 ? `\n  ${child.stderrTail.join("\n  ")}` : "";
  return new Error(`${child.name} ${what} (exit code ${String(child.proc.exitCode)}, signal ${String(child.proc.signalCode)})${tail}`);
}

/** Rejects when the child exits; used to race every wait on it. */
function exitAsError(child: Child): Promise<never> {
  const p = child.exited.then(() => {
    throw childFailure(child, "exited");
  });
  p.catch(() => undefined);
  return p;
}

async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.stoppedByUs = true;
  child.proc.kill("SIGTERM");
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), 5000);
  await child.exited;
  clearTimeout(timer);
}

function killAllNow(): void {
  for (const child of children) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) {
      child.stoppedByUs = true;
      child.proc.kill("SIGKILL");
    }
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

async function waitForPort(port: number, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        done(true);
      });
      socket.once("error", () => done(false));
    });
    if (ok) return;
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw childFailure(child, "exited before it listened");
    if (Date.now() > deadline) throw childFailure(child, `did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Daemon {
  child: Child;
  client: grpc.Client;
  port: number;
}

async function startStowd(name: string, dataDir: string): Promise<Daemon> {
  mkdirSync(dataDir, { recursive: true });
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const child = spawnTs(name, "server/main.ts", [
    "--data-dir",
    dataDir,
    "--grpc-address",
    `127.0.0.1:${grpcPort}`,
    "--http-address",
    `127.0.0.1:${httpPort}`,
  ]);
  await waitForPort(grpcPort, child);
  const client = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
  return { child, client, port: grpcPort };
}

async function startBare(size: number): Promise<Daemon> {
  const child = spawnTs("bare grpc-js server", "bench/bare-server.ts", [String(size)]);
  let buffered = "";
  const port = await Promise.race([
    new Promise<number>((resolvePort, reject) => {
      child.proc.stdout?.setEncoding("utf8").on("data", (text: string) => {
        buffered += text;
        const line = buffered.split("\n")[0];
        if (line === undefined || !buffered.includes("\n")) return;
        try {
          resolvePort((JSON.parse(line) as { port: number }).port);
        } catch {
          reject(childFailure(child, `printed ${JSON.stringify(line)} instead of {"port":N}`));
        }
      });
    }),
    exitAsError(child),
  ]);
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
  return { child, client, port };
}

// ---------------------------------------------------------------- /proc

function procStatus(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (10 ms resolution). */
function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds this (client) process has used so far. */
function selfCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Machine-wide busy and steal CPU seconds so far, from /proc/stat. */
function machineCpuSeconds(): { busy: number; steal: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (user + nice + system + irq + softirq + steal) / CLK_TCK, steal: steal / CLK_TCK };
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"); false where not allowed. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

interface RssSample {
  /** RSS right before the operation. */
  beforeMiB: number;
  /** Peak RSS during it: VmHWM after a clear_refs reset, else the highest VmRSS sampled every 10 ms. */
  peakMiB: number;
  method: "VmHWM" | "VmRSS sampled";
}

async function measureRss<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; rss: RssSample }> {
  const before = procStatus(pid).rssKiB;
  const exact = resetPeak(pid);
  let sampled = before;
  const timer = setInterval(() => {
    sampled = Math.max(sampled, procStatus(pid).rssKiB);
  }, 10);
  try {
    const value = await fn();
    const after = procStatus(pid);
    sampled = Math.max(sampled, after.rssKiB);
    const peak = exact ? Math.max(after.hwmKiB, sampled) : sampled;
    return { value, rss: { beforeMiB: before / 1024, peakMiB: peak / 1024, method: exact ? "VmHWM" : "VmRSS sampled" } };
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------- generic grpc-js calls

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

interface ProtoMethod<I extends DescMessage, O extends DescMessage> {
  path: string;
  serialize: (value: MessageShape<I>) => Buffer;
  deserialize: (bytes: Buffer) => MessageShape<O>;
}

function protoMethod<I extends DescMessage, O extends DescMessage>(name: string, input: I, output: O): ProtoMethod<I, O> {
  return {
    path: `/stowd.v1.RawStoreService/${name}`,
    serialize: (value) => asBuffer(toBinary(input, value)),
    deserialize: (bytes) => fromBinary(output, bytes),
  };
}

const ReadRaw = protoMethod("ReadRaw", ReadRawRequestSchema, ReadRawResponseSchema);
const WriteRaw = protoMethod("WriteRaw", WriteRawRequestSchema, WriteRawResponseSchema);
const Head = protoMethod("Head", HeadRequestSchema, HeadResponseSchema);
const Delete = protoMethod("Delete", DeleteRequestSchema, DeleteResponseSchema);
const identity = (b: Buffer): Buffer => b;

function unary<Req, Res>(client: grpc.Client, path: string, ser: (v: Req) => Buffer, de: (b: Buffer) => Res, req: Req): Promise<Res> {
  return new Promise((resolveCall, reject) => {
    client.makeUnaryRequest(path, ser, de, req, (err, res) => (err !== null || res === undefined ? reject(err ?? new Error(`${path}: no response`)) : resolveCall(res)));
  });
}

/** Drains a server stream; `onMessage` returns the data bytes a message carried. */
function drain<Res>(call: grpc.ClientReadableStream<Res>, onMessage: (m: Res) => number): Promise<number> {
  return new Promise((resolveCall, reject) => {
    let bytes = 0;
    call.on("data", (m: Res) => {
      try {
        bytes += onMessage(m);
      } catch (err) {
        call.cancel();
        reject(err as Error);
      }
    });
    call.on("error", reject);
    call.on("status", (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolveCall(bytes);
    });
  });
}

/** Writes every message with backpressure, ends the stream and returns the response. */
async function upload<Req, Res>(client: grpc.Client, path: string, ser: (v: Req) => Buffer, de: (b: Buffer) => Res, messages: Iterable<Req>): Promise<Res> {
  let call: grpc.ClientWritableStream<Req> | undefined;
  const response = new Promise<Res>((resolveCall, reject) => {
    call = client.makeClientStreamRequest(path, ser, de, (err, res) => (err !== null || res === undefined ? reject(err ?? new Error(`${path}: no response`)) : resolveCall(res)));
  });
  // Stop waiting for drain once the call has failed (no Promise.race against
  // the long-lived response promise: that retains every raced value).
  const failed = new AbortController();
  response.catch(() => failed.abort());
  const stream = call as unknown as grpc.ClientWritableStream<Req>;
  stream.on("error", () => undefined); // the callback reports errors
  for (const message of messages) {
    if (stream.write(message)) continue;
    try {
      await once(stream, "drain", { signal: failed.signal });
    } catch {
      return response; // rejects with the call's error
    }
  }
  stream.end();
  return response;
}

function* chunksOf(payload: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < payload.length; offset += CHUNK_BYTES) yield payload.subarray(offset, Math.min(offset + CHUNK_BYTES, payload.length));
}

/** Throws unless `chunk` equals the payload at `offset`. */
function verifyAt(payload: Buffer, offset: number, chunk: Uint8Array): void {
  if (offset + chunk.length > payload.length || payload.compare(chunk, 0, chunk.length, offset, offset + chunk.length) !== 0) {
    throw new Error(`wrong bytes at offset ${offset} (chunk of ${chunk.length})`);
  }
}

// ---------------------------------------------------------------- the operations

interface StreamTarget {
  label: string;
  server: Daemon;
  write(payload: Buffer): Promise<void>;
  /** Reads the object; verifies every byte against `verify` when given. */
  read(size: number, verify?: Buffer): Promise<number>;
  /** Removes the object before a write, so each write stores a new object (untimed). */
  reset(): Promise<void>;
}

function stowdTarget(label: string, server: Daemon, reference: string): StreamTarget {
  const { client } = server;
  return {
    label,
    server,
    async write(payload) {
      const header = create(WriteRawRequestSchema, {
        body: { case: "header", value: { reference, size: BigInt(payload.length), contentType: "application/octet-stream" } },
      });
      function* messages() {
        yield header;
        for (const chunk of chunksOf(payload)) yield create(WriteRawRequestSchema, { body: { case: "chunk", value: chunk } });
      }
      const res = await upload(client, WriteRaw.path, WriteRaw.serialize, WriteRaw.deserialize, messages());
      if (res.info?.size !== BigInt(payload.length)) throw new Error(`${label}: WriteRaw stored ${String(res.info?.size)} bytes, sent ${payload.length}`);
    },
    async read(size, verify) {
      const call = client.makeServerStreamRequest(ReadRaw.path, ReadRaw.serialize, ReadRaw.deserialize, create(ReadRawRequestSchema, { reference }));
      let offset = 0;
      let header = false;
      const bytes = await drain(call, (m) => {
        if (m.body.case === "header") {
          if (header || m.body.value.info?.size !== BigInt(size)) throw new Error(`${label}: unexpected ReadRaw header`);
          header = true;
          return 0;
        }
        if (m.body.case !== "chunk" || !header) throw new Error(`${label}: ReadRaw sent a chunk before the header`);
        if (verify !== undefined) verifyAt(verify, offset, m.body.value);
        offset += m.body.value.length;
        return m.body.value.length;
      });
      if (bytes !== size) throw new Error(`${label}: ReadRaw returned ${bytes} bytes, expected ${size}`);
      return bytes;
    },
    async reset() {
      await unary(client, Delete.path, Delete.serialize, Delete.deserialize, create(DeleteRequestSchema, { reference, allowMissing: true }));
    },
  };
}

function bareTarget(server: Daemon): StreamTarget {
  const { client } = server;
  const { Download, Upload } = bareService;
  return {
    label: "bare grpc-js",
    server,
    async write(payload) {
      const res = await upload(client, Upload.path, identity, identity, chunksOf(payload));
      if (res.toString("ascii") !== String(payload.length)) throw new Error(`bare Upload counted ${res.toString("ascii")} bytes, sent ${payload.length}`);
    },
    async read(size, verify) {
      const call = client.makeServerStreamRequest(Download.path, identity, identity, Buffer.from(String(size), "ascii"));
      let offset = 0;
      const bytes = await drain(call, (chunk: Buffer) => {
        if (verify !== undefined) verifyAt(verify, offset, chunk);
        offset += chunk.length;
        return chunk.length;
      });
      if (bytes !== size) throw new Error(`bare Download returned ${bytes} bytes, expected ${size}`);
      return bytes;
    },
    async reset() {},
  };
}

interface StreamRun {
  mbps: number;
  seconds: number;
  /** CPU used during the run, in % of one core. */
  serverCpuPct: number;
  clientCpuPct: number;
  rss: RssSample;
}

async function timedStream(target: StreamTarget, op: () => Promise<unknown>, bytes: number): Promise<StreamRun> {
  const pid = target.server.child.proc.pid as number;
  const { rss, value } = await measureRss(pid, async () => {
    const serverCpu = procCpuSeconds(pid);
    const clientCpu = selfCpuSeconds();
    const start = performance.now();
    await Promise.race([op(), exitAsError(target.server.child)]);
    const seconds = (performance.now() - start) / 1000;
    return { seconds, server: procCpuSeconds(pid) - serverCpu, client: selfCpuSeconds() - clientCpu };
  });
  const { seconds } = value;
  return { mbps: bytes / 1e6 / seconds, seconds, serverCpuPct: (100 * value.server) / seconds, clientCpuPct: (100 * value.client) / seconds, rss };
}

interface UnaryRun {
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  calls: number;
  /** CPU per call, microseconds, server process and this client process. */
  serverCpuUs: number;
  clientCpuUs: number;
}

async function unaryLoad(serverPid: number, call: () => Promise<void>, concurrency: number, seconds: number): Promise<UnaryRun> {
  const latencies: number[] = [];
  const serverCpu = procCpuSeconds(serverPid);
  const clientCpu = selfCpuSeconds();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  const n = latencies.length;
  return {
    callsPerSecond: n / elapsed,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    calls: n,
    serverCpuUs: (1e6 * (procCpuSeconds(serverPid) - serverCpu)) / n,
    clientCpuUs: (1e6 * (selfCpuSeconds() - clientCpu)) / n,
  };
}

// ---------------------------------------------------------------- reporting

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "median (min–max)" */
function spread(values: number[], digits = 0): string {
  return values.length === 1 ? fmt(values[0] as number, digits) : `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const grpcJs = (JSON.parse(readFileSync(join(REPO, "node_modules", "@grpc", "grpc-js", "package.json"), "utf8")) as { version: string }).version;
  return { cores: cpus().length, model, memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, kernel: release(), node: process.version, grpcJs };
}

function invocation(): string {
  const args = process.argv.slice(2).join(" ");
  if (process.env.npm_lifecycle_event === "bench") return `npm run bench${args === "" ? "" : ` -- ${args}`}   (${process.env.npm_lifecycle_script ?? ""})`;
  return `tsx ${relative(process.cwd(), fileURLToPath(import.meta.url))}${args === "" ? "" : ` ${args}`}   (cwd ${process.cwd()})`;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseOptions();
  const started = performance.now();
  const host = machine();
  console.log("stowd throughput benchmark");
  console.log(`command: ${invocation()}`);
  console.log(`node ${host.node}, @grpc/grpc-js ${host.grpcJs}, linux ${host.kernel}`);
  console.log(`machine: ${host.cores} cores, ${host.model}, ${host.memGiB} GiB RAM`);
  console.log(
    `setup: ${opts.size / MiB} MiB object, ${CHUNK_BYTES / MiB} MiB chunks, median of ${opts.runs} runs, client options ${JSON.stringify(CLIENT_OPTIONS)} on both clients, MB = 10^6 bytes`,
  );

  const machineAtStart = machineCpuSeconds();
  const selfAtStart = selfCpuSeconds();
  const tmp = mkdtempSync(join(tmpdir(), "stowd-bench-"));
  tmpDir = tmp;
  // On failure the catch handler below reports the children, then cleans up.
  const payload = makePayload(opts.size);
  const [bare, stowdMem, stowdFile] = await Promise.all([
    startBare(opts.size),
    // One daemon per store, so the file:// RSS is not inflated by a mem:// object.
    startStowd("stowd (mem://)", join(tmp, "mem-daemon-data")),
    startStowd("stowd (file://)", join(tmp, "file-daemon-data")),
  ]);
  for (const d of [bare, stowdMem, stowdFile]) console.log(`child: ${d.child.name}, pid ${String(d.child.proc.pid)}, 127.0.0.1:${d.port}: ${d.child.command}`);

  const targets = [bareTarget(bare), stowdTarget("stowd mem://", stowdMem, "mem://bench/obj"), stowdTarget("stowd file://", stowdFile, "file://bench/obj")];
  const idleMiB = targets.map((t) => procStatus(t.server.child.proc.pid as number).rssKiB / 1024);

  // Warm-up (untimed): a 16 MiB round trip through every path, verified.
  const warm = payload.subarray(0, Math.min(opts.size, 16 * MiB));
  for (const t of targets) {
    await t.reset();
    await t.write(warm);
    await t.read(warm.length, warm);
  }

  // Streams, runs interleaved across targets so drift hits all of them alike.
  const writes = new Map<StreamTarget, StreamRun[]>(targets.map((t) => [t, []]));
  const reads = new Map<StreamTarget, StreamRun[]>(targets.map((t) => [t, []]));
  for (let run = 0; run < opts.runs; run++) {
    for (const t of targets) {
      await t.reset();
      writes.get(t)?.push(await timedStream(t, () => t.write(payload), payload.length));
    }
  }
  for (let run = 0; run < opts.runs; run++) {
    for (const t of targets) reads.get(t)?.push(await timedStream(t, () => t.read(payload.length), payload.length));
  }
  // One untimed read per path checks every byte (and so what the writes stored).
  for (const t of targets) await t.read(payload.length, payload);

  // Unary: Head on stowd (an existing mem:// object) next to the bare echo.
  const headReq = create(HeadRequestSchema, { reference: "mem://bench/obj" });
  const echoReq = asBuffer(toBinary(HeadRequestSchema, headReq)); // same request bytes on the wire
  const stowdHead = async () => {
    const res = await unary(stowdMem.client, Head.path, Head.serialize, Head.deserialize, headReq);
    if (!res.exists) throw new Error("Head says mem://bench/obj does not exist");
  };
  const bareEcho = async () => {
    await unary(bare.client, bareService.Echo.path, identity, identity, echoReq);
  };
  const unaryResults: { concurrency: number; bare: UnaryRun[]; stowd: UnaryRun[] }[] = [];
  for (const concurrency of [1, 32]) {
    const entry = { concurrency, bare: [] as UnaryRun[], stowd: [] as UnaryRun[] };
    const barePid = bare.child.proc.pid as number;
    const stowdPid = stowdMem.child.proc.pid as number;
    await unaryLoad(barePid, bareEcho, concurrency, 0.5);
    await unaryLoad(stowdPid, stowdHead, concurrency, 0.5);
    for (let run = 0; run < opts.runs; run++) {
      entry.bare.push(await Promise.race([unaryLoad(barePid, bareEcho, concurrency, opts.headSeconds), exitAsError(bare.child)]));
      entry.stowd.push(await Promise.race([unaryLoad(stowdPid, stowdHead, concurrency, opts.headSeconds), exitAsError(stowdMem.child)]));
    }
    unaryResults.push(entry);
  }

  // ------------------------------------------------------------ print
  const [bareT, memT, fileT] = targets as [StreamTarget, StreamTarget, StreamTarget];
  const runsOf = (m: Map<StreamTarget, StreamRun[]>, t: StreamTarget) => m.get(t) ?? [];
  const mbps = (m: Map<StreamTarget, StreamRun[]>, t: StreamTarget) => runsOf(m, t).map((r) => r.mbps);
  const ratio = (a: number[], b: number[]) => fmt(median(a) / median(b), 2);
  const streamRow = (name: string, m: Map<StreamTarget, StreamRun[]>) => [
    name,
    spread(mbps(m, bareT)),
    spread(mbps(m, memT)),
    ratio(mbps(m, memT), mbps(m, bareT)),
    spread(mbps(m, fileT)),
    ratio(mbps(m, fileT), mbps(m, bareT)),
  ];
  console.log(`\nStreams: ${opts.size / MiB} MiB in ${CHUNK_BYTES / MiB} MiB messages, MB/s, median (min–max) of ${opts.runs}`);
  console.log(
    table(
      ["", "bare grpc-js", "stowd mem://", "mem/bare", "stowd file://", "file/bare"],
      [streamRow("ReadRaw  (server stream)", reads), streamRow("WriteRaw (client stream)", writes)],
    ),
  );
  const cpu = (runs: StreamRun[], key: "serverCpuPct" | "clientCpuPct") => fmt(median(runs.map((r) => r[key])));
  console.log(`\nStream CPU, % of one core (median): server process / client (this) process`);
  console.log(
    table(
      ["", "read: server", "read: client", "write: server", "write: client"],
      targets.map((t) => [t.label, cpu(runsOf(reads, t), "serverCpuPct"), cpu(runsOf(reads, t), "clientCpuPct"), cpu(runsOf(writes, t), "serverCpuPct"), cpu(runsOf(writes, t), "clientCpuPct")]),
    ),
  );

  console.log(`\nUnary: stowd Head (mem://, object exists) vs bare grpc-js echo of the same request bytes; ${opts.headSeconds} s per run, median of ${opts.runs}; CPU in µs per call`);
  const um = (runs: UnaryRun[], key: keyof UnaryRun, digits = 0) => fmt(median(runs.map((r) => r[key])), digits);
  console.log(
    table(
      ["", "callers", "calls/s (min–max)", "p50 ms", "p99 ms", "server CPU", "client CPU", "stowd/bare calls/s"],
      unaryResults.flatMap((e) => [
        ["bare echo", String(e.concurrency), spread(e.bare.map((r) => r.callsPerSecond)), um(e.bare, "p50Ms", 3), um(e.bare, "p99Ms", 3), um(e.bare, "serverCpuUs"), um(e.bare, "clientCpuUs"), ""],
        [
          "stowd Head",
          String(e.concurrency),
          spread(e.stowd.map((r) => r.callsPerSecond)),
          um(e.stowd, "p50Ms", 3),
          um(e.stowd, "p99Ms", 3),
          um(e.stowd, "serverCpuUs"),
          um(e.stowd, "clientCpuUs"),
          ratio(
            e.stowd.map((r) => r.callsPerSecond),
            e.bare.map((r) => r.callsPerSecond),
          ),
        ],
      ]),
    ),
  );

  const method = [...writes.values(), ...reads.values()].flat().every((r) => r.rss.method === "VmHWM") ? "VmHWM after a clear_refs reset" : "VmRSS sampled every 10 ms";
  console.log(`\nServer RSS, MiB: RSS when the op started -> peak during it (+growth); worst of ${opts.runs} runs; peak = ${method}`);
  const rssCell = (runs: StreamRun[]) => {
    const worst = runs.reduce((w, r) => (r.rss.peakMiB - r.rss.beforeMiB > w.rss.peakMiB - w.rss.beforeMiB ? r : w));
    return `${fmt(worst.rss.beforeMiB)} -> ${fmt(worst.rss.peakMiB)} (+${fmt(worst.rss.peakMiB - worst.rss.beforeMiB)})`;
  };
  console.log(
    table(
      ["process", "idle at start", "during write", "during read"],
      targets.map((t, i) => [
        t.label + (t === bareT ? " (holds the payload)" : t === memT ? " (store holds the object)" : ""),
        fmt(idleMiB[i] ?? NaN),
        rssCell(runsOf(writes, t)),
        rssCell(runsOf(reads, t)),
      ]),
    ),
  );
  console.log(
    [
      "How to read it: a streaming path's growth must not depend on the object size (compare --size-mib 64 and 512).",
      "mem:// writes necessarily grow by at least the object (the store keeps it); the bare server holds its payload from the start.",
    ].join("\n"),
  );
  const totalSeconds = (performance.now() - started) / 1000;
  // Whatever else ran on the machine meanwhile skews every number above: say how much.
  const machineNow = machineCpuSeconds();
  const ours = selfCpuSeconds() - selfAtStart + [bare, stowdMem, stowdFile].reduce((sum, d) => sum + procCpuSeconds(d.child.proc.pid as number), 0);
  const foreignCores = Math.max(0, machineNow.busy - machineAtStart.busy - ours) / totalSeconds;
  const stealCores = (machineNow.steal - machineAtStart.steal) / totalSeconds;
  const noise = { foreignCores, stealCores };
  console.log(
    `\nother load during the run: ${fmt(foreignCores, 2)} cores busy outside the benchmark's processes, ${fmt(stealCores, 2)} cores stolen by the hypervisor (of ${host.cores})` +
      (foreignCores > 0.1 || stealCores > 0.1 ? "  <-- NOISY: numbers are not trustworthy; rerun on a quiet machine" : ""),
  );
  console.log(`total ${fmt(totalSeconds, 1)} s`);

  if (opts.json !== "") {
    mkdirSync(dirname(opts.json), { recursive: true });
    const record = {
      date: new Date().toISOString(),
      command: invocation(),
      machine: host,
      setup: { sizeBytes: opts.size, chunkBytes: CHUNK_BYTES, runs: opts.runs, headSeconds: opts.headSeconds, clientOptions: CLIENT_OPTIONS },
      children: [bare, stowdMem, stowdFile].map((d) => ({ name: d.child.name, command: d.child.command })),
      streams: targets.map((t, i) => ({ target: t.label, idleRssMiB: idleMiB[i], write: writes.get(t), read: reads.get(t) })),
      unary: unaryResults,
      noise,
      totalSeconds,
    };
    writeFileSync(opts.json, JSON.stringify(record, null, 2) + "\n");
    console.log(`results: ${relative(process.cwd(), opts.json)}`);
  }

  for (const d of [bare, stowdMem, stowdFile]) d.client.close();
  await Promise.all([...children].map(stopChild));
  cleanUpNow();
}

process.on("exit", cleanUpNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    cleanUpNow();
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await new Promise((r) => setTimeout(r, 300)); // let a crashed child's exit be seen
    for (const child of startedChildren) {
      const alive = child.proc.exitCode === null && child.proc.signalCode === null;
      const state = child.stoppedByUs ? "stopped by the benchmark" : alive ? "running" : `exited on its own (code ${String(child.proc.exitCode)}, signal ${String(child.proc.signalCode)})`;
      console.error(`${child.name} [pid ${String(child.proc.pid)}]: ${state}${child.stderrTail.length > 0 ? `; stderr tail:\n  ${child.stderrTail.join("\n  ")}` : ""}`);
    }
    cleanUpNow();
    process.exit(1);
  },
);
