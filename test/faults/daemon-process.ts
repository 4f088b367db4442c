// The daemon as a child process (`node --import tsx server/main.ts --config
// FILE`), for tests that kill it: one process, so its pid is the daemon's and
// SIGKILL stops it dead, mid-call, with no shutdown code running. Children
// left running when the test process exits are killed then.
import { freePort } from "../helpers/free-port.js";
import { isListening, startChild, waitUntilReady } from "../helpers/child-process.js";
import { DAEMON_COMMAND } from "../helpers/serving-daemon.js";
export { freePort };

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

/** Starts the daemon with `configFile` and waits until its gRPC port accepts connections. */
export async function startDaemonProcess(configFile: string, grpcPort: number, startTimeoutMs = 60_000): Promise<DaemonProcess> {
  const [program = "", ...args] = DAEMON_COMMAND;
  const child = startChild(program, [...args, "--config", configFile], {
    env: { ...process.env, STOWD_LOG_LEVEL: "warn" },
    keepStderrLines: 30,
  });
  const logTail = () => child.stderrLines.join("\n");
  const readiness = await waitUntilReady(child, () => isListening(grpcPort), startTimeoutMs, 25);
  if (readiness === "exited")
    throw new Error(`the daemon exited at start (${child.proc.exitCode ?? child.proc.signalCode}):\n${logTail()}`);
  if (readiness === "timed out") {
    await child.kill();
    throw new Error(`the daemon did not listen on 127.0.0.1:${grpcPort} within ${startTimeoutMs} ms:\n${logTail()}`);
  }
  return {
    pid: child.pid,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    logTail,
    kill: () => child.kill(),
    stop: () => child.stop(5_000),
  };
}
