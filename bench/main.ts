// `npm run bench`: stowd measured side by side with its ceilings and
// baselines in one run, every server its own child process on 127.0.0.1:
//   streams  ReadRaw / WriteRaw MB/s on mem:// and file://, SDK and plain
//            grpc-js, next to a bare grpc-js stream and a bare node:http2 stream;
//   cloud    the same on S3 (Ceph RGW) and Azure (azurite) through stowd, next
//            to the backend SDK called directly;
//   unary    Head and 4 KiB ReadRaw calls/s and p50/p99 at 1/32/256 callers,
//            cache hit and miss, next to a bare grpc-js echo;
//   workers  Head at 256 callers from two client processes, a daemon with
//            server.workers 1 vs 2;
//   slow     daemon peak RSS while 256 clients stream a 64 MiB object slowly,
//            next to the bare grpc-js server under the same readers;
//   signed   GET / PUT of daemon-signed URLs with node:http on file:// and
//            mem://, next to ReadRaw / WriteRaw and a bare node:http file server.
// It prints the tables and writes bench/results/<date>.json, latest.json,
// latest.svg and BENCHMARKS.md. A benchmark, not a test: it fails only when a
// call fails or returns wrong bytes. Never part of `npm test`.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { MiB, makePayload } from "./common.js";
import { childrenReport, killAllNow, profileChildrenInto, stopAll } from "./harness/children.js";
import { invocation, machineInfo, versions } from "./harness/machine.js";
import { createNoiseMeter } from "./harness/proc-stats.js";
import { USAGE, parseOptions, type BenchOptions } from "./options.js";
import { chartSvg } from "./report/chart-svg.js";
import { consoleReport } from "./report/console.js";
import { benchmarksMarkdown } from "./report/markdown.js";
import type { BenchResults, StreamSection } from "./report/results.js";
import { runCloudStreams } from "./scenarios/cloud-streams.js";
import type { ScenarioContext } from "./scenarios/context.js";
import { runLocalStreams } from "./scenarios/local-streams.js";
import { runSignedUrls } from "./scenarios/signed-urls.js";
import { runSlowReaders } from "./scenarios/slow-readers.js";
import { runUnary } from "./scenarios/unary.js";
import { runWorkers } from "./scenarios/workers.js";

let tmpDir: string | undefined;

function cleanUpNow(): void {
  killAllNow();
  if (tmpDir !== undefined) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}

/** A path relative to the working directory when it is inside it. */
function shortPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") || rel === "" ? file : rel;
}

/** What BENCHMARKS.md holds from other benchmarks (`npm run bench:list`'s section onwards), kept when this one rewrites the page. */
function keptSections(markdownFile: string): string {
  let text = "";
  try {
    text = readFileSync(markdownFile, "utf8");
  } catch {
    return "";
  }
  const at = text.indexOf("<!-- bench:list start -->");
  return at < 0 ? "" : `\n${text.slice(at)}`;
}

/** Writes the chart and BENCHMARKS.md under `out` for a results file already there. */
function writeReport(results: BenchResults, out: string, jsonFile: string): string[] {
  const chartFile = join(out, "bench", "results", "latest.svg");
  const markdownFile = join(out, "BENCHMARKS.md");
  mkdirSync(join(out, "bench", "results"), { recursive: true });
  writeFileSync(chartFile, chartSvg(results));
  writeFileSync(markdownFile, benchmarksMarkdown(results, relative(out, chartFile), relative(out, jsonFile)) + keptSections(markdownFile));
  return [chartFile, markdownFile];
}

