// A stowd daemon as a child process, ready once it logs "stowd serving": that
// line names the addresses it bound, so it may be given 127.0.0.1:0.
import { startChild, waitUntilReady, type Child } from "./child-process.js";

/** The daemon from source, as `npm start` runs it; its pid is the daemon's (one process). */
export const DAEMON_COMMAND: readonly string[] = [process.execPath, "--import", "tsx", "server/main.ts"];

export interface ServingProcess {
  child: Child;
  /** host:port of the gRPC port. */
  grpc: string;
  /** host:port of the HTTP port. */
  http: string;
  /** Its stderr lines so far: config warnings, the "stowd serving" line, later log lines. */
  log: string[];
}

export interface ServingOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Default 30 s. */
  startTimeoutMs?: number;
}

/** Starts `argv` (e.g. DAEMON_COMMAND + flags, or the CLI's serve) and waits for its "stowd serving" line. */
export async function startServingProcess(argv: readonly string[], options: ServingOptions = {}): Promise<ServingProcess> {
  const [program = "", ...args] = argv;
  const child = startChild(program, args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: { ...process.env, ...options.env },
  });
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const servingLine = () => child.stderrLines.find((line) => line.includes('"stowd serving"'));
  const readiness = await waitUntilReady(child, () => servingLine() !== undefined, timeoutMs, 20);
  if (readiness !== "ready") {
    await child.kill();
    const why = readiness === "exited" ? `exited with ${await child.exited} before serving` : `did not start within ${timeoutMs / 1000} s`;
    throw new Error(`the daemon ${why}:\n${child.stderrLines.join("\n")}`);
  }
  const serving = JSON.parse(servingLine() ?? "") as { grpc: string; http: string };
  return { child, grpc: serving.grpc, http: serving.http, log: child.stderrLines };
}
