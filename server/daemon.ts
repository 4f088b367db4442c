// The daemon: the services over one store tree, served on the gRPC port
// (grpc-js) and the HTTP port (connect-node), and the order in which it
// starts and stops. What each part is made of is built in server/assembly/.
import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { registerBoundMetrics } from "./assembly/bound-metrics.js";
import { startListeners } from "./assembly/listeners.js";
import { plainRoutes } from "./assembly/plain-routes.js";
import { createReadiness } from "./assembly/readiness.js";
import { servedServices } from "./assembly/served-services.js";
import { callBoundsOf, createCallLimits, formatMs, type CallBounds } from "./calls/call-limits.js";
import { createStreamBudget } from "./calls/stream-budget.js";
import type { AuthConfig, CorsConfig, TlsConfig } from "./config/config.js";
import type { StoreTree } from "./decorators/store-tree.js";
import { log } from "./observability/log.js";
import { registerBuildInfo } from "./observability/build-info.js";
import { scrapeRegistry, type MetricsFormat } from "./observability/metrics-format.js";
import type { Metrics } from "./observability/metrics.js";
import { callerIdentityOf } from "./security/caller-identity.js";
import { createSecurity } from "./security/security.js";
import type { DaemonSignedUrls } from "./signed-urls/daemon-signed-urls.js";
import { SIGNED_URL_ROUTE } from "./signed-urls/signed-url-path.js";
import { signedUrlRoute } from "./signed-urls/signed-url-route.js";
import { isLoopbackAddress } from "./config/loopback.js";
import { createHostGuard } from "./transports/host-guard.js";
import type { ServiceLimits } from "./services/raw-store-service.js";

export const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
  .version;

export interface DaemonOptions {
  /** The store tree (assembly/store-tree.ts). */
  tree: StoreTree;
  /** Served at /metrics; the tree's nodes report into it too. */
  metrics: Metrics;
  /** gRPC listen address, host:port (port 0 = any free port). */
  grpcAddress: string;
  /** HTTP (Connect, gRPC-Web, /healthz) listen address, host:port. */
  httpAddress: string;
  limits: ServiceLimits;
  /** How long running calls may finish after a stop begins. Default 10 s. */
  graceMs?: number;
  /** TLS on both listeners (server.tls); default cleartext. */
  tls?: TlsConfig | undefined;
  /** Authorization (server.auth, STOWD_AUTH_TOKEN); default off. */
  auth?: AuthConfig | undefined;
  /** Resource bounds (server.maxConcurrentCalls, maxInFlightMBs, ...); defaults: DEFAULT_CALL_BOUNDS. */
  bounds?: Partial<CallBounds>;
  /** Per-backend probe bound of /readyz (server.readinessTimeout). Default 2 s. */
  readinessTimeoutMs?: number;
  /** Browser origins allowed to call the HTTP port (server.cors); default none. */
  cors?: CorsConfig | undefined;
  /** Daemon-signed URLs for file://, mem:// and redis:// (server.signedUrls), served under /signed/; default none. */
  signedUrls?: DaemonSignedUrls | undefined;
  /** Serve the web console at /console/ (server.console, as config/console-config.ts consoleEnabled decides); default off. */
  console?: boolean | undefined;
  /** Host names besides loopback ones a loopback HTTP port with auth off answers (server.allowedHosts; transports/host-guard.ts). */
  allowedHosts?: string[] | undefined;
  /** Announces the "stowd serving" line's fields once both ports listen. Default: logs the line; a worker hands them to the primary, which logs one line for all workers. */
  announce?: (fields: Record<string, unknown>) => void;
  /** What /metrics serves, in the format asked for. Default: this process's registry; a worker's is every worker's, summed (server/cluster/). */
  scrape?: (format: MetricsFormat) => Promise<string>;
}

/** After the grace period, cancelled calls get this long to deliver their status before connections close. */
const CANCEL_DELIVERY_MS = 500;

