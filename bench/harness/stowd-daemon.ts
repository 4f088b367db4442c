// Starts a stowd daemon as a child process (server/main.ts, the same entry as
// `npm start`) from a YAML config the benchmark writes: file:// under a temp
// dir and mem:// always; optionally the read cache, s3:// on an S3-compatible
// server and abfs:// on an Azure endpoint. Loopback ports only.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { waitUntilReady } from "../../test/helpers/child-process.js";
import { childFailure, spawnNode, type Child } from "./children.js";
import { freePort, waitForPort } from "./ports.js";

/** A throwaway key for a loopback daemon that lives as long as one run (at least 32 bytes, as server.signedUrls requires). */
const BENCH_SIGNING_SECRET = "stowd-bench-signing-secret-not-for-production";

export interface StowdDaemonOptions {
  name: string;
  /** Holds the config file and the file:// data; created if missing. */
  dir: string;
  /** `cache.max_size_mbs`; 0 or undefined = no cache. */
  cacheMbs?: number;
  s3?: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  azure?: { blobUrl: string; account: string; key: string };
  /** Turns on daemon-signed URLs (`server.signedUrls`, one bench key), served under /signed/ on the HTTP port. */
  signedUrls?: boolean;
  /** `server.workers`; above 1 the daemon serves no mem:// (each worker would have a store of its own). */
  workers?: number;
  /** Added to the daemon's environment (e.g. OTEL_* to turn tracing on: bench/tracing-cost.ts). */
  env?: NodeJS.ProcessEnv;
  /** The daemon's entry; default this checkout's server/main.ts (bench/tracing-cost.ts --baseline runs another's). */
  script?: string;
}

export interface StowdDaemon {
  child: Child;
  grpcPort: number;
  httpPort: number;
  configFile: string;
  /** The daemon's /metrics text. */
  metrics(): Promise<string>;
}

export async function startStowdDaemon(options: StowdDaemonOptions): Promise<StowdDaemon> {
  mkdirSync(join(options.dir, "data"), { recursive: true });
  const workers = options.workers ?? 1;
  const schemes: Record<string, unknown> = workers > 1 ? {} : { mem: {} };
  if (options.s3 !== undefined) {
    schemes.s3 = {
      config: {
        endpoint: options.s3.endpoint,
        region: options.s3.region,
        auth_type: "accesskey",
        access_key_id: options.s3.accessKeyId,
        secret_key: options.s3.secretAccessKey,
        disable_ssl: "true",
      },
    };
  }
  if (options.azure !== undefined) {
    schemes.abfs = { config: { account: options.azure.account, key: options.azure.key, endpoint: options.azure.blobUrl } };
  }
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const config = {
    storage: {
      type: "local",
      stow: { kind: "local", config: { path: join(options.dir, "data") } },
      "enable-multicontainer": true,
      // A config file without it gets Flyte's 2 MiB download limit.
      limits: { maxDownloadMBs: 0 },
      ...(options.cacheMbs !== undefined && options.cacheMbs > 0 ? { cache: { max_size_mbs: options.cacheMbs } } : {}),
      schemes,
    },
    server: {
      grpcAddress: `127.0.0.1:${grpcPort}`,
      httpAddress: `127.0.0.1:${httpPort}`,
      logLevel: "info",
      ...(workers > 1 ? { workers } : {}),
      ...(options.signedUrls === true ? { signedUrls: { keys: [{ id: "bench", secret: BENCH_SIGNING_SECRET }] } } : {}),
    },
  };
  const configFile = join(options.dir, "stowd.yaml");
  writeFileSync(configFile, stringify(config));
  const child = spawnNode(
    options.name,
    options.script ?? "server/main.ts",
    ["--config", configFile],
    options.env === undefined ? {} : { env: options.env },
  );
  if (workers > 1) {
    // The primary logs "stowd serving" once every worker serves: connections made earlier would all reach the first.
    const readiness = await waitUntilReady(child, () => child.stderrLines.some((l) => l.includes('"stowd serving"')), 90_000, 100);
    if (readiness !== "ready") throw childFailure(child, `did not serve within 90 s (${readiness})`);
  } else {
    await waitForPort(grpcPort, child);
  }
  return {
    child,
    grpcPort,
    httpPort,
    configFile,
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
      if (!res.ok) throw new Error(`${options.name}: /metrics answered HTTP ${res.status}`);
      return res.text();
    },
  };
}

/** The cache's hit and miss counters, as series names for metricValue. */
export const CACHE_HITS = 'stowd_layer_outcomes_total{layer="cache",outcome="hit"}';
export const CACHE_MISSES = 'stowd_layer_outcomes_total{layer="cache",outcome="miss"}';

/** A counter's value from Prometheus text, e.g. metricValue(text, CACHE_HITS); 0 when absent. */
export function metricValue(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}
