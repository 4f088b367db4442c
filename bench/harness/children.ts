// The benchmark's child processes (servers and daemons): spawned with their
// stderr tail kept for failure reports, stopped by the benchmark, and killed
// on any exit path so a failed run leaves nothing behind.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { REPO } from "./repo.js";

export interface Child {
  name: string;
  command: string;
  proc: ChildProcess;
  /** The process id; every child is one process, so this is the server's pid. */
  pid: number;
  /** Last lines of its stderr, shown when something fails. */
  stderrTail: string[];
  exited: Promise<void>;
  /** Set when the benchmark itself stopped it. */
  stoppedByUs: boolean;
}

const live = new Set<Child>();
/** Every child ever started, for the failure report. */
const started: Child[] = [];

/** Runs `node --import tsx SCRIPT ARGS` in the repository, or `node FILE ARGS` with `plainNode`. */
export function spawnNode(name: string, script: string, args: string[], options: { plainNode?: boolean; env?: NodeJS.ProcessEnv } = {}): Child {
  const nodeArgs = options.plainNode === true ? [script, ...args] : ["--import", "tsx", script, ...args];
  const proc = spawn(process.execPath, nodeArgs, {
    cwd: REPO,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  if (proc.pid === undefined) throw new Error(`could not start ${name}: node ${nodeArgs.join(" ")}`);
  const child: Child = {
    name,
    command: `node ${nodeArgs.join(" ")}`,
    proc,
    pid: proc.pid,
    stderrTail: [],
    exited: once(proc, "exit").then(() => undefined),
    stoppedByUs: false,
  };
  proc.stderr?.setEncoding("utf8").on("data", (text: string) => {
    child.stderrTail.push(...text.split("\n").filter((l) => l !== ""));
    child.stderrTail.splice(0, Math.max(0, child.stderrTail.length - 20));
  });
  // stdout is read by whoever waits for a port line; drain the rest so the child never blocks.
  proc.stdout?.resume();
  live.add(child);
  started.push(child);
  void child.exited.then(() => live.delete(child));
  return child;
}

export function isRunning(child: Child): boolean {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

export function childFailure(child: Child, what: string): Error {
  const tail = child.stderrTail.length > 0 ? `\n  ${child.stderrTail.join("\n  ")}` : "";
  return new Error(`${child.name} ${what} (exit code ${String(child.proc.exitCode)}, signal ${String(child.proc.signalCode)})${tail}`);
}

/** Rejects when the child exits; raced against every wait on it, so a crash fails the run at once. */
export function exitAsError(child: Child): Promise<never> {
  const p = child.exited.then(() => {
    throw childFailure(child, "exited");
  });
  p.catch(() => undefined);
  return p;
}

/** Runs `op`, failing as soon as any of `children` exits. */
export function whileAlive<T>(children: readonly Child[], op: Promise<T>): Promise<T> {
  return Promise.race([op, ...children.map(exitAsError)]);
}

/** Waits for the child's first stdout line `{"port":N}`. */
export async function portLine(child: Child): Promise<number> {
  let buffered = "";
  return whileAlive(
    [child],
    new Promise<number>((resolvePort, reject) => {
      child.proc.stdout?.setEncoding("utf8").on("data", (text: string) => {
        if (!buffered.includes("\n")) buffered += text;
        const newline = buffered.indexOf("\n");
        if (newline < 0) return;
        const line = buffered.slice(0, newline);
        try {
          resolvePort((JSON.parse(line) as { port: number }).port);
        } catch {
          reject(childFailure(child, `printed ${JSON.stringify(line)} instead of {"port":N}`));
        }
      });
    }),
  );
}

export async function stopChild(child: Child): Promise<void> {
  if (!isRunning(child)) return;
  child.stoppedByUs = true;
  child.proc.kill("SIGTERM");
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), 5000);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map(stopChild));
}

export function killAllNow(): void {
  for (const child of live) {
    if (isRunning(child)) {
      child.stoppedByUs = true;
      child.proc.kill("SIGKILL");
    }
  }
}

/** One line per child ever started: how it ended and its stderr tail. */
export function childrenReport(): string[] {
  return started.map((child) => {
    const state = child.stoppedByUs ? "stopped by the benchmark" : isRunning(child) ? "running" : `exited on its own (code ${String(child.proc.exitCode)}, signal ${String(child.proc.signalCode)})`;
    return `${child.name} [pid ${child.pid}]: ${state}${child.stderrTail.length > 0 ? `; stderr tail:\n  ${child.stderrTail.join("\n  ")}` : ""}`;
  });
}