export interface Daemon {
  grpcPort: number;
  httpPort: number;
  /** Stops gracefully: health turns NOT_SERVING, new calls are refused, running calls get the grace period. */
  close(): Promise<void>;
  /** SIGHUP: re-reads TLS certificates, the token file and the signed-URL key file for new connections and calls; live streams continue. Rejects (and logs) when a file fails to load. */
  reload(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { tree, limits, metrics } = options;
  const graceMs = options.graceMs ?? 10_000;
  const security = await createSecurity({ tls: options.tls, auth: options.auth });
  const bounds: CallBounds = callBoundsOf(options.bounds);
  const callLimits = createCallLimits({ ...bounds, budget: createStreamBudget(bounds.maxInFlightBytes) });
  registerBoundMetrics(metrics.registry, callLimits);
  registerBuildInfo(metrics.registry, VERSION);
  const services = servedServices({
    tree,
    version: VERSION,
    limits,
    stages: { metrics, limits: callLimits, authorization: security.authorization, identify: callerIdentityOf },
  });

  let serving = true;
  const readiness = createReadiness({ router: tree.router, timeoutMs: options.readinessTimeoutMs ?? 2000, isStopping: () => !serving });
  const { signedUrls } = options;
  const signedUrlRoutes =
    signedUrls === undefined
      ? {}
      : {
          [SIGNED_URL_ROUTE]: signedUrlRoute({
            signer: signedUrls.signer,
            tree,
            maxUploadBytes: limits.maxUploadBytes,
            principalNamed: security.authEnabled ? (name) => security.principalNamed(name) : undefined,
            cors: options.cors,
            metrics,
            limits: callLimits,
          }),
        };
  const { grpc, http } = await startListeners({
    grpcAddress: options.grpcAddress,
    httpAddress: options.httpAddress,
    services,
    plainRoutes: {
      ...signedUrlRoutes,
      ...plainRoutes({
        isServing: () => serving,
        readiness,
        scrape: options.scrape ?? ((format) => scrapeRegistry(metrics.registry, format)),
        console: options.console === true,
      }),
    },
    security,
    bounds,
    budget: callLimits.budget,
    maxMessageBytes: limits.maxMessageBytes,
    cors: options.cors,
    hostGuard:
      security.authorization === undefined && isLoopbackAddress(options.httpAddress)
        ? createHostGuard(options.allowedHosts ?? [])
        : undefined,
  });
  signedUrls?.listening({ httpAddress: options.httpAddress, port: http.port, tls: security.tls !== undefined });
  const announce = options.announce ?? ((fields) => log("info", "stowd serving", fields));
  announce({
    version: VERSION,
    grpc: `${options.grpcAddress.replace(/:\d+$/, "")}:${grpc.port}`,
    http: `${options.httpAddress.replace(/:\d+$/, "")}:${http.port}`,
    schemes: tree.router.routes.map((r) => `${r.scheme}:// -> ${r.backend.kind}`),
    ...security.describe(),
    ...signedUrls?.describe(),
    cors: options.cors === undefined ? "off" : options.cors.allowedOrigins.join(" "),
    console: options.console === true ? "/console/" : "off",
  });

  return {
    grpcPort: grpc.port,
    httpPort: http.port,
    async close() {
      // Readiness and health fail first, then new calls are refused; running
      // calls get the grace period, then are cancelled with UNAVAILABLE.
      serving = false;
      grpc.setNotServing();
      callLimits.stop();
      const cancel = setTimeout(() => {
        const reason = new ConnectError(
          `the daemon shut down before this call finished: it ran past the grace period of ${formatMs(graceMs)} (server.shutdownGrace); an unfinished write stores nothing; retry on another replica`,
          Code.Unavailable,
        );
        if (callLimits.active > 0)
          log("warn", "cancelling calls still running after the grace period", { calls: callLimits.active, graceMs });
        callLimits.cancelAll(reason);
      }, graceMs);
      await Promise.all([grpc.close(graceMs + CANCEL_DELIVERY_MS), http.close(graceMs + CANCEL_DELIVERY_MS)]);
      clearTimeout(cancel);
      await tree.close();
    },
    async reload() {
      // Both are re-read even when one fails; each logs its own outcome.
      const results = await Promise.allSettled([security.reload(), signedUrls?.reload()]);
      const failed = results.find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    },
  };
}
