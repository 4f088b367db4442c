// Starts a real daemon on free loopback ports for tests: mem:// on the
// memory store and file:// on a local store in a fresh temp directory, with
// the rest of the store tree (cache, download limit) as the test asks.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildStoreTree } from "../../server/assembly/store-tree.js";
import { SERVER_DEFAULTS } from "../../server/config/load-config.js";
import type { CallBounds } from "../../server/calls/call-limits.js";
import type { StorageConfig, StowdConfig } from "../../server/config/config.js";
import { builtBackend, type Backend } from "../../server/decorators/scheme-router.js";
import { startDaemon, type DaemonOptions } from "../../server/daemon.js";
import { setLogLevel } from "../../server/observability/log.js";
import { createMetrics, type Metrics } from "../../server/observability/metrics.js";
import { createLocalStore } from "../../server/stores/local/index.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";

export interface TestDaemon {
  /** gRPC port as a base URL, e.g. http://127.0.0.1:40123. */
  grpcUrl: string;
  /** HTTP port (Connect, gRPC-Web, /healthz, /metrics) as a base URL. */
  httpUrl: string;
  /** gRPC port as host:port, for grpc-js clients. */
  grpcAddress: string;
  /** Root directory of the file:// store. */
  localRoot: string;
  metrics: Metrics;
  close(): Promise<void>;
}

export interface TestDaemonOptions {
  limits?: Partial<DaemonOptions["limits"]>;
  /** `cache.max_size_mbs`; default 0 (no cache). */
  cacheMbs?: number;
  /** `limits.maxDownloadMBs`; default 0 (unlimited). */
  maxDownloadMBs?: number;
  /** Extra backends by scheme, next to mem:// and file://. */
  backends?: Record<string, Backend>;
  /** Resource bounds (server.maxConcurrentCalls, ...); default: the daemon's defaults. */
  bounds?: Partial<CallBounds>;
  /** Shutdown grace period; default 1 s. */
  graceMs?: number;
  /** /readyz probe bound per backend; default 2 s. */
  readinessTimeoutMs?: number;
  /** server.allowedHosts; default none. */
  allowedHosts?: string[];
  /** Serve the web console at /console/; default off. */
  console?: boolean;
}

/** A storage block with Flyte's shape and everything switched off, for tests. */
export function testStorageConfig(overrides: Partial<StorageConfig> = {}): StorageConfig {
  return {
    type: "mem",
    container: "",
    enableMultiContainer: true,
    createContainer: false,
    stow: { kind: "", config: {} },
    connection: { endpoint: "", authType: "iam", accessKey: "", secretKey: "", region: "us-east-1", disableSsl: false },
    cache: { maxSizeMbs: 0, targetGcPercent: 0, ttlSeconds: 0 },
    limits: { maxDownloadMBs: 0 },
    redis: { addr: "", username: "", password: "", db: 0, cluster: [] },
    schemes: {},
    defaultHttpClient: {
      headers: {},
      timeoutMs: 0,
      maxIdleConns: 1024,
      maxIdleConnsPerHost: 1024,
      maxConnsPerHost: 0,
      idleConnTimeoutMs: 90_000,
    },
    signedUrl: { stowConfigOverride: {} },
    ...overrides,
  };
}

export async function startTestDaemon(options: TestDaemonOptions = {}): Promise<TestDaemon> {
  // One info line per call would bury the test output; STOWD_LOG_LEVEL=info shows them.
  if (process.env.STOWD_LOG_LEVEL === undefined) setLogLevel("warn");
  const localRoot = await mkdtemp(join(tmpdir(), "stowd-test-"));
  const metrics = createMetrics();
  const config: StowdConfig = {
    storage: testStorageConfig({
      cache: { maxSizeMbs: options.cacheMbs ?? 0, targetGcPercent: 0, ttlSeconds: 0 },
      limits: { maxDownloadMBs: options.maxDownloadMBs ?? 0 },
    }),
    server: {
      ...SERVER_DEFAULTS,
      grpcAddress: "127.0.0.1:0",
      httpAddress: "127.0.0.1:0",
      shutdownGraceMs: options.graceMs ?? 1000,
      maxMessageBytes: 16 * 1024 * 1024,
      maxUploadBytes: 0,
      logLevel: "info",
    },
  };
  const tree = await buildStoreTree(config, {
    metrics,
    backends: {
      mem: builtBackend(createMemoryStore()),
      file: builtBackend(await createLocalStore({ root: localRoot })),
      ...options.backends,
    },
  });
  const daemon = await startDaemon({
    tree,
    metrics,
    grpcAddress: config.server.grpcAddress,
    httpAddress: config.server.httpAddress,
    limits: { maxUploadBytes: 0, maxMessageBytes: config.server.maxMessageBytes, ...options.limits },
    graceMs: config.server.shutdownGraceMs,
    ...(options.bounds === undefined ? {} : { bounds: options.bounds }),
    ...(options.readinessTimeoutMs === undefined ? {} : { readinessTimeoutMs: options.readinessTimeoutMs }),
    ...(options.allowedHosts === undefined ? {} : { allowedHosts: options.allowedHosts }),
    ...(options.console === undefined ? {} : { console: options.console }),
  });
  return {
    grpcUrl: `http://127.0.0.1:${daemon.grpcPort}`,
    httpUrl: `http://127.0.0.1:${daemon.httpPort}`,
    grpcAddress: `127.0.0.1:${daemon.grpcPort}`,
    localRoot,
    metrics,
    async close() {
      await daemon.close();
      await rm(localRoot, { recursive: true, force: true });
    },
  };
}
