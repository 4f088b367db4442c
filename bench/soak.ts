// `npm run soak` (tsx bench/soak.ts): a load and soak run against one daemon
// child process (server/main.ts: file:// in a temp dir, mem:// in memory).
// Many concurrent clients (the SDK in client/, half over the gRPC port, half
// with the Connect protocol over the HTTP port, one connection each) run a
// mixed workload for a fixed time (bench/soak-workload.ts): small and large
// writes and reads, ranges, heads, lists, deletes, create-only writes and
// protobuf writes and reads, each checked against the client's model of what
// it acknowledged. Then every acknowledged object is read back and every
// deleted one must be gone. The daemon's RSS is sampled every second; the
// mean of the first quarter of the samples after the warm-up is compared with
// the mean of the last quarter. It prints a summary and exits 1 on any
// unexpected error, wrong answer, failed verification or RSS growth of 10% or
// more. Bounded in time (--seconds) and count (--max-ops); 127.0.0.1 only.
// Not part of `npm test`.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createStowdClient, createStowdTransport, type StowdClient, type StowdTransport } from "../client/index.js";
import { OPS, createSoakClient, createSoakState, type SoakState, type VerifyResult } from "./soak-workload.js";
import { childFailure, spawnNode, stopChild, type Child } from "./harness/children.js";
import { freePort, waitForPort } from "./harness/ports.js";

const MiB = 1024 * 1024;
/** Growth of the daemon's mean RSS, last quarter over first, at which the run fails. */
const RSS_DRIFT_LIMIT = 0.1;

const usage = `usage: npm run soak -- [options]
  --seconds S          duration of the timed mixed workload (default 60)
  --warmup-seconds S   RSS samples left out at the start of the timed run (default 10)
  --clients N          concurrent clients, one connection each (default 16)
  --max-ops N          bound on the number of operations in the timed run (default 1000000)
  --large-mib N        size of the large objects (default 2)
  --small-max-kib N    small objects are 0..N KiB (default 64)
  --transports LIST    grpc, connect or grpc,connect: which port(s) clients use (default grpc,connect)
  --seed N             seed of the clients' random choices (default 1)
  --help               show this text`;

interface Options {
  seconds: number;
  warmupSeconds: number;
  clients: number;
  maxOps: number;
  largeBytes: number;
  smallMaxBytes: number;
  transports: ("grpc" | "connect")[];
  seed: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "60" },
      "warmup-seconds": { type: "string", default: "10" },
      clients: { type: "string", default: "16" },
      "max-ops": { type: "string", default: "1000000" },
      "large-mib": { type: "string", default: "2" },
      "small-max-kib": { type: "string", default: "64" },
      transports: { type: "string", default: "grpc,connect" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const number = (flag: string, value: string, min: number, integer = true) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new Error(`--${flag} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${JSON.stringify(value)}\n${usage}`);
    }
    return n;
  };
  const transports = values.transports.split(",").map((t) => t.trim());
  if (transports.length === 0 || transports.some((t) => t !== "grpc" && t !== "connect")) {
    throw new Error(`--transports must list grpc and/or connect, got ${JSON.stringify(values.transports)}\n${usage}`);
  }
  const options: Options = {
    seconds: number("seconds", values.seconds, 1, false),
    warmupSeconds: number("warmup-seconds", values["warmup-seconds"], 0, false),
    clients: number("clients", values.clients, 1),
    maxOps: number("max-ops", values["max-ops"], 1),
    largeBytes: Math.round(number("large-mib", values["large-mib"], 0.001, false) * MiB),
    smallMaxBytes: Math.round(number("small-max-kib", values["small-max-kib"], 0, false) * 1024),
    transports: transports as Options["transports"],
    seed: number("seed", values.seed, 0),
  };
  // Each quarter of the RSS samples after the warm-up must hold a few samples to be a mean.
  if (options.seconds - options.warmupSeconds < 8) {
    throw new Error(`--seconds must exceed --warmup-seconds by at least 8 (RSS quarters of 2+ one-second samples)\n${usage}`);
  }
  return options;
}

// ---------------------------------------------------------------- the daemon process

interface Daemon extends Child {
  grpcUrl: string;
  httpUrl: string;
}

let daemon: Daemon | undefined;
let dataDir: string | undefined;

function cleanUp(): void {
  daemon?.signal("SIGKILL");
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
}

/** `node --import tsx server/main.ts`: one process, so its pid is the daemon's (for /proc). */
async function startDaemon(dir: string): Promise<Daemon> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const args = [
    "--data-dir",
    dir,
    "--grpc-address",
    `127.0.0.1:${grpcPort}`,
    "--http-address",
    `127.0.0.1:${httpPort}`,
    "--max-download-mbs",
    "0",
  ];
  const child = spawnNode("the daemon", "server/main.ts", args, { env: { STOWD_LOG_LEVEL: "warn" } });
  const d: Daemon = Object.assign(child, { grpcUrl: `http://127.0.0.1:${grpcPort}`, httpUrl: `http://127.0.0.1:${httpPort}` });
  await waitForPort(grpcPort, d);
  await waitForPort(httpPort, d);
  return d;
}

