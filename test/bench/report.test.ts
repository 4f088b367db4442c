// The benchmark's report is rendered from its results JSON alone: these check
// the arithmetic (medians, ratios) and what BENCHMARKS.md and the chart say,
// on a fixed record. They run no benchmark.
import { describe, expect, it } from "vitest";
import { chartSvg } from "../../bench/report/chart-svg.js";
import { markdownTable, spread } from "../../bench/report/format.js";
import { benchmarksMarkdown } from "../../bench/report/markdown.js";
import type { BenchResults, StreamRun, UnaryRun } from "../../bench/report/results.js";
import { streamRatio, streamTable, unaryTable } from "../../bench/report/tables.js";
import { targetsTable } from "../../bench/report/targets.js";

const MiB = 1024 * 1024;

function streamRun(mbps: number): StreamRun {
  return { mbps, seconds: 1, serverCpuPct: 50, clientCpuPct: 40, rss: { beforeMiB: 100, peakMiB: 110, method: "VmHWM" } };
}

function unaryRun(callsPerSecond: number): UnaryRun {
  return { callsPerSecond, p50Ms: 1, p99Ms: 2, calls: 100, serverCpuUs: 10, clientCpuUs: 20 };
}

function fixture(overrides: Partial<BenchResults> = {}): BenchResults {
  return {
    date: "2026-12-01T07:00:00.000Z",
    command: "npm run bench",
    quick: false,
    machine: { cores: 2, model: "Test CPU", memGiB: 8, kernel: "6.0", os: "Linux" },
    versions: { node: "v20.0.0" },
    settings: { runs: 3 },
    children: [{ name: "bare grpc-js server", command: "node bare.ts" }],
    streams: [
      {
        id: "local",
        title: "Local <streams>",
        targets: ["bare grpc-js", "stowd mem:// SDK"],
        baselines: ["bare grpc-js"],
        cells: [
          { target: "bare grpc-js", op: "read", sizeBytes: 64 * MiB, runs: [streamRun(400)] },
          { target: "stowd mem:// SDK", op: "read", sizeBytes: 64 * MiB, runs: [streamRun(100), streamRun(300), streamRun(200)] },
          { target: "bare grpc-js", op: "write", sizeBytes: 64 * MiB, runs: [streamRun(800)] },
          { target: "stowd mem:// SDK", op: "write", sizeBytes: 64 * MiB, runs: [streamRun(600)] },
        ],
        notes: ["a note"],
      },
      {
        id: "s3",
        title: "S3",
        targets: ["S3 SDK direct", "stowd s3:// SDK"],
        baselines: ["S3 SDK direct"],
        goal: 0.9,
        cells: [
          { target: "S3 SDK direct", op: "read", sizeBytes: MiB, runs: [{ ...streamRun(100), serverCpuPct: null, rss: null }] },
          { target: "stowd s3:// SDK", op: "read", sizeBytes: MiB, runs: [streamRun(95)] },
        ],
        notes: [],
      },
    ],
    unary: {
      title: "Small calls",
      ceiling: "bare grpc-js echo",
      streamCeiling: { target: "bare 4 KiB stream", appliesTo: "ReadRaw" },
      cells: [
        { target: "bare grpc-js echo", cache: "n/a", concurrency: 32, runs: [unaryRun(10_000)] },
        { target: "bare 4 KiB stream", cache: "n/a", concurrency: 32, runs: [unaryRun(8000)] },
        { target: "stowd Head", cache: "hit", concurrency: 32, runs: [unaryRun(4000), unaryRun(5000), unaryRun(6000)] },
        { target: "stowd ReadRaw 4 KiB", cache: "miss", concurrency: 32, runs: [unaryRun(2000)] },
      ],
      cacheCheck: { hits: 12, misses: 0 },
      notes: [],
    },
    slowReaders: {
      clients: 256,
      objectBytes: 64 * MiB,
      bytesPerSecondPerClient: 256 * 1024,
      seconds: 20,
      reference: "file://bench/slow",
      runs: [
        {
          target: "stowd ReadRaw",
          idleRssMiB: 100,
          peakRssMiB: 356,
          meanRssMiB: 300,
          method: "VmHWM",
          bytesConsumed: 1280 * MiB,
          openAtEnd: 256,
          failures: [],
        },
        {
          target: "bare grpc-js Download",
          idleRssMiB: 80,
          peakRssMiB: 208,
          meanRssMiB: 150,
          method: "VmHWM",
          bytesConsumed: 1280 * MiB,
          openAtEnd: 255,
          failures: ["grpc-status 13: boom"],
        },
      ],
    },
    noise: { foreignCores: 0.01, stealCores: 0 },
    totalSeconds: 480,
    ...overrides,
  };
}