async function run(options: BenchOptions, argv: string[]): Promise<void> {
  const started = performance.now();
  const date = new Date();
  const noise = createNoiseMeter();
  const tmp = mkdtempSync(join(tmpdir(), "stowd-bench-"));
  tmpDir = tmp;
  const has = (s: BenchOptions["sections"][number]) => options.sections.includes(s);
  if (options.cpuProfDir !== undefined) {
    mkdirSync(options.cpuProfDir, { recursive: true });
    profileChildrenInto(resolve(options.cpuProfDir));
  }
  const command = invocation(argv);
  const childCommands: { name: string; command: string }[] = [];
  console.log(`stowd benchmark: ${command}`);
  console.log(
    `sections ${options.sections.join(", ")}; sizes ${options.sizes.map((s) => s / MiB).join(", ")} MiB (cloud ${options.cloudSizes.map((s) => s / MiB).join(", ")}); ${options.runs} runs; results under ${options.out}`,
  );
  const payloadBytes = Math.max(
    4096,
    ...(has("streams") || has("signed") ? options.sizes : []),
    ...(has("cloud") ? options.cloudSizes : []),
    has("slow") ? options.slowObjectBytes : 0,
  );
  const ctx: ScenarioContext = {
    options,
    tmp,
    payload: makePayload(payloadBytes),
    progress: (line) => process.stderr.write(`  ${line}\n`),
    started: (name, cmd) => childCommands.push({ name, command: cmd }),
  };
  const streams: StreamSection[] = [];
  if (has("streams")) streams.push(await runLocalStreams(ctx));
  noise.sample();
  if (has("cloud")) streams.push(...(await runCloudStreams(ctx)));
  noise.sample();
  const unary = has("unary") ? await runUnary(ctx) : null;
  noise.sample();
  const workers = has("workers") ? await runWorkers(ctx) : null;
  noise.sample();
  const slowReaders = has("slow") ? await runSlowReaders(ctx) : null;
  noise.sample();
  if (has("signed")) streams.push(await runSignedUrls(ctx));
  const { foreignCores, stealCores } = noise.read();
  const results: BenchResults = {
    date: date.toISOString(),
    command,
    quick: options.quick,
    machine: machineInfo(),
    versions: versions(has("cloud")),
    settings: {
      sections: options.sections,
      sizesMiB: options.sizes.map((s) => s / MiB),
      cloudSizesMiB: options.cloudSizes.map((s) => s / MiB),
      runs: options.runs,
      unarySeconds: options.unarySeconds,
      concurrency: options.concurrency,
      ...(has("slow")
        ? { slowClients: options.slowClients, slowSeconds: options.slowSeconds, slowRateKiB: options.slowRateBytes / 1024 }
        : {}),
      chunkBytes: MiB,
    },
    children: childCommands,
    streams,
    unary,
    slowReaders,
    workers,
    noise: { foreignCores, stealCores },
    totalSeconds: (performance.now() - started) / 1000,
  };
  console.log(consoleReport(results));

  const dir = join(options.out, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const jsonFile = join(
    dir,
    `${date
      .toISOString()
      .replace(/:/g, "-")
      .replace(/\.\d+Z$/, "Z")}.json`,
  );
  writeFileSync(jsonFile, JSON.stringify(results, null, 2) + "\n");
  copyFileSync(jsonFile, join(dir, "latest.json"));
  const written = writeReport(results, options.out, jsonFile);
  console.log(`\nwrote ${[jsonFile, join(dir, "latest.json"), ...written].map(shortPath).join(", ")}`);
  await stopAll();
  cleanUpNow();
}

async function main(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  if (options.report !== undefined) {
    const results = JSON.parse(readFileSync(options.report, "utf8")) as BenchResults;
    const written = writeReport(results, options.out, options.report);
    console.log(consoleReport(results));
    console.log(`\nwrote ${written.join(", ")}`);
    return;
  }
  const watchdog = setTimeout(() => {
    console.error(`bench failed: still running after --max-minutes ${options.maxMinutes}; stopping every server`);
    for (const line of childrenReport()) console.error(line);
    cleanUpNow();
    process.exit(1);
  }, options.maxMinutes * 60_000);
  watchdog.unref();
  await run(options, argv);
}

process.on("exit", cleanUpNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    cleanUpNow();
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await new Promise((r) => setTimeout(r, 300)); // let a crashed child's exit be seen
    for (const line of childrenReport()) console.error(line);
    cleanUpNow();
    process.exit(1);
  },
);
