// The goals issue 12 ("make the hop nearly free") sets, checked against one
// run's results: each row names the goal, the ratio this run measured and
// whether it is met. Rows whose measurements the run did not make (a section
// left out with --only, a size not run) are left out, not guessed.
import { median } from "../harness/stats.js";
import { fmt, sizeLabel, type Table } from "./format.js";
import type { BenchResults, StreamCell, StreamSection, UnaryCell, UnarySection } from "./results.js";

interface Check {
  goal: string;
  /** What was measured, e.g. "1.42× (312 / 220 µs)". */
  measured: string;
  met: boolean;
}

const medianOf = <T>(runs: readonly T[], pick: (r: T) => number) => median(runs.map(pick));

function unaryChecks(u: UnarySection): Check[] {
  const checks: Check[] = [];
  const cell = (target: string, cache: UnaryCell["cache"], concurrency: number) =>
    u.cells.find((c) => c.target === target && c.cache === cache && c.concurrency === concurrency);
  const cpu = (c: UnaryCell) => medianOf(c.runs, (r) => r.serverCpuUs);
  const cps = (c: UnaryCell) => medianOf(c.runs, (r) => r.callsPerSecond);
  const p99 = (c: UnaryCell) => medianOf(c.runs, (r) => r.p99Ms);
  for (const concurrency of [...new Set(u.cells.map((c) => c.concurrency))].filter((n) => n === 1 || n === 32)) {
    const echo = cell(u.ceiling, "n/a", concurrency);
    if (echo === undefined) continue;
    for (const [target, ceilingName] of [
      ["stowd Head", u.ceiling],
      ["stowd ReadRaw 4 KiB", u.streamCeiling?.target ?? u.ceiling],
    ] as const) {
      const callers = `${concurrency} caller${concurrency === 1 ? "" : "s"}`;
      const hit = cell(target, "hit", concurrency);
      const ceiling = cell(ceilingName, "n/a", concurrency);
      if (hit !== undefined && ceiling !== undefined) {
        const cpuRatio = cpu(hit) / cpu(echo);
        const rate = cps(hit) / cps(ceiling);
        checks.push({
          goal: `${target}, cache hit, ${callers}: server CPU per call ≤ 1.5× the echo's; calls/s ≥ 0.8× ${ceilingName}`,
          measured: `CPU ${fmt(cpuRatio, 2)}× (${fmt(cpu(hit))} / ${fmt(cpu(echo))} µs); calls/s ${fmt(rate, 2)} (${fmt(cps(hit))} / ${fmt(cps(ceiling))})`,
          met: cpuRatio <= 1.5 && rate >= 0.8,
        });
      }
      if (hit !== undefined && concurrency === 32) {
        const tail = p99(hit) / p99(echo);
        checks.push({
          goal: `${target}, cache hit, 32 callers: p99 ≤ 1.5× the echo's`,
          measured: `${fmt(tail, 2)}× (${fmt(p99(hit), 1)} / ${fmt(p99(echo), 1)} ms)`,
          met: tail <= 1.5,
        });
      }
      const miss = cell(target, "miss", concurrency);
      if (miss !== undefined) {
        const missRatio = cpu(miss) / cpu(echo);
        checks.push({
          goal: `${target}, cache miss (file://), ${callers}: server CPU per call ≤ 2× the echo's`,
          measured: `${fmt(missRatio, 2)}× (${fmt(cpu(miss))} / ${fmt(cpu(echo))} µs)`,
          met: missRatio <= 2,
        });
      }
    }
  }
  return checks;
}

/** Server CPU-seconds per GB moved, from the median run's CPU % and time. */
function cpuSecondsPerGB(cell: StreamCell): number {
  const perRun = cell.runs.flatMap((r) => (r.serverCpuPct === null ? [] : [((r.serverCpuPct / 100) * r.seconds) / (cell.sizeBytes / 1e9)]));
  return perRun.length === 0 ? NaN : median(perRun);
}

const mbps = (c: StreamCell) => medianOf(c.runs, (r) => r.mbps);
const opName = (c: StreamCell) => (c.op === "read" ? "ReadRaw" : "WriteRaw");