function rssMiB(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib) / 1024;
}

// ---------------------------------------------------------------- reporting

function fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

function codes(map: Map<string, number>): string {
  return map.size === 0
    ? "none"
    : [...map]
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => `${code} ${n}`)
        .join(", ");
}

function opTable(state: SoakState, seconds: number): string {
  const rows = OPS.map((op) => {
    const s = state.stats[op];
    const sorted = [...s.latenciesMs].sort((a, b) => a - b);
    const calls = s.ok + s.unexpectedErrors + s.wrongAnswers;
    return [
      op,
      fmt(calls),
      fmt(calls / seconds, 1),
      fmt(s.expectedErrors),
      fmt(s.unexpectedErrors),
      fmt(s.wrongAnswers),
      fmt(percentile(sorted, 0.5), 2),
      fmt(percentile(sorted, 0.99), 2),
      fmt(s.bytes / 1e6 / seconds, 1),
    ];
  });
  const all = OPS.map((op) => state.stats[op]);
  const calls = all.reduce((n, s) => n + s.ok + s.unexpectedErrors + s.wrongAnswers, 0);
  const sorted = all.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  rows.push([
    "total",
    fmt(calls),
    fmt(calls / seconds, 1),
    fmt(all.reduce((n, s) => n + s.expectedErrors, 0)),
    fmt(all.reduce((n, s) => n + s.unexpectedErrors, 0)),
    fmt(all.reduce((n, s) => n + s.wrongAnswers, 0)),
    fmt(percentile(sorted, 0.5), 2),
    fmt(percentile(sorted, 0.99), 2),
    fmt(all.reduce((n, s) => n + s.bytes, 0) / 1e6 / seconds, 1),
  ]);
  return table(["op", "calls", "ops/s", "expected err", "unexpected err", "wrong answer", "p50 ms", "p99 ms", "MB/s"], rows);
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = parseOptions();
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model ?? "unknown";
  console.log("stowd soak run");
  console.log(`node ${process.version}, linux ${release()}, ${cpus().length} cores (${model})`);
  console.log(
    `setup: ${opts.seconds} s timed run (at most ${fmt(opts.maxOps)} ops), ${opts.clients} clients over ${opts.transports.join(" + ")}, large objects ${fmt(opts.largeBytes / MiB, 2)} MiB, small 0..${fmt(opts.smallMaxBytes / 1024)} KiB, seed ${opts.seed}`,
  );
  dataDir = mkdtempSync(join(tmpdir(), "stowd-soak-"));
  daemon = await startDaemon(join(dataDir, "data"));
  const d = daemon;
  console.log(`daemon: pid ${d.pid}, gRPC ${d.grpcUrl}, HTTP ${d.httpUrl}, data in ${dataDir}`);
  const daemonExit = d.exited.then(() => {
    throw childFailure(d, "exited during the run");
  });
  daemonExit.catch(() => undefined);
  const whileAlive = <T>(p: Promise<T>) => Promise.race([p, daemonExit]);

  const run = `soak-${Date.now().toString(36)}`;
  const state = createSoakState(opts.maxOps);
  const transports: StowdTransport[] = [];
  const clients = Array.from({ length: opts.clients }, (_, index) => {
    const protocol = opts.transports[index % opts.transports.length] as "grpc" | "connect";
    const transport = createStowdTransport(protocol === "grpc" ? { baseUrl: d.grpcUrl } : { baseUrl: d.httpUrl, protocol: "connect" });
    transports.push(transport);
    const stowd: StowdClient = createStowdClient({ transport, timeoutMs: 60_000 });
    return createSoakClient({ index, stowd, run, seed: opts.seed, largeBytes: opts.largeBytes, smallMaxBytes: opts.smallMaxBytes, state });
  });

  try {
    const populateStart = performance.now();
    await whileAlive(Promise.all(clients.map((c) => c.populate())));
    console.log(`populated every slot in ${fmt((performance.now() - populateStart) / 1000, 1)} s; RSS ${fmt(rssMiB(d.pid))} MiB`);

    // The timed run, with one RSS sample per second.
    const samples: { atS: number; rssMiB: number }[] = [];
    const start = performance.now();
    const sampler = setInterval(() => samples.push({ atS: (performance.now() - start) / 1000, rssMiB: rssMiB(d.pid) }), 1000);
    const progress = setInterval(() => {
      const done = opts.maxOps - state.remainingOps;
      console.log(
        `  ${fmt((performance.now() - start) / 1000)} s: ${fmt(done)} ops, ${state.failures.length} failures, RSS ${fmt(samples.at(-1)?.rssMiB ?? NaN)} MiB`,
      );
    }, 10_000);
    try {
      await whileAlive(Promise.all(clients.map((c) => c.runUntil(start + opts.seconds * 1000))));
    } finally {
      clearInterval(sampler);
      clearInterval(progress);
    }
    const elapsed = (performance.now() - start) / 1000;

    const verifyStart = performance.now();
    const verified = await whileAlive(Promise.all(clients.map((c) => c.verify())));
    const total = verified.reduce<VerifyResult>(
      (t, v) => ({
        objects: t.objects + v.objects,
        bytes: t.bytes + v.bytes,
        messages: t.messages + v.messages,
        gone: t.gone + v.gone,
        uncertain: t.uncertain + v.uncertain,
      }),
      { objects: 0, bytes: 0, messages: 0, gone: 0, uncertain: 0 },
    );
    const verifySeconds = (performance.now() - verifyStart) / 1000;

    // ---------------------------------------------------------- summary
    const problems: string[] = [];
    console.log(
      `\nTimed run: ${fmt(elapsed, 1)} s, ${fmt(opts.maxOps - state.remainingOps)} ops${state.remainingOps === 0 ? " (stopped by --max-ops)" : ""}; latency per call, MB = 10^6 bytes of object data`,
    );
    console.log(opTable(state, elapsed));
    console.log(
      `\nerrors by code: expected (the model said so): ${codes(state.expectedCodes)}; unexpected: ${codes(state.unexpectedCodes)}`,
    );
    const wrong = OPS.reduce((n, op) => n + state.stats[op].wrongAnswers, 0);
    const unexpected = OPS.reduce((n, op) => n + state.stats[op].unexpectedErrors, 0);
    if (unexpected > 0) problems.push(`${unexpected} unexpected errors`);
    if (wrong > 0) problems.push(`${wrong} wrong answers`);

    console.log(
      `\nverification (${fmt(verifySeconds, 1)} s): ${fmt(total.objects)} acknowledged objects read back with the right bytes (${fmt(total.bytes / MiB, 1)} MiB, sha256), ${fmt(total.messages)} protobuf messages equal to the last one written, ${fmt(total.gone)} deleted or never-written slots absent, listings hold nothing else; ${total.uncertain} slots left out after a failed mutation`,
    );
    const verifyFailures = state.failures.filter((f) => f.op === "verify").length;
    if (verifyFailures > 0) problems.push(`${verifyFailures} verification failures`);

    const steady = samples.filter((s) => s.atS >= opts.warmupSeconds);
    const quarter = Math.floor(steady.length / 4);
    console.log(
      `\nDaemon RSS (VmRSS every 1 s; the first ${opts.warmupSeconds} s of the timed run are warm-up and left out; ${steady.length} samples, quarters of ${quarter}):`,
    );
    if (quarter < 2) {
      problems.push(`only ${steady.length} RSS samples after the warm-up; run longer`);
    } else {
      const first = mean(steady.slice(0, quarter).map((s) => s.rssMiB));
      const last = mean(steady.slice(-quarter).map((s) => s.rssMiB));
      const drift = (last - first) / first;
      const all = steady.map((s) => s.rssMiB);
      console.log(
        table(
          ["first quarter mean", "last quarter mean", "drift", "limit", "min", "max"],
          [
            [
              `${fmt(first, 1)} MiB`,
              `${fmt(last, 1)} MiB`,
              `${drift >= 0 ? "+" : ""}${fmt(100 * drift, 1)}%`,
              `< +${fmt(100 * RSS_DRIFT_LIMIT)}%`,
              `${fmt(Math.min(...all), 1)} MiB`,
              `${fmt(Math.max(...all), 1)} MiB`,
            ],
          ],
        ),
      );
      if (drift >= RSS_DRIFT_LIMIT)
        problems.push(`daemon RSS grew ${fmt(100 * drift, 1)}% from the first to the last quarter (limit ${fmt(100 * RSS_DRIFT_LIMIT)}%)`);
    }

    if (state.failures.length > 0) {
      console.log(`\nfirst failures (of ${state.failures.length}):`);
      for (const f of state.failures.slice(0, 10)) console.log(`  ${f.op} ${f.reference}: ${f.what}`);
    }
    console.log(problems.length === 0 ? "\nresult: PASS" : `\nresult: FAIL: ${problems.join("; ")}`);
    return problems.length === 0 ? 0 : 1;
  } finally {
    for (const t of transports) t.close();
    await stopChild(d);
    cleanUp();
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`soak run failed: ${err instanceof Error ? err.message : String(err)}`);
    cleanUp();
    process.exit(1);
  },
);
