// `npm run bench:tracing` (tsx bench/tracing-cost.ts): what tracing costs a call. Two daemons from
// this checkout, side by side: tracing off (no OTEL_* variable, the default)
// and tracing on (OTEL_EXPORTER_OTLP_ENDPOINT at an OTLP/HTTP sink in this
// process that takes every export and keeps nothing; the SDK's defaults
// otherwise: http/protobuf, batched, every span sampled). Each is loaded with
// Head and 4 KiB ReadRaw calls on file:// without a cache, so every call makes
// a server span and a backend span; runs alternate between the daemons and
// medians are reported: calls/s, p50/p99 latency and the daemon's CPU per
// call. With --baseline DIR a third daemon runs from another checkout (e.g.
// the commit before tracing, `git archive <rev> | tar -x -C DIR` and a
// node_modules symlink): "off" against it is the cost of tracing when off.
// A benchmark, not a test; it writes nothing but its temp dir, never
// BENCHMARKS.md.
//
//   npm run bench:tracing -- [--seconds 2] [--runs 3] [--concurrency 1,32] [--baseline DIR]
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makePayload } from "./common.js";
import { stopAll, whileAlive } from "./harness/children.js";
import { unaryLoad } from "./harness/measure.js";
import { median } from "./harness/stats.js";
import { startStowdDaemon, type StowdDaemon } from "./harness/stowd-daemon.js";
import { fmt, textTable } from "./report/format.js";
import type { UnaryRun } from "./report/results.js";
import { SMALL_BYTES, headCall, readCall } from "./scenarios/unary.js";
import { createStowdGrpcJsTarget } from "./targets/stowd-grpc-js-target.js";

const USAGE = `usage: npm run bench:tracing -- [options]
  --seconds S         length of one run (default 2)
  --runs N            runs per cell, alternating between the daemons; medians are reported (default 3)
  --concurrency LIST  concurrent callers (default 1,32)
  --baseline DIR      also run the daemon of the checkout in DIR (its server/main.ts), tracing off
  --help              show this text`;

const KEYS = 64;

interface Variant {
  name: string;
  daemon: StowdDaemon;
}

/** An OTLP/HTTP endpoint that accepts every export and keeps only counts. */
async function startSink(): Promise<{ endpoint: string; exports: () => number; bytes: () => number; close: () => Promise<void> }> {
  let exports = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => {
      exports++;
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports: () => exports,
    bytes: () => bytes,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "2" },
      runs: { type: "string", default: "3" },
      concurrency: { type: "string", default: "1,32" },
      baseline: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  const concurrency = values.concurrency.split(",").map(Number);
  if (!(seconds > 0) || !Number.isInteger(runs) || runs < 1 || concurrency.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error(`--seconds must be positive, --runs and --concurrency positive integers\n\n${USAGE}`);
  }
  const tmp = mkdtempSync(join(tmpdir(), "stowd-tracing-cost-"));
  const sink = await startSink();
  // This process's own OTEL_* settings must not reach the "off" daemon.
  const untraced = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith("OTEL_"))
      .map((k) => [k, ""]),
  );
  try {
    const variants: Variant[] = [
      { name: "tracing off", daemon: await startStowdDaemon({ name: "stowd tracing off", dir: join(tmp, "off"), env: untraced }) },
      {
        name: "tracing on",
        daemon: await startStowdDaemon({
          name: "stowd tracing on",
          dir: join(tmp, "on"),
          env: { ...untraced, OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint },
        }),
      },
    ];
    if (values.baseline !== undefined) {
      const baseline = await startStowdDaemon({
        name: "stowd baseline",
        dir: join(tmp, "baseline"),
        env: untraced,
        script: join(values.baseline, "server/main.ts"),
      });
      variants.unshift({ name: `baseline (${values.baseline})`, daemon: baseline });
    }
    const children = variants.map((v) => v.daemon.child);
    const keys = Array.from({ length: KEYS }, (_, i) => `file://bench/small/key-${i}`);
    const payload = makePayload(SMALL_BYTES);
    const targets = variants.map((v) =>
      createStowdGrpcJsTarget({ label: v.name, port: v.daemon.grpcPort, serverPid: v.daemon.child.pid, reference: (k) => k }),
    );
    for (const t of targets) for (const k of keys) await whileAlive(children, t.write(k, payload));
    const loads = [
      { name: "Head", call: (i: number) => headCall(targets[i]!.client, keys) },
      { name: "ReadRaw 4 KiB", call: (i: number) => readCall(targets[i]!.client, keys) },
    ];
    const rows: string[][] = [];
    for (const load of loads) {
      for (const callers of concurrency) {
        const cells = variants.map(() => [] as UnaryRun[]);
        for (const [i, v] of variants.entries()) await whileAlive(children, unaryLoad(v.daemon.child.pid, load.call(i), callers, 0.5));
        for (let run = 0; run < runs; run++) {
          for (const [i, v] of variants.entries()) {
            const r = await whileAlive(children, unaryLoad(v.daemon.child.pid, load.call(i), callers, seconds));
            cells[i]!.push(r);
            process.stderr.write(
              `${load.name} x${callers} ${v.name} run ${run + 1}/${runs}: ${fmt(r.callsPerSecond)} calls/s, ${fmt(r.serverCpuUs)} µs CPU/call\n`,
            );
          }
        }
        for (const [i, v] of variants.entries()) {
          const m = (f: (r: UnaryRun) => number) => median(cells[i]!.map(f));
          rows.push([
            load.name,
            String(callers),
            v.name,
            fmt(m((r) => r.callsPerSecond)),
            fmt(
              m((r) => r.p50Ms),
              3,
            ),
            fmt(
              m((r) => r.p99Ms),
              3,
            ),
            fmt(m((r) => r.serverCpuUs)),
          ]);
        }
      }
    }
    for (const t of targets) t.close();
    console.log(
      textTable({ head: ["call", "callers", "daemon", "calls/s", "p50 ms", "p99 ms", "daemon CPU µs/call"], rows, leftColumns: 3 }),
    );
    console.log(
      `\n${runs} runs of ${seconds} s per cell, medians; file:// without a cache, ${KEYS} objects of ${SMALL_BYTES} bytes; one grpc-js connection per daemon.` +
        `\nThe sink took ${sink.exports()} OTLP exports (${fmt(sink.bytes() / 1e6, 1)} MB) from the traced daemon.`,
    );
  } finally {
    await stopAll();
    await sink.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
