// A real daemon process (node --import tsx server/main.ts --config FILE) on
// free loopback ports, for what needs a process of its own: SIGTERM, and the
// daemon's RSS read from /proc/<pid>/status. Its stderr (JSON log lines) is
// kept; it is killed if a test leaves it running.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../helpers/free-port.js";
import { DAEMON_COMMAND, startServingProcess } from "../helpers/serving-daemon.js";

export interface ChildDaemon {
  pid: number;
  grpcUrl: string;
  httpUrl: string;
  /** Root of file:// */
  dataDir: string;
  /** Parsed JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** VmRSS and VmHWM in MiB. */
  memory(): Promise<{ rssMiB: number; hwmMiB: number }>;
  /** Resets VmHWM to the current RSS; false where the kernel does not allow it. */
  resetPeak(): Promise<boolean>;
  /**
   * The RSS before `run` and its peak while `run` runs, in MiB: VmHWM after a
   * clear_refs reset where the kernel allows it (`exact`), else VmRSS sampled
   * every 20 ms.
   */
  peakRssDuring<T>(run: () => Promise<T>): Promise<{ before: number; peak: number; exact: boolean; result: T }>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  signal(name: NodeJS.Signals): void;
  /** Kills it if still running and removes its data directory. */
  cleanup(): Promise<void>;
}

/**
 * Starts the daemon with local disk at a fresh data dir plus mem://, and `server` lines appended to its server: block
 * (`schemeYaml` lines to its storage.schemes: block, e.g. an s3: scheme).
 */
export async function startChildDaemon(
  serverYaml: string[] = [],
  extraEnv: Record<string, string> = {},
  schemeYaml: string[] = [],
): Promise<ChildDaemon> {
  const dir = await mkdtemp(join(tmpdir(), "stowd-ops-"));
  const dataDir = join(dir, "data");
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const config = [
    "storage:",
    "  type: local",
    "  stow:",
    "    kind: local",
    "    config:",
    `      path: ${dataDir}`,
    "  enable-multicontainer: true",
    "  limits:",
    "    maxDownloadMBs: 0",
    "  schemes:",
    "    mem: {}",
    ...schemeYaml.map((l) => `    ${l}`),
    "server:",
    `  grpcAddress: 127.0.0.1:${grpcPort}`,
    `  httpAddress: 127.0.0.1:${httpPort}`,
    ...serverYaml.map((l) => `  ${l}`),
    "",
  ].join("\n");
  const configFile = join(dir, "stowd.yaml");
  await writeFile(configFile, config);
  const { child } = await startServingProcess([...DAEMON_COMMAND, "--config", configFile], { env: { STOWD_LOG_LEVEL: "", ...extraEnv } });
  const lines: Array<Record<string, unknown>> = [];
  /** Parses the stderr lines not parsed yet. */
  const logs = () => {
    for (const line of child.stderrLines.slice(lines.length)) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line });
      }
    }
    return lines;
  };
  const status = async () => readFile(`/proc/${child.pid}/status`, "utf8");
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN) / 1024;

  const memory = async () => {
    const text = await status();
    return { rssMiB: field(text, "VmRSS"), hwmMiB: field(text, "VmHWM") };
  };
  const resetPeak = async () => {
    try {
      await writeFile(`/proc/${child.pid}/clear_refs`, "5");
      return true;
    } catch {
      return false;
    }
  };
  return {
    pid: child.pid,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    dataDir,
    logs,
    memory,
    resetPeak,
    async peakRssDuring(run) {
      const before = (await memory()).rssMiB;
      const exact = await resetPeak();
      let peak = before;
      const sampler = setInterval(() => {
        memory().then(
          (m) => (peak = Math.max(peak, m.rssMiB)),
          () => {},
        );
      }, 20);
      try {
        const result = await run();
        const after = await memory();
        return { before, peak: exact ? after.hwmMiB : Math.max(peak, after.rssMiB), exact, result };
      } finally {
        clearInterval(sampler);
      }
    },
    exited: child.exited,
    signal: (name) => child.signal(name),
    async cleanup() {
      await child.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
