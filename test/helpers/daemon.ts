// Starts a real daemon on free loopback ports for tests: mem:// on the
// memory store and file:// on a local store in a fresh temp directory.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSchemeRouter } from "../../server/decorators/scheme-router.js";
import { startDaemon, type DaemonOptions } from "../../server/daemon.js";
import { createLocalStore } from "../../server/stores/local-store.js";
import { createMemoryStore } from "../../server/stores/memory-store.js";

export interface TestDaemon {
  /** gRPC port as a base URL, e.g. http://127.0.0.1:40123. */
  grpcUrl: string;
  /** HTTP port (Connect, gRPC-Web, /healthz) as a base URL. */
  httpUrl: string;
  /** gRPC port as host:port, for grpc-js clients. */
  grpcAddress: string;
  /** Root directory of the file:// store. */
  localRoot: string;
  close(): Promise<void>;
}

export async function startTestDaemon(limits: Partial<DaemonOptions["limits"]> = {}): Promise<TestDaemon> {
  const localRoot = await mkdtemp(join(tmpdir(), "stowd-test-"));
  const store = createSchemeRouter({
    mem: createMemoryStore(),
    file: await createLocalStore({ root: localRoot }),
  });
  const daemon = await startDaemon({
    store,
    grpcAddress: "127.0.0.1:0",
    httpAddress: "127.0.0.1:0",
    limits: { maxUploadBytes: 0, maxMessageBytes: 16 * 1024 * 1024, ...limits },
    graceMs: 1000,
  });
  return {
    grpcUrl: `http://127.0.0.1:${daemon.grpcPort}`,
    httpUrl: `http://127.0.0.1:${daemon.httpPort}`,
    grpcAddress: `127.0.0.1:${daemon.grpcPort}`,
    localRoot,
    async close() {
      await daemon.close();
      await rm(localRoot, { recursive: true, force: true });
    },
  };
}
