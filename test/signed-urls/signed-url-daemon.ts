// A real daemon for the signed-URL tests, built as main.ts builds one: the
// config (parsed from YAML, so server.signedUrls goes through the loader),
// the signed-URL keys, the store tree from the configured backends (file://
// in a temp directory, mem://, and redis:// when a Redis address is given),
// and both ports on free loopback ports. Backends that sign their own URLs
// (s3, gs, abfs) are passed in instead of configured.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { buildStoreTree } from "../../server/assembly/store-tree.js";
import type { CallBounds } from "../../server/calls/call-limits.js";
import type { AuthConfig, CorsConfig, TlsConfig } from "../../server/config/config.js";
import { parseConfig } from "../../server/config/load-config.js";
import { startDaemon, type Daemon } from "../../server/daemon.js";
import type { Backend } from "../../server/decorators/scheme-router.js";
import { setLogLevel } from "../../server/observability/log.js";
import { createMetrics } from "../../server/observability/metrics.js";
import { createDaemonSignedUrls, type DaemonSignedUrls } from "../../server/signed-urls/daemon-signed-urls.js";

export const SECRET_A = "a-test-secret-of-at-least-32-bytes-0001";
export const SECRET_B = "b-test-secret-of-at-least-32-bytes-0002";

export interface SignedUrlDaemonOptions {
  /** server.signedUrls as YAML values; default one inline key. null = no server.signedUrls. */
  signedUrls?: Record<string, unknown> | null;
  /** Adds redis:// on this Redis (host:port). */
  redisAddr?: string;
  /** Backends to serve instead of the configured file://, mem:// and redis://. */
  backends?: Record<string, Backend>;
  maxDownloadMBs?: number;
  maxUploadMBs?: number;
  cacheMbs?: number;
  auth?: AuthConfig;
  /** server.cors: browser origins allowed to call the HTTP port (and use its signed URLs). */
  cors?: CorsConfig;
  /** server.tls: both ports serve TLS; `caPem` is the CA the SDK client trusts. */
  tls?: TlsConfig & { caPem: Buffer };
  /** Call bounds (server.maxConcurrentCalls, idleStreamTimeout, defaultDeadline, ...); defaults for the rest. */
  bounds?: Partial<CallBounds>;
  /** server.shutdownGrace; default 1 s. */
  graceMs?: number;
}

export interface SignedUrlDaemon {
  daemon: Daemon;
  httpUrl: string;
  grpcUrl: string;
  localRoot: string;
  signedUrls: DaemonSignedUrls | undefined;
  /** An SDK client, with a bearer token when given. */
  client(token?: string): StowdClient;
  close(): Promise<void>;
}

export async function startSignedUrlDaemon(options: SignedUrlDaemonOptions = {}): Promise<SignedUrlDaemon> {
  if (process.env.STOWD_LOG_LEVEL === undefined) setLogLevel("warn");
  const localRoot = await mkdtemp(join(tmpdir(), "stowd-signed-"));
  const signedUrls = options.signedUrls === undefined ? { keys: [{ id: "key-a", secret: SECRET_A }] } : options.signedUrls;
  const yaml = stringify({
    storage: {
      type: "local",
      stow: { kind: "local", config: { path: localRoot } },
      "enable-multicontainer": true,
      limits: { maxDownloadMBs: options.maxDownloadMBs ?? 0 },
      cache: { max_size_mbs: options.cacheMbs ?? 0 },
      ...(options.redisAddr === undefined ? {} : { redis: { addr: options.redisAddr } }),
      schemes: { mem: {}, ...(options.redisAddr === undefined ? {} : { redis: {} }) },
    },
    server: {
      grpcAddress: "127.0.0.1:0",
      httpAddress: "127.0.0.1:0",
      maxUploadMBs: options.maxUploadMBs ?? 0,
      ...(signedUrls === null ? {} : { signedUrls }),
    },
  });
  const config = parseConfig(yaml, { source: "signed-url-daemon.yaml" });
  const metrics = createMetrics();
  const urls = config.server.signedUrls === undefined ? undefined : await createDaemonSignedUrls(config.server.signedUrls);
  const tree = await buildStoreTree(config, {
    metrics,
    ...(urls === undefined ? {} : { urlSigner: urls.signer }),
    ...(options.backends === undefined ? {} : { backends: options.backends }),
  });
  const daemon = await startDaemon({
    tree,
    metrics,
    grpcAddress: config.server.grpcAddress,
    httpAddress: config.server.httpAddress,
    limits: { maxUploadBytes: config.server.maxUploadBytes, maxMessageBytes: config.server.maxMessageBytes },
    graceMs: options.graceMs ?? 1000,
    ...(options.bounds === undefined ? {} : { bounds: options.bounds }),
    auth: options.auth,
    cors: options.cors,
    ...(options.tls === undefined ? {} : { tls: { certFile: options.tls.certFile, keyFile: options.tls.keyFile } }),
    signedUrls: urls,
  });
  const scheme = options.tls === undefined ? "http" : "https";
  const grpcUrl = `${scheme}://127.0.0.1:${daemon.grpcPort}`;
  const clients: StowdClient[] = [];
  return {
    daemon,
    httpUrl: `${scheme}://127.0.0.1:${daemon.httpPort}`,
    grpcUrl,
    localRoot,
    signedUrls: urls,
    client(token) {
      const client = createStowdClient({
        baseUrl: grpcUrl,
        timeoutMs: 30_000,
        ...(token === undefined ? {} : { token }),
        ...(options.tls === undefined ? {} : { tls: { ca: options.tls.caPem } }),
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.close();
      await daemon.close();
      await rm(localRoot, { recursive: true, force: true });
    },
  };
}
