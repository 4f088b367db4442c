// `npm start`: runs the daemon. The configuration comes from one YAML file
// (--config or STOWD_CONFIG; without one, the embedded default: file:// on
// local disk under ./data and mem:// in memory), then env vars, then flags —
// see `npm start -- --help` and server/config/load-config.ts. A config error
// prints its message (file:line: key: problem) and exits 2. `stowd serve`
// (cli/commands/serve.ts) imports main() and runs the very same daemon.
import cluster from "node:cluster";
import { fileURLToPath } from "node:url";
import { configFileFrom, ConfigError, loadConfig, parseCommandLine, USAGE } from "./config/load-config.js";
import { consoleEnabled } from "./config/console-config.js";
import { buildStoreTree } from "./assembly/store-tree.js";
import { DEFAULT_CONFIG_SOURCE } from "./config/default-config.js";
import { runPrimary } from "./cluster/primary.js";
import { joinPrimary } from "./cluster/worker.js";
import { startDaemon } from "./daemon.js";
import { createDaemonSignedUrls } from "./signed-urls/daemon-signed-urls.js";
import { isEntryModule } from "./entry-module.js";
import { log, setLogLevel } from "./observability/log.js";
import { createMetrics } from "./observability/metrics.js";
import { startTracing } from "./observability/tracing.js";

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const commandLine = parseCommandLine(argv);
  if (commandLine.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = await loadConfig(argv, env);
  setLogLevel(config.server.logLevel);
  // server.workers > 1: this process is the primary, which forks the workers
  // and serves nothing (server/cluster/primary.ts), or one of the workers,
  // which run this function again and serve both ports.
  const workers = config.server.workers ?? 1;
  const isWorker = workers > 1 && cluster.isWorker;
  if (!isWorker) {
    log("info", "config loaded", {
      file: configFileFrom(commandLine, env) ?? DEFAULT_CONFIG_SOURCE,
      type: config.storage.type,
      container: config.storage.container,
    });
  }
  if (workers > 1 && cluster.isPrimary) {
    runPrimary({ workers, graceMs: config.server.shutdownGraceMs, script: fileURLToPath(import.meta.url), args: argv });
    return;
  }

  // Before anything is built: the call pipeline and the store tree ask once, as they are composed, whether tracing is on.
  const tracing = await startTracing(env);
  const metrics = createMetrics();
  const worker = isWorker ? joinPrimary(metrics.registry) : undefined;
  // Keys load before the store tree: file://, mem:// and redis:// sign with them.
  const signedUrls = config.server.signedUrls === undefined ? undefined : await createDaemonSignedUrls(config.server.signedUrls);
  const tree = await buildStoreTree(config, {
    metrics,
    ...(worker === undefined ? {} : { workersBus: worker.bus }),
    ...(signedUrls === undefined ? {} : { urlSigner: signedUrls.signer }),
  });

  const started = startDaemon({
    tree,
    metrics,
    grpcAddress: config.server.grpcAddress,
    httpAddress: config.server.httpAddress,
    limits: { maxUploadBytes: config.server.maxUploadBytes, maxMessageBytes: config.server.maxMessageBytes },
    graceMs: config.server.shutdownGraceMs,
    tls: config.server.tls,
    auth: config.server.auth,
    bounds: config.server,
    readinessTimeoutMs: config.server.readinessTimeoutMs,
    cors: config.server.cors,
    signedUrls,
    console: consoleEnabled(config.server),
    // The host signed URLs name is one the daemon answers to (transports/host-guard.ts).
    allowedHosts: [
      ...(config.server.allowedHosts ?? []),
      ...(config.server.signedUrls?.baseUrl === undefined ? [] : [new URL(config.server.signedUrls.baseUrl).hostname]),
    ],
    ...(worker === undefined ? {} : { announce: worker.announce, scrape: worker.scrape }),
  });
  // Signal handlers go in before the daemon announces "stowd serving": a
  // supervisor that signals as soon as it reads that line must reach them,
  // not the default action that kills the process.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "stopping", { signal, graceMs: config.server.shutdownGraceMs });
    // Calls get the grace period; closing backends and connections after it
    // must not keep the process alive for ever (a backend that never answers).
    setTimeout(() => {
      log("error", "stop did not finish within the grace period + 5s; exiting", { graceMs: config.server.shutdownGraceMs });
      process.exit(1);
    }, config.server.shutdownGraceMs + 5_000).unref();
    started
      .then((daemon) => daemon.close())
      // The spans of the last calls are exported before the process exits.
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log("error", "stop failed", { err: String(err) });
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  // Certificate and token rotation; reload() logs what it loaded or why not.
  process.on("SIGHUP", () => void started.then((daemon) => daemon.reload()).catch(() => undefined));
  await started;
}

/** How a failed start ends the process: a ConfigError exits 2, anything else 1. */
export function exitOnStartFailure(err: unknown): never {
  if (err instanceof ConfigError) {
    // The message says what and where; a stack would only bury it.
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  console.error(`stowd: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

// Started as a script (npm start, node dist/server/main.js), not imported by the CLI.
if (isEntryModule(import.meta.url)) {
  main(process.argv.slice(2), process.env).catch(exitOnStartFailure);
}