function localStreamChecks(s: StreamSection): Check[] {
  const checks: Check[] = [];
  for (const cell of s.cells.filter((c) => c.target.startsWith("stowd ") && c.sizeBytes >= 64 * 2 ** 20)) {
    const bare = s.cells.find((c) => c.target === "bare grpc-js" && c.op === cell.op && c.sizeBytes === cell.sizeBytes);
    if (bare === undefined) continue;
    const rate = mbps(cell) / mbps(bare);
    const cpuRatio = cpuSecondsPerGB(cell) / cpuSecondsPerGB(bare);
    checks.push({
      goal: `${opName(cell)} ${sizeLabel(cell.sizeBytes)} ${cell.target}: ≥ 0.9× bare grpc-js; daemon CPU-s/GB ≤ 1.3× the bare server's`,
      measured: `${fmt(rate, 2)} (${fmt(mbps(cell))} / ${fmt(mbps(bare))} MB/s); CPU ${fmt(cpuRatio, 2)}× (${fmt(cpuSecondsPerGB(cell), 2)} / ${fmt(cpuSecondsPerGB(bare), 2)} s/GB)`,
      met: rate >= 0.9 && cpuRatio <= 1.3,
    });
  }
  return checks;
}

function cloudChecks(s: StreamSection, local: StreamSection | undefined): Check[] {
  const checks: Check[] = [];
  const direct = s.baselines[0];
  for (const cell of s.cells.filter((c) => c.target.startsWith("stowd ") && c.sizeBytes >= 16 * 2 ** 20 && c.sizeBytes <= 64 * 2 ** 20)) {
    const base = s.cells.find((c) => c.target === direct && c.op === cell.op && c.sizeBytes === cell.sizeBytes);
    if (base === undefined) continue;
    const rate = mbps(cell) / mbps(base);
    const file = local?.cells.find((c) => c.target === "stowd file:// SDK" && c.op === cell.op && c.sizeBytes === cell.sizeBytes);
    // CPU-seconds per GB are milliseconds per MB: × 1000 gives µs per MB.
    const perMB = (c: StreamCell) => cpuSecondsPerGB(c) * 1000;
    const cpuRatio = file === undefined ? NaN : perMB(cell) / perMB(file);
    checks.push({
      goal: `${opName(cell)} ${sizeLabel(cell.sizeBytes)} ${cell.target}: ≥ 0.8× ${direct}; daemon CPU per MB ≤ 2× file://`,
      measured:
        `${fmt(rate, 2)} (${fmt(mbps(cell))} / ${fmt(mbps(base))} MB/s); ` +
        (file === undefined ? "no file:// run of this size" : `CPU ${fmt(cpuRatio, 2)}× (${fmt(perMB(cell))} / ${fmt(perMB(file))} µs/MB)`),
      met: rate >= 0.8 && cpuRatio <= 2,
    });
  }
  return checks;
}

function slowReaderChecks(results: BenchResults): Check[] {
  const r = results.slowReaders;
  const stowd = r?.runs.find((x) => x.target.startsWith("stowd"));
  const bare = r?.runs.find((x) => x.target.startsWith("bare"));
  if (stowd === undefined || bare === undefined) return [];
  const bytes = stowd.bytesConsumed / bare.bytesConsumed;
  return [
    {
      goal: `${r?.clients ?? 0} slow readers: stowd delivers ≥ 0.9× the bytes bare grpc-js delivers`,
      measured: `${fmt(bytes, 2)} (${fmt(stowd.bytesConsumed / 2 ** 20)} / ${fmt(bare.bytesConsumed / 2 ** 20)} MiB)`,
      met: bytes >= 0.9,
    },
    {
      goal: `${r?.clients ?? 0} slow readers: stowd's peak RSS ≤ bare grpc-js's`,
      measured: `${fmt(stowd.peakRssMiB)} / ${fmt(bare.peakRssMiB)} MiB`,
      met: stowd.peakRssMiB <= bare.peakRssMiB,
    },
  ];
}

/** The stream sections issue 12's cloud goals apply to (bench/scenarios/cloud-streams.ts); the signed URL section has none. */
const CLOUD_SECTION_IDS = ["s3", "azure"];

/** Every goal this run measured, with its ratio and whether it is met. */
export function targetsTable(results: BenchResults): Table | null {
  const local = results.streams.find((s) => s.id === "local");
  const checks = [
    ...(results.unary === null ? [] : unaryChecks(results.unary)),
    ...(local === undefined ? [] : localStreamChecks(local)),
    ...results.streams.filter((s) => CLOUD_SECTION_IDS.includes(s.id)).flatMap((s) => cloudChecks(s, local)),
    ...slowReaderChecks(results),
  ];
  if (checks.length === 0) return null;
  return {
    head: ["goal (issue 12)", "this run", "met"],
    rows: checks.map((c) => [c.goal, c.measured, c.met ? "yes" : "**no**"]),
    leftColumns: 2,
  };
}
