// The primary process of a daemon with server.workers > 1. It serves no call
// itself. It forks the workers, each of which runs the daemon's entry point
// again and serves both ports: node:cluster shares the listening sockets, the
// primary accepts each new connection and hands it to the next worker in turn
// (a connection, and every call on it, stays with its worker). It also
// - relays cache invalidations between the workers (invalidation-relay.ts);
// - logs "stowd serving" once, when every worker serves, with `workers: N`;
// - sums every worker's metrics for /metrics (metrics-collector.ts);
// - replaces a worker that dies after it was serving; a worker that dies
//   before (a port in use, a backend that cannot be built) stops the daemon
//   with that worker's exit code, so a broken start never loops;
// - on SIGTERM or SIGINT stops every worker gracefully (each gets
//   server.shutdownGrace) and exits 0 when all exited 0, else 1; SIGHUP is
//   passed on (certificate and token reload).
import cluster, { type Worker } from "node:cluster";
import { log } from "../observability/log.js";
import { isMetricsRequest, isServingNotice, type ClusterMessage } from "./cluster-messages.js";
import { createInvalidationRelay } from "./invalidation-relay.js";
import { createMetricsCollector } from "./metrics-collector.js";

export interface PrimaryOptions {
  workers: number;
  /** server.shutdownGrace, milliseconds. */
  graceMs: number;
  /** The script every worker runs (the daemon's entry point) and its arguments. */
  script: string;
  args: string[];
}

/** Past the workers' own bound on a stop (the grace period + 5 s, server/main.ts), they are killed. */
const STOP_MARGIN_MS = 6_000;

export function runPrimary(options: PrimaryOptions): void {
  const live = new Set<Worker>();
  const serving = new Set<Worker>();
  const relay = createInvalidationRelay(() => live);
  const metrics = createMetricsCollector(() => live);
  let announced = false;
  let stopping = false;
  let exitCode = 0;

  const fork = () => live.add(cluster.fork());
  const send = (worker: Worker, message: ClusterMessage) => {
    if (worker.isConnected()) worker.send(message);
  };
  const exitOnceAllGone = () => {
    if (live.size === 0) process.exit(exitCode);
  };

  const stop = (reason: Record<string, unknown>) => {
    if (stopping) return;
    stopping = true;
    log("info", "stopping", { ...reason, workers: live.size, graceMs: options.graceMs });
    for (const worker of live) worker.process.kill("SIGTERM");
    setTimeout(() => {
      log("error", "workers did not stop within the grace period + 6s; killing them", { workers: live.size });
      for (const worker of live) worker.process.kill("SIGKILL");
      process.exit(1);
    }, options.graceMs + STOP_MARGIN_MS).unref();
    exitOnceAllGone();
  };

  cluster.setupPrimary({ exec: options.script, args: options.args });
  cluster.on("message", (worker, message: unknown) => {
    if (relay.handle(worker, message) || metrics.handle(worker, message)) return;
    if (isServingNotice(message)) {
      serving.add(worker);
      if (announced) log("info", "worker serving", { worker: worker.id, pid: worker.process.pid });
      else if (serving.size === options.workers) {
        announced = true;
        log("info", "stowd serving", { ...message.fields, workers: options.workers });
      }
    } else if (isMetricsRequest(message)) {
      metrics.collect(message.format).then(
        (text) => send(worker, { stowd: "metrics-text", id: message.id, text }),
        (err: unknown) => send(worker, { stowd: "metrics-text", id: message.id, text: "", error: String(err) }),
      );
    }
  });
  cluster.on("exit", (worker, code, signal) => {
    live.delete(worker);
    relay.gone(worker);
    metrics.gone(worker);
    const wasServing = serving.delete(worker);
    if (stopping) {
      if (code !== 0 && exitCode === 0) exitCode = 1;
      exitOnceAllGone();
    } else if (!wasServing) {
      exitCode = code !== null && code !== 0 ? code : 1;
      log("error", "a worker exited before it was serving; stopping the daemon", { worker: worker.id, code, signal });
      stop({ reason: "a worker failed to start" });
    } else {
      log("warn", "a worker exited unexpectedly; starting another", { worker: worker.id, code, signal });
      fork();
    }
  });

  process.on("SIGTERM", () => stop({ signal: "SIGTERM" }));
  process.on("SIGINT", () => stop({ signal: "SIGINT" }));
  process.on("SIGHUP", () => {
    for (const worker of live) worker.process.kill("SIGHUP");
  });
  for (let i = 0; i < options.workers; i++) fork();
}
