// The one way tests and the benchmark run a server as a child process
// (daemons, redis-server, Ceph, azurite, the bench's ceiling servers):
// started with its stderr lines kept for failure reports, polled until it is
// ready, stopped with SIGTERM and then SIGKILL after a grace period, and
// SIGKILLed when this process exits or a signal stops it, so a run that dies
// before its cleanup leaves nothing running.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { connect } from "node:net";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { REPO_ROOT } from "./repo-root.js";

export interface ChildOptions {
  /** Default: the repository root. */
  cwd?: string;
  /** The child's whole environment; default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** Default ["ignore", "ignore", "pipe"]; a piped stderr is read into `stderrLines`. */
  stdio?: StdioOptions;
  /** How many of the last stderr lines to keep; default all; 0 leaves a piped stderr to the caller. */
  keepStderrLines?: number;
}

export interface Child {
  proc: ChildProcess;
  /** -1 when it could not be started. */
  pid: number;
  /** Its stderr lines so far (when stderr is piped), the last `keepStderrLines` of them. */
  stderrLines: string[];
  /** Resolves once it has exited, with its exit code (null when a signal ended it or it never started). */
  exited: Promise<number | null>;
  isRunning(): boolean;
  /** Sends `name` if it is still running. */
  signal(name: NodeJS.Signals): void;
  /** SIGKILL (no shutdown code runs), then waits until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs` if it is still running, then waits until it is gone. */
  stop(graceMs: number): Promise<void>;
}

const live = new Set<Child>();
const exitCleanups = new Set<() => void>();
let hooksInstalled = false;

/** SIGKILLs every child still running and runs the exit cleanups; synchronous, as an 'exit' handler must be. */
export function killAllChildrenNow(): void {
  for (const child of live) child.signal("SIGKILL");
  live.clear();
  for (const cleanup of exitCleanups) cleanup();
  exitCleanups.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllChildrenNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      killAllChildrenNow();
      process.removeListener(signal, onSignal);
      // Let the default action (or another handler) run as if we were not here.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Runs `cleanup` (e.g. removing a temp dir) if this process exits or a signal
 * stops it before the caller cleaned up itself; the returned function
 * unregisters it. Synchronous: an 'exit' handler cannot wait.
 */
export function onProcessExit(cleanup: () => void): () => void {
  installHooks();
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

export function startChild(command: string, args: readonly string[], options: ChildOptions = {}): Child {
  installHooks();
  const proc = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    stdio: options.stdio ?? ["ignore", "ignore", "pipe"],
  });
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    proc.once("exit", (code) => resolve(code));
    // A command that cannot be started emits 'error' and may never emit 'exit'.
    proc.once("error", () => {
      if (proc.pid === undefined) resolve(null);
    });
  });
  const keep = options.keepStderrLines ?? Infinity;
  const child: Child = {
    proc,
    pid: proc.pid ?? -1,
    stderrLines: [],
    exited,
    isRunning: () => running,
    signal(name) {
      if (running) proc.kill(name);
    },
    async kill() {
      child.signal("SIGKILL");
      await exited;
    },
    async stop(graceMs) {
      if (!running) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => child.signal("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  live.add(child);
  void exited.then(() => {
    running = false;
    live.delete(child);
  });
  if (keep > 0 && proc.stderr !== null) keepLines(proc.stderr, child.stderrLines, keep);
  return child;
}

/** Appends the stream's lines to `lines`, keeping the last `keep`. */
function keepLines(stream: Readable, lines: string[], keep: number): void {
  let partial = "";
  stream.setEncoding("utf8").on("data", (text: string) => {
    const parts = (partial + text).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    if (lines.length > keep) lines.splice(0, lines.length - keep);
  });
}

/** How a wait for a child ended. */
export type Readiness = "ready" | "exited" | "timed out";

/**
 * Calls `ready` every `intervalMs` until it answers true, the child exits, or
 * `timeoutMs` passes; the caller words the failure.
 */
export async function waitUntilReady(
  child: Child,
  ready: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs: number,
): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready()) return "ready";
    if (!child.isRunning()) return "exited";
    if (Date.now() > deadline) return "timed out";
    await sleep(intervalMs);
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
