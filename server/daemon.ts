// Assembles the daemon: the service implementations over one store tree,
// served on the gRPC port (grpc-js) and the HTTP port (connect-node).
import { readFileSync } from "node:fs";
import { createRegistry } from "@bufbuild/protobuf";
import {
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { file_stowd_v1_error } from "../gen/stowd/v1/error_pb.js";
import { ProtobufStoreService, file_stowd_v1_protobuf_store } from "../gen/stowd/v1/protobuf_store_pb.js";
import { RawStoreService, file_stowd_v1_raw_store } from "../gen/stowd/v1/raw_store_pb.js";
import type { StoreTree } from "./config/build-store-tree.js";
import type { AuthConfig, TlsConfig } from "./config/config.js";
import { log } from "./observability/log.js";
import type { Metrics } from "./observability/metrics.js";
import { withCallBoundary } from "./services/error-boundary.js";
import { registerBoundMetrics } from "./observability/bound-metrics.js";
import { createReadiness } from "./observability/readiness.js";
import { withCallGuard } from "./services/call-guard.js";
import { callBoundsOf, createCallLimits, formatMs, type CallBounds } from "./services/call-limits.js";
import { createStreamBudget } from "./services/stream-budget.js";
import { createProtobufStoreService } from "./services/protobuf-store-service.js";
import { createRawStoreService, type ServiceLimits } from "./services/raw-store-service.js";
import { createSecurity } from "./security/security.js";
import { startGrpcListener, type ServedService } from "./transports/grpc-listener.js";
import { startHttpListener } from "./transports/http-listener.js";
import type { RequestGate } from "./transports/request-gate.js";

export const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

export interface DaemonOptions {
  /** The store tree (see config/build-store-tree.ts). */
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
}

/** After the grace period, cancelled calls get this long to deliver their status before connections close. */
const CANCEL_DELIVERY_MS = 500;

export interface Daemon {
  grpcPort: number;
  httpPort: number;
  /** Stops gracefully: health turns NOT_SERVING, new calls are refused, running calls get the grace period. */
  close(): Promise<void>;
  /** SIGHUP: re-reads TLS certificates and the token file for new connections and calls; live streams continue. Rejects (and logs) when a file fails to load. */
  reload(): Promise<void>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { tree, limits, metrics } = options;
  const graceMs = options.graceMs ?? 10_000;
  const security = await createSecurity({ tls: options.tls, auth: options.auth });
  const bounds: CallBounds = callBoundsOf(options.bounds);
  const callLimits = createCallLimits({ ...bounds, budget: createStreamBudget(bounds.maxInFlightBytes) });
  registerBoundMetrics(metrics.registry, callLimits);
  // Outside in: errors and metrics, bounds and the call log, authorization, the service.
  const services: ServedService[] = [
    {
      service: RawStoreService,
      impl: withCallBoundary(
        RawStoreService,
        withCallGuard(RawStoreService, security.wrap(RawStoreService, createRawStoreService({ tree, version: VERSION, limits })), callLimits),
        metrics,
      ),
    },
    {
      service: ProtobufStoreService,
      impl: withCallBoundary(
        ProtobufStoreService,
        withCallGuard(
          ProtobufStoreService,
          security.wrap(ProtobufStoreService, createProtobufStoreService({ store: tree.root, maxMessageBytes: limits.maxMessageBytes })),
          callLimits,
        ),
        metrics,
      ),
    },
  ] as ServedService[];

  let serving = true;
  const readiness = createReadiness({ router: tree.router, timeoutMs: options.readinessTimeoutMs ?? 2000, isStopping: () => !serving });
  // Decided from each request's headers, before its body is read.
  const gate: RequestGate = { refuse: (authorization, peer) => security.refuse(authorization, peer), budget: callLimits.budget, maxMessageBytes: limits.maxMessageBytes };
  const grpc = await startGrpcListener({
    gate,
    idleConnectionTimeoutMs: bounds.idleConnectionTimeoutMs,
    address: options.grpcAddress,
    services,
    files: [file_stowd_v1_raw_store, file_stowd_v1_protobuf_store, file_stowd_v1_error],
    maxMessageBytes: limits.maxMessageBytes,
    ...(security.tls === undefined ? {} : { credentials: security.tls.grpcCredentials() }),
    maxStreamsPerConnection: bounds.maxStreamsPerConnection,
  });
  const http = await startHttpListener({
    gate,
    timeouts: bounds,
    address: options.httpAddress,
    services,
    maxMessageBytes: limits.maxMessageBytes,
    ...(security.tls === undefined ? {} : { tls: security.tls }),
    maxStreamsPerConnection: bounds.maxStreamsPerConnection,
    jsonRegistry: createRegistry(
      file_stowd_v1_error,
      file_google_protobuf_wrappers,
      file_google_protobuf_struct,
      file_google_protobuf_timestamp,
      file_google_protobuf_duration,
      file_google_protobuf_empty,
    ),
    plainRoutes: {
      "/healthz": (_req, res) => {
        res.writeHead(serving ? 200 : 503, { "content-type": "text/plain" });
        res.end(serving ? "ok\n" : "stopping\n");
      },
      "/readyz": (_req, res) => {
        readiness.check().then(
          (r) => {
            res.writeHead(r.ready ? 200 : 503, { "content-type": "application/json" });
            res.end(`${JSON.stringify(r)}\n`);
          },
          (err: unknown) => {
            res.writeHead(503, { "content-type": "text/plain" });
            res.end(`readiness check failed: ${String(err)}\n`);
          },
        );
      },
      "/metrics": (_req, res) => {
        metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": metrics.registry.contentType });
            res.end(text);
          },
          (err: unknown) => {
            res.writeHead(500, { "content-type": "text/plain" });
            res.end(`metrics failed: ${String(err)}\n`);
          },
        );
      },
    },
  });
  log("info", "stowd serving", {
    version: VERSION,
    grpc: `${options.grpcAddress.replace(/:\d+$/, "")}:${grpc.port}`,
    http: `${options.httpAddress.replace(/:\d+$/, "")}:${http.port}`,
    schemes: tree.router.routes.map((r) => `${r.scheme}:// -> ${r.backend.kind}`),
    ...security.describe(),
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
        if (callLimits.active > 0) log("warn", "cancelling calls still running after the grace period", { calls: callLimits.active, graceMs });
        callLimits.cancelAll(reason);
      }, graceMs);
      await Promise.all([grpc.close(graceMs + CANCEL_DELIVERY_MS), http.close(graceMs + CANCEL_DELIVERY_MS)]);
      clearTimeout(cancel);
      await tree.close();
    },
    reload: () => security.reload(),
  };
}
