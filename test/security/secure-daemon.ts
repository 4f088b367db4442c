// A real daemon on free loopback ports with server.tls / server.auth, for the
// security tests: mem:// on the memory store, like test/helpers/daemon.ts.
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { buildStoreTree } from "../../server/assembly/store-tree.js";
import type { AuthConfig, TlsConfig } from "../../server/config/config.js";
import { SERVER_DEFAULTS } from "../../server/config/load-config.js";
import { startDaemon, type Daemon } from "../../server/daemon.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { createMetrics } from "../../server/observability/metrics.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { testStorageConfig } from "../helpers/daemon.js";

export interface SecureDaemon extends Daemon {
  /** https:// or http:// base URLs. */
  grpcUrl: string;
  httpUrl: string;
  grpcAddress: string;
}

export async function startSecureDaemon(options: { tls?: TlsConfig; auth?: AuthConfig }): Promise<SecureDaemon> {
  const metrics = createMetrics();
  const tree = await buildStoreTree(
    {
      storage: testStorageConfig(),
      server: { ...SERVER_DEFAULTS, grpcAddress: "127.0.0.1:0", httpAddress: "127.0.0.1:0", shutdownGraceMs: 1000 },
    },
    { metrics, backends: { mem: builtBackend(createMemoryStore()) } },
  );
  const daemon = await startDaemon({
    tree,
    metrics,
    grpcAddress: "127.0.0.1:0",
    httpAddress: "127.0.0.1:0",
    limits: { maxUploadBytes: 0, maxMessageBytes: 16 << 20 },
    graceMs: 1000,
    tls: options.tls,
    auth: options.auth,
  });
  const scheme = options.tls === undefined ? "http" : "https";
  return Object.assign(daemon, {
    grpcUrl: `${scheme}://127.0.0.1:${daemon.grpcPort}`,
    httpUrl: `${scheme}://127.0.0.1:${daemon.httpPort}`,
    grpcAddress: `127.0.0.1:${daemon.grpcPort}`,
  });
}

export interface TokenSpec {
  name: string;
  token: string;
  grants: Array<{ operations: string[]; prefixes: string[] }>;
}

export interface ClientSpec {
  name: string;
  commonName?: string;
  subjectAltName?: string;
  grants: Array<{ operations: string[]; prefixes: string[] }>;
}

/** Writes a token file (hashing each token) into a temp dir; returns its path. */
export function writeTokenFile(
  tokens: TokenSpec[],
  clients: ClientSpec[] = [],
  file = join(mkdtempSync(join(tmpdir(), "stowd-tokens-")), "tokens.yaml"),
): string {
  const doc = {
    tokens: tokens.map((t) => ({ name: t.name, sha256: createHash("sha256").update(t.token).digest("hex"), grants: t.grants })),
    ...(clients.length === 0 ? {} : { clients }),
  };
  writeFileSync(file, stringify(doc));
  return file;
}
