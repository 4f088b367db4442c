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
import { file_stowd_v1_error } from "../gen/stowd/v1/error_pb.js";
import { ProtobufStoreService, file_stowd_v1_protobuf_store } from "../gen/stowd/v1/protobuf_store_pb.js";
import { RawStoreService, file_stowd_v1_raw_store } from "../gen/stowd/v1/raw_store_pb.js";
import type { StoreTree } from "./config/build-store-tree.js";
import type { AuthConfig, TlsConfig } from "./config/config.js";
import { log } from "./observability/log.js";
import type { Metrics } from "./observability/metrics.js";
import { withCallBoundary } from "./services/error-boundary.js";
import { createProtobufStoreService } from "./services/protobuf-store-service.js";
import { createRawStoreService, type ServiceLimits } from "./services/raw-store-service.js";
import { createSecurity } from "./security/security.js";
import { startGrpcListener, type ServedService } from "./transports/grpc-listener.js";
import { startHttpListener } from "./transports/http-listener.js";

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
}

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
  const services: ServedService[] = [
    {
      service: RawStoreService,
      impl: withCallBoundary(RawStoreService, security.wrap(RawStoreService, createRawStoreService({ tree, version: VERSION, limits })), metrics),
    },
    {
      service: ProtobufStoreService,
      impl: withCallBoundary(
        ProtobufStoreService,
        security.wrap(ProtobufStoreService, createProtobufStoreService({ store: tree.root, maxMessageBytes: limits.maxMessageBytes })),
        metrics,
      ),
    },
  ] as ServedService[];

  let serving = true;
  const grpc = await startGrpcListener({
    address: options.grpcAddress,
    services,
    files: [file_stowd_v1_raw_store, file_stowd_v1_protobuf_store, file_stowd_v1_error],
    maxMessageBytes: limits.maxMessageBytes,
    ...(security.tls === undefined ? {} : { credentials: security.tls.grpcCredentials() }),
  });
  const http = await startHttpListener({
    address: options.httpAddress,
    services,
    maxMessageBytes: limits.maxMessageBytes,
    ...(security.tls === undefined ? {} : { tls: security.tls }),
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
      serving = false;
      grpc.setNotServing();
      await Promise.all([grpc.close(graceMs), http.close(graceMs)]);
      await tree.close();
    },
    reload: () => security.reload(),
  };
}
