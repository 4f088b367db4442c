// The benchmark's child processes (servers and daemons), on the tests' child
// process helper: spawned with their stderr tail kept for failure reports,
// stopped by the benchmark, and killed on any exit path so a failed run leaves
// nothing behind.
import { join } from "node:path";
import { killAllChildrenNow, startChild, type Child as ManagedChild } from "../../test/helpers/child-process.js";

/** Every child is one process, so `pid` is the server's; `stderrLines` holds its last 20 stderr lines. */
export interface Child extends ManagedChild {
  name: string;
  command: string;
  /** Set when the benchmark itself stopped it. */
  stoppedByUs: boolean;
}

/** Every child ever started, for the failure report. */
const started: Child[] = [];

/** Where each child writes a CPU profile (`--cpu-prof`); undefined = none. */
let cpuProfDir: string | undefined;

/** Every child started from now on writes its threads' profiles under `<dir>/<nn>-<name>/` when it exits. */
export function profileChildrenInto(dir: string): void {
  cpuProfDir = dir;
}

/** Runs `node --import tsx SCRIPT ARGS` in the repository, or `node FILE ARGS` with `plainNode`. */
export function spawnNode(
  name: string,
  script: string,
  args: string[],
  options: { plainNode?: boolean; env?: NodeJS.ProcessEnv } = {},
): Child {
  // One directory per child: tsx's loader thread writes a profile of its own.
  const profileDir =
    cpuProfDir === undefined
      ? undefined
      : join(cpuProfDir, `${String(started.length + 1).padStart(2, "0")}-${name.replace(/[^\w.-]+/g, "_")}`);
  const profile = profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir];
  const nodeArgs = [...profile, ...(options.plainNode === true ? [script, ...args] : ["--import", "tsx", script, ...args])];
  // stdin is a pipe: the ceiling servers exit when it closes, so they die with the benchmark.
  const managed = startChild(process.execPath, nodeArgs, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
    keepStderrLines: 20,
  });
  if (managed.proc.pid === undefined) throw new Error(`could not start ${name}: node ${nodeArgs.join(" ")}`);
  const child: Child = Object.assign(managed, { name, command: `node ${nodeArgs.join(" ")}`, stoppedByUs: false });
  // stdout is read by whoever waits for a port line; drain the rest so the child never blocks.
  managed.proc.stdout?.resume();
  started.push(child);
  return child;
}

export function isRunning(child: Child): boolean {
  return child.isRunning();
}

export function childFailure(child: Child, what: string): Error {
  const tail = child.stderrLines.length > 0 ? `\n  ${child.stderrLines.join("\n  ")}` : "";
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
  await child.stop(5000);
}

export async function stopAll(): Promise<void> {
  await Promise.all(started.map(stopChild));
}

export function killAllNow(): void {
  for (const child of started) if (isRunning(child)) child.stoppedByUs = true;
  killAllChildrenNow();
}

/** One line per child ever started: how it ended and its stderr tail. */
export function childrenReport(): string[] {
  return started.map((child) => {
    const state = child.stoppedByUs
      ? "stopped by the benchmark"
      : isRunning(child)
        ? "running"
        : `exited on its own (code ${String(child.proc.exitCode)}, signal ${String(child.proc.signalCode)})`;
    return `${child.name} [pid ${child.pid}]: ${state}${child.stderrLines.length > 0 ? `; stderr tail:\n  ${child.stderrLines.join("\n  ")}` : ""}`;
  });
}
