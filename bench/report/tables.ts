// The report's tables, built from a results record alone.
import { median } from "../harness/stats.js";
import { fmt, sizeLabel, spread, type Table } from "./format.js";
import type { BenchResults, SlowReadersResult, StreamCell, StreamSection, UnaryCell, UnarySection, WorkersSection } from "./results.js";

const medianMbps = (c: StreamCell | undefined) => (c === undefined ? NaN : median(c.runs.map((r) => r.mbps)));

/** Median MB/s of `target` over that of `baseline`, same op and size. */
export function streamRatio(section: StreamSection, cell: StreamCell, baseline: string): number {
  const base = section.cells.find((c) => c.target === baseline && c.op === cell.op && c.sizeBytes === cell.sizeBytes);
  return medianMbps(cell) / medianMbps(base);
}

export function streamTable(section: StreamSection): Table {
  const head = [
    "op",
    "size",
    "target",
    "MB/s median (min–max)",
    ...section.baselines.map((b) => `÷ ${b}`),
    "server CPU %",
    "client CPU %",
    "server RSS peak (+growth) MiB",
  ];
  const rows = section.cells.map((cell) => {
    const rssRuns = cell.runs.flatMap((r) => (r.rss === null ? [] : [r.rss]));
    const worst = rssRuns.reduce<(typeof rssRuns)[number] | undefined>(
      (w, r) => (w === undefined || r.peakMiB - r.beforeMiB > w.peakMiB - w.beforeMiB ? r : w),
      undefined,
    );
    const serverCpu = cell.runs.flatMap((r) => (r.serverCpuPct === null ? [] : [r.serverCpuPct]));
    return [
      cell.op === "read" ? "ReadRaw" : "WriteRaw",
      sizeLabel(cell.sizeBytes),
      cell.target,
      spread(cell.runs.map((r) => r.mbps)),
      ...section.baselines.map((b) => (b === cell.target ? "" : fmt(streamRatio(section, cell, b), 2))),
      serverCpu.length === 0 ? "–" : fmt(median(serverCpu)),
      fmt(median(cell.runs.map((r) => r.clientCpuPct))),
      worst === undefined ? "–" : `${fmt(worst.peakMiB)} (+${fmt(worst.peakMiB - worst.beforeMiB)})`,
    ];
  });
  return { head, rows, leftColumns: 3 };
}

export function unaryTable(section: UnarySection): Table {
  const cps = (runs: { callsPerSecond: number }[]) => median(runs.map((r) => r.callsPerSecond));
  const ratioTo = (cell: UnaryCell, ceiling: string) => {
    const base = section.cells.find((c) => c.target === ceiling && c.concurrency === cell.concurrency);
    return cell.target === ceiling || base === undefined ? "" : fmt(cps(cell.runs) / cps(base.runs), 2);
  };
  const second = section.streamCeiling;
  const rows = section.cells.map((cell) => {
    const m = (key: "p50Ms" | "p99Ms" | "serverCpuUs" | "clientCpuUs", digits: number) => fmt(median(cell.runs.map((r) => r[key])), digits);
    return [
      cell.target,
      cell.cache,
      String(cell.concurrency),
      spread(cell.runs.map((r) => r.callsPerSecond)),
      m("p50Ms", 3),
      m("p99Ms", 3),
      ratioTo(cell, section.ceiling),
      ...(second === undefined ? [] : [cell.target.includes(second.appliesTo) ? ratioTo(cell, second.target) : ""]),
      m("serverCpuUs", 0),
      m("clientCpuUs", 0),
    ];
  });
  return {
    head: [
      "call",
      "cache",
      "callers",
      "calls/s median (min–max)",
      "p50 ms",
      "p99 ms",
      `÷ ${section.ceiling}`,
      ...(second === undefined ? [] : [`÷ ${second.target}`]),
      "server µs/call",
      "client µs/call",
    ],
    rows,
    leftColumns: 2,
  };
}

export function workersTable(section: WorkersSection): Table {
  const cps = (runs: { callsPerSecond: number }[]) => median(runs.map((r) => r.callsPerSecond));
  const one = section.cells.find((c) => c.workers === 1);
  const rows = section.cells.map((cell) => {
    const m = (key: "p50Ms" | "p99Ms" | "serverCpuUs" | "clientCpuUs", digits: number) => fmt(median(cell.runs.map((r) => r[key])), digits);
    return [
      String(cell.workers),
      String(section.callers),
      spread(cell.runs.map((r) => r.callsPerSecond)),
      m("p50Ms", 3),
      m("p99Ms", 3),
      one === undefined || cell === one ? "" : fmt(cps(cell.runs) / cps(one.runs), 2),
      m("serverCpuUs", 0),
      m("clientCpuUs", 0),
    ];
  });
  return {
    head: ["workers", "callers", "calls/s median (min–max)", "p50 ms", "p99 ms", "÷ 1 worker", "server µs/call", "client µs/call"],
    rows,
    leftColumns: 1,
  };
}

export function slowReadersTable(r: SlowReadersResult): Table {
  const row = (label: string, cell: (run: SlowReadersResult["runs"][number]) => string) => [label, ...r.runs.map(cell)];
  const rows = [
    row("RSS before", (x) => `${fmt(x.idleRssMiB)} MiB`),
    row("RSS peak", (x) => `${fmt(x.peakRssMiB)} MiB (${x.method})`),
    row("RSS mean", (x) => `${fmt(x.meanRssMiB)} MiB`),
    row("peak growth per reader", (x) => `${fmt(((x.peakRssMiB - x.idleRssMiB) * 1024) / r.clients)} KiB`),
    row("consumed by all readers", (x) => `${fmt(x.bytesConsumed / 1024 / 1024)} MiB`),
    row("streams open at the end", (x) => `${x.openAtEnd} of ${r.clients}`),
    row("failures", (x) => (x.failures.length === 0 ? "none" : x.failures.join("; "))),
  ];
  return {
    head: [
      `${r.clients} readers, ${fmt(r.bytesPerSecondPerClient / 1024)} KiB/s each, ${fmt(r.seconds, 1)} s, ${sizeLabel(r.objectBytes)} object`,
      ...r.runs.map((x) => x.target),
    ],
    rows,
    leftColumns: 1,
  };
}

export function settingsLine(results: BenchResults): string {
  const s = results.settings;
  return Object.entries(s)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : String(v)}`)
    .join(" ");
}
