// The daemon as a child process (`node --import tsx server/main.ts --config
// FILE`), for tests that kill it: one process, so its pid is the daemon's and
// SIGKILL stops it dead, mid-call, with no shutdown code running. Children
// left running when the test process exits are killed then.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { freePort } from "../helpers/free-port.js";
export { freePort };

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const live = new Set<ChildProcess>();
let hookInstalled = false;

export interface DaemonProcess {
  pid: number;
  grpcUrl: string;
  /** SIGKILLs the daemon and waits until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful stop), SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** The last lines the daemon wrote to stderr. */
  logTail(): string;
}


async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts the daemon with `configFile` and waits until its gRPC port accepts connections. */
export async function startDaemonProcess(configFile: string, grpcPort: number, startTimeoutMs = 60_000): Promise<DaemonProcess> {
  if (!hookInstalled) {
    hookInstalled = true;
    process.on("exit", () => {
      for (const child of live) child.kill("SIGKILL");
    });
  }
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts", "--config", configFile], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, STOWD_LOG_LEVEL: "warn" },
  });
  live.add(child);
  const exited = once(child, "exit").then(() => {
    live.delete(child);
  });
  const tail: string[] = [];
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    tail.push(...text.split("\n").filter((l) => l !== ""));
    tail.splice(0, Math.max(0, tail.length - 30));
  });
  const logTail = () => tail.join("\n");
  const deadline = Date.now() + startTimeoutMs;
  while (!(await listening(grpcPort))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the daemon exited at start (${child.exitCode ?? child.signalCode}):\n${logTail()}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the daemon did not listen on 127.0.0.1:${grpcPort} within ${startTimeoutMs} ms:\n${logTail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    pid: child.pid ?? -1,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    logTail,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
