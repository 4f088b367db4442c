// Runs the `stowd` CLI as a child process, as a user would (node + tsx over
// cli/main.ts, from any working directory), and starts `stowd serve` daemons
// that the tests talk to.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { ChildProcess } from "node:child_process";
import { startChild } from "../helpers/child-process.js";
import { REPO_ROOT } from "../helpers/repo-root.js";
import { startServingProcess } from "../helpers/serving-daemon.js";

export { REPO_ROOT };
const TSX_LOADER = pathToFileURL(join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs")).href;

/** The argv that runs the CLI from source: works from any cwd (the loader is named by path). */
export const STOWD_COMMAND: readonly string[] = [process.execPath, "--import", TSX_LOADER, join(REPO_ROOT, "cli/main.ts")];

export interface StowdResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** stdout as UTF-8. */
  out: string;
  /** stdout's lines parsed as JSON (--json output). */
  json(): unknown[];
}

export interface RunOptions {
  /** STOWD_ADDRESS for the child; omitted = none set. */
  address?: string;
  cwd?: string;
  stdin?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  /** argv to run instead of the source CLI (e.g. the built one). */
  command?: readonly string[];
}

export function runStowd(args: readonly string[], options: RunOptions = {}): Promise<StowdResult> {
  const [program = "", ...prefix] = options.command ?? STOWD_COMMAND;
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  delete env.STOWD_ADDRESS;
  if (options.address !== undefined) env.STOWD_ADDRESS = options.address;
  // stdout and stderr are read here whole, as bytes.
  const { proc: child } = startChild(program, [...prefix, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env,
    stdio: ["pipe", "pipe", "pipe"],
    keepStderrLines: 0,
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
  // A child that fails before reading all of stdin closes the pipe: EPIPE here is expected, its exit code tells.
  child.stdin?.on("error", () => {});
  child.stdin?.end(options.stdin ?? "");
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      const out = Buffer.concat(stdout);
      resolve({
        code,
        stdout: out,
        stderr: Buffer.concat(stderr).toString("utf8"),
        out: out.toString("utf8"),
        json: () =>
          out
            .toString("utf8")
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => JSON.parse(line) as unknown),
      });
    });
  });
}

export interface ServingDaemon {
  process: ChildProcess;
  /** host:port of the gRPC port. */
  grpc: string;
  /** host:port of the HTTP port. */
  http: string;
  /** The daemon's stderr lines so far: config warnings, the "stowd serving" line, later log lines. */
  log: string[];
  /** SIGTERM (SIGKILL if it has not exited 20 s later), then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts a daemon process (`argv`, e.g. the CLI's serve) and waits for its "stowd serving" log line. */
export async function startServing(
  argv: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ServingDaemon> {
  const { child, grpc, http, log } = await startServingProcess(argv, options);
  return {
    process: child.proc,
    grpc,
    http,
    log,
    async stop() {
      // The daemon exits within its grace period (10 s) + 5 s; past that, kill it rather than hang the suite.
      await child.stop(20_000);
      return child.exited;
    },
  };
}
