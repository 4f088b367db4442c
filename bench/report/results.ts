// The shape of one benchmark run as written to bench/results/*.json; the
// report (tables, chart, BENCHMARKS.md) is rendered from this alone, so an old
// JSON file can be re-rendered with `npm run bench -- --report FILE`.
import type { RssSample } from "../harness/proc-stats.js";

export interface StreamRun {
  mbps: number;
  seconds: number;
  /** CPU of the server process during the run, % of one core; null without one. */
  serverCpuPct: number | null;
  /** CPU of the client (benchmark) process, % of one core. */
  clientCpuPct: number;
  /**
   * The server process's page faults during the run: minor ones per 4 KiB of payload, and major ones; null
   * without a server process (absent in results recorded before issue 15). Kept to explain runs whose CPU per
   * byte jumps with the code unchanged (BENCHMARKS.md, "file:// at 512 MiB").
   */
  serverFaults?: { minorPer4KiB: number; major: number } | null;
  rss: RssSample | null;
}

export interface StreamCell {
  target: string;
  op: "read" | "write";
  sizeBytes: number;
  runs: StreamRun[];
}

export interface StreamSection {
  id: string;
  title: string;
  /** Target labels in column order. */
  targets: string[];
  /**
   * Targets every other is divided by (median MB/s, same op and size); the
   * report has a ratio column per baseline and charts the first.
   */
  baselines: string[];
  /** A ratio the issue sets as the goal, e.g. 0.9 for "within 10%". */
  goal?: number;
  cells: StreamCell[];
  notes: string[];
}

export interface UnaryRun {
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  calls: number;
  /** CPU per call, microseconds, server process and this client process. */
  serverCpuUs: number;
  clientCpuUs: number;
}

export interface UnaryCell {
  /** e.g. "stowd Head", "bare grpc-js echo". */
  target: string;
  cache: "hit" | "miss" | "n/a";
  concurrency: number;
  runs: UnaryRun[];
}

export interface UnarySection {
  title: string;
  /** The target every other is divided by (calls/s); the chart uses this one. */
  ceiling: string;
  /** A second ceiling for the targets whose names contain `appliesTo` (e.g. the 4 KiB stream for ReadRaw). */
  streamCeiling?: { target: string; appliesTo: string };
  cells: UnaryCell[];
  /** Cache counters of the cache daemon after the hit runs. */
  cacheCheck: { hits: number; misses: number } | null;
  notes: string[];
}

/** server.workers: the same load against daemons with 1 and 2 workers. */
export interface WorkersSection {
  title: string;
  callers: number;
  cells: { workers: number; runs: UnaryRun[] }[];
  notes: string[];
}

export interface SlowReadersRun {
  /** The server the readers read from: the daemon, or the bare grpc-js server. */
  target: string;
  idleRssMiB: number;
  peakRssMiB: number;
  /** Mean of the RSS samples taken every 100 ms. */
  meanRssMiB: number;
  method: RssSample["method"];
  /** Bytes the clients consumed in total. */
  bytesConsumed: number;
  /** Streams still open at the end (the rest had finished or failed). */
  openAtEnd: number;
  failures: string[];
}

export interface SlowReadersResult {
  clients: number;
  objectBytes: number;
  bytesPerSecondPerClient: number;
  seconds: number;
  reference: string;
  runs: SlowReadersRun[];
}

export interface BenchResults {
  /** ISO time the run started. */
  date: string;
  command: string;
  quick: boolean;
  machine: { cores: number; model: string; memGiB: number; kernel: string; os: string };
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  /** Every server the run started, and how. */
  children: { name: string; command: string }[];
  streams: StreamSection[];
  unary: UnarySection | null;
  slowReaders: SlowReadersResult | null;
  /** Absent in results written before the section existed. */
  workers?: WorkersSection | null;
  /** Other load on the machine during the run. */
  noise: { foreignCores: number; stealCores: number };
  totalSeconds: number;
}
