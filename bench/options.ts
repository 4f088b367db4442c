// `npm run bench -- [options]`: what to run, how big and how long. Defaults
// size the full run at roughly 8-10 minutes on 2 cores (a --runs 1 run took
// 4.5 minutes on a busy one). --quick is a smoke run of the whole pipeline in
// about a minute.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MiB } from "./common.js";
import { REPO } from "./harness/repo.js";

export const SECTIONS = ["streams", "cloud", "unary", "workers", "slow", "signed"] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  quick: boolean;
  /** Object sizes of the local stream section and the signed URL section. */
  sizes: number[];
  /** Object sizes of the cloud section (the cloud goals are at 16 and 64 MiB; 512 MiB on azurite mostly measures azurite). */
  cloudSizes: number[];
  runs: number;
  unarySeconds: number;
  concurrency: number[];
  slowClients: number;
  slowSeconds: number;
  slowRateBytes: number;
  slowObjectBytes: number;
  sections: Section[];
  /** The whole run fails (and stops every server) after this long instead of hanging. */
  maxMinutes: number;
  /** Root the results go under: <out>/bench/results/ and <out>/BENCHMARKS.md. */
  out: string;
  /** Re-render the report from this JSON file instead of running. */
  report: string | undefined;
  /** Write a CPU profile of every server and daemon the run starts into this directory (node --cpu-prof). */
  cpuProfDir: string | undefined;
}

export const USAGE = `usage: npm run bench -- [options]

Starts everything it needs (bare grpc-js and node:http2 ceilings, stowd daemons,
Ceph RGW, azurite) on 127.0.0.1, measures, prints tables, and writes
<out>/bench/results/<date>.json, latest.json, latest.svg and <out>/BENCHMARKS.md.

  --quick              smoke run: 1 and 8 MiB, 1 run, short loads, output to a temp dir
  --sizes-mib LIST     object sizes for the local stream and signed URL sections (default 16,64,512)
  --cloud-sizes-mib LIST  object sizes for the S3 and Azure section (default 16,64)
  --runs N             runs per measurement; medians are reported (default 3)
  --unary-seconds S    length of one Head / ReadRaw 4 KiB / echo run (default 2)
  --concurrency LIST   concurrent callers for the unary section (default 1,32,256)
  --slow-clients N     slow readers in the RSS section (default 256)
  --slow-seconds S     how long they read (default 20)
  --slow-rate-kib N    each reader's pace, KiB/s (default 256)
  --only LIST          sections to run, of ${SECTIONS.join(",")} (default all)
  --max-minutes N      give up (stopping every server) after N minutes instead of hanging (default 25)
  --out DIR            where results go (default the repository; --quick: ${join(tmpdir(), "stowd-bench-quick")})
  --report FILE        only re-render BENCHMARKS.md and the chart from a results JSON
  --cpu-prof DIR       profile every server and daemon it starts (node --cpu-prof) into DIR;
                       \`npm run bench:profile -- DIR\` prints each profile's top frames
  --help               show this text`;

function list(text: string, what: string): number[] {
  const values = text.split(",").map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((v) => !(Number.isInteger(v) && v > 0)))
    throw new Error(`${what} must be a comma-separated list of positive integers, not ${JSON.stringify(text)}\n\n${USAGE}`);
  return values;
}

function positive(text: string, what: string, integer = false): number {
  const v = Number(text);
  if (!(v > 0) || (integer && !Number.isInteger(v)))
    throw new Error(`${what} must be a positive ${integer ? "integer" : "number"}, not ${JSON.stringify(text)}\n\n${USAGE}`);
  return v;
}

export function parseOptions(argv: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      "sizes-mib": { type: "string" },
      "cloud-sizes-mib": { type: "string" },
      runs: { type: "string" },
      "unary-seconds": { type: "string" },
      concurrency: { type: "string" },
      "slow-clients": { type: "string" },
      "slow-seconds": { type: "string" },
      "slow-rate-kib": { type: "string" },
      only: { type: "string" },
      "max-minutes": { type: "string" },
      out: { type: "string" },
      report: { type: "string" },
      "cpu-prof": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) return "help";
  const quick = values.quick;
  const sections = (values.only ?? SECTIONS.join(",")).split(",").map((s) => s.trim());
  for (const s of sections) {
    if (!(SECTIONS as readonly string[]).includes(s))
      throw new Error(`--only: unknown section ${JSON.stringify(s)}; the sections are ${SECTIONS.join(", ")}\n\n${USAGE}`);
  }
  return {
    quick,
    sizes: list(values["sizes-mib"] ?? (quick ? "1,8" : "16,64,512"), "--sizes-mib").map((n) => n * MiB),
    cloudSizes: list(values["cloud-sizes-mib"] ?? (quick ? "1,8" : "16,64"), "--cloud-sizes-mib").map((n) => n * MiB),
    runs: positive(values.runs ?? (quick ? "1" : "3"), "--runs", true),
    unarySeconds: positive(values["unary-seconds"] ?? (quick ? "0.5" : "2"), "--unary-seconds"),
    concurrency: list(values.concurrency ?? "1,32,256", "--concurrency"),
    slowClients: positive(values["slow-clients"] ?? "256", "--slow-clients", true),
    slowSeconds: positive(values["slow-seconds"] ?? (quick ? "4" : "20"), "--slow-seconds"),
    slowRateBytes: positive(values["slow-rate-kib"] ?? "256", "--slow-rate-kib") * 1024,
    slowObjectBytes: 64 * MiB,
    sections: sections as Section[],
    maxMinutes: positive(values["max-minutes"] ?? "25", "--max-minutes"),
    // A profiled run is slowed by the profiler: its figures never replace the committed ones.
    out:
      values.out ??
      (quick ? join(tmpdir(), "stowd-bench-quick") : values["cpu-prof"] !== undefined ? join(tmpdir(), "stowd-bench-profiled") : REPO),
    report: values.report,
    cpuProfDir: values["cpu-prof"],
  };
}