describe("bench report", () => {
  it("divides median by median, per op and size", () => {
    const section = fixture().streams[0]!;
    const read = section.cells[1]!;
    expect(streamRatio(section, read, "bare grpc-js")).toBe(0.5);
    expect(streamRatio(section, section.cells[3]!, "bare grpc-js")).toBe(0.75);
  });

  it("shows the median with the spread, the ratio, CPU and RSS growth in the stream table", () => {
    const table = streamTable(fixture().streams[0]!);
    expect(table.head).toContain("÷ bare grpc-js");
    const row = table.rows.find((r) => r[2] === "stowd mem:// SDK" && r[0] === "ReadRaw");
    expect(row).toEqual(["ReadRaw", "64 MiB", "stowd mem:// SDK", "200 (100–300)", "0.50", "50", "40", "110 (+10)"]);
    // The baseline gets no ratio with itself; a direct backend call has no server process.
    const s3 = streamTable(fixture().streams[1]!);
    expect(s3.rows[0]).toEqual(["ReadRaw", "1 MiB", "S3 SDK direct", "100", "", "–", "40", "–"]);
  });

  it("divides calls/s by the echo, and ReadRaw also by the 4 KiB stream, at the same concurrency", () => {
    const table = unaryTable(fixture().unary!);
    expect(table.head.slice(6, 8)).toEqual(["÷ bare grpc-js echo", "÷ bare 4 KiB stream"]);
    expect(table.rows[2]).toEqual(["stowd Head", "hit", "32", "5,000 (4,000–6,000)", "1.000", "2.000", "0.50", "", "10", "20"]);
    expect(table.rows[3]?.slice(6, 8)).toEqual(["0.20", "0.25"]);
  });

  it("checks issue 12's goals against the run: ratios from the medians, met or not", () => {
    const rows = targetsTable(fixture())?.rows ?? [];
    const row = (start: string) => rows.find((r) => r[0]?.startsWith(start));
    // Head hit: CPU 10/10 µs (met), calls/s 5,000 / 10,000 (not met).
    expect(row("stowd Head, cache hit, 32 callers: server CPU")).toEqual([
      "stowd Head, cache hit, 32 callers: server CPU per call ≤ 1.5× the echo's; calls/s ≥ 0.8× bare grpc-js echo",
      "CPU 1.00× (10 / 10 µs); calls/s 0.50 (5,000 / 10,000)",
      "**no**",
    ]);
    expect(row("stowd Head, cache hit, 32 callers: p99")?.[2]).toBe("yes");
    expect(row("stowd ReadRaw 4 KiB, cache miss (file://), 32 callers")?.slice(1)).toEqual(["1.00× (10 / 10 µs)", "yes"]);
    // 64 MiB read: 200 / 400 MB/s; both 50% CPU for 1 s per 64 MiB: 7.45 CPU-s/GB.
    expect(row("ReadRaw 64 MiB stowd mem:// SDK")?.slice(1)).toEqual(["0.50 (200 / 400 MB/s); CPU 1.00× (7.45 / 7.45 s/GB)", "**no**"]);
    expect(row("WriteRaw 64 MiB stowd mem:// SDK")?.[2]).toBe("**no**");
    // The 1 MiB S3 cells are outside the cloud goal's 16-64 MiB.
    expect(rows.some((r) => r[0]?.includes("s3://"))).toBe(false);
    expect(row("256 slow readers: stowd delivers")?.slice(1)).toEqual(["1.00 (1,280 / 1,280 MiB)", "yes"]);
    expect(row("256 slow readers: stowd's peak RSS")?.slice(1)).toEqual(["356 / 208 MiB", "**no**"]);
    expect(targetsTable(fixture({ streams: [], unary: null, slowReaders: null }))).toBeNull();
  });

  it("writes BENCHMARKS.md with the command, machine, versions, chart and every table", () => {
    const md = benchmarksMarkdown(fixture(), "bench/results/latest.svg", "bench/results/x.json");
    expect(md).toContain("```sh\nnpm ci\nnpm run bench\n```");
    expect(md).toContain("2 cores, Test CPU, 8 GiB RAM");
    expect(md).toContain("node v20.0.0");
    expect(md).toContain("![Ratios of stowd to its ceilings and baselines](bench/results/latest.svg)");
    expect(md).toContain("| ReadRaw | 64 MiB | stowd mem:// SDK | 200 (100–300) | 0.50 |");
    expect(md).toContain("Goal: ratio ≥ 0.9");
    expect(md).toContain("12 hits and 0 misses");
    expect(md).toContain("| RSS peak | 356 MiB (VmHWM) | 208 MiB (VmHWM) |");
    expect(md).toContain("| peak growth per reader | 1,024 KiB | 512 KiB |");
    expect(md).toContain("| streams open at the end | 256 of 256 | 255 of 256 |");
    expect(md).toContain("| failures | none | grpc-status 13: boom |");
    expect(md).not.toContain("Noisy run");
    expect(md).not.toContain("Quick run");
  });

  it("marks quick and noisy runs", () => {
    const md = benchmarksMarkdown(fixture({ quick: true, noise: { foreignCores: 1.2, stealCores: 0 } }), "c.svg", "r.json");
    expect(md).toContain("**Quick run**");
    expect(md).toContain("**Noisy run**: other processes kept 1.20 cores busy");
  });

  it("draws one bar per ratio, escapes text and marks the goal", () => {
    const svg = chartSvg(fixture());
    const bars = [...svg.matchAll(/<rect x="\d+" y="\d+" width="[\d.]+" height="14"/g)];
    // local: 2 stowd cells; s3: 1; small calls: 3 (all but the echo).
    expect(bars).toHaveLength(6);
    expect(svg).toContain("Local &lt;streams&gt;");
    expect(svg).not.toContain("Local <streams>");
    expect(svg).toContain("goal 0.9");
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });

  it("cuts a bar far above the rest at the axis edge and keeps its number", () => {
    const results = fixture();
    results.streams[1]!.cells[1]!.runs = [streamRun(1000)]; // 10x the direct call
    const svg = chartSvg(results);
    expect(svg).toContain(">10.00 ▸</text>");
    expect(svg).toContain(">0.50</text>"); // the other bars keep their numbers, uncut
  });

  it("formats tables and spreads", () => {
    expect(spread([3, 1, 2])).toBe("2 (1–3)");
    expect(spread([7])).toBe("7");
    expect(markdownTable({ head: ["a", "b"], rows: [["x|y", "1"]], leftColumns: 1 })).toBe("| a | b |\n| :-- | --: |\n| x\\|y | 1 |");
  });
});
