// Runs the `stowd` CLI as a child process, as a user would (node + tsx over
// cli/main.ts, from any working directory), and starts `stowd serve` daemons
// that the tests talk to.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
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
  const child = spawn(program, [...prefix, ...args], { cwd: options.cwd ?? REPO_ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  // A child that fails before reading all of stdin closes the pipe: EPIPE here is expected, its exit code tells.
  child.stdin.on("error", () => {});
  child.stdin.end(options.stdin ?? "");
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
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts a daemon process (`argv`, e.g. the CLI's serve) and waits for its "stowd serving" log line. */
export async function startServing(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ServingDaemon> {
  const [program = "", ...args] = argv;
  const child = spawn(program, args, { cwd: options.cwd ?? REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const seen: string[] = [];
  const serving = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    const timer = setTimeout(() => reject(new Error(`the daemon did not start within 30 s:\n${seen.join("\n")}`)), 30_000);
    lines.on("line", (line) => {
      seen.push(line);
      if (!line.includes('"stowd serving"')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { grpc: string; http: string });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited with ${code} before serving:\n${seen.join("\n")}`));
    });
  });
  return {
    process: child,
    grpc: serving.grpc,
    http: serving.http,
    log: seen,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
