// The daemon's configuration, as loaded and validated from YAML, env vars and
// flags (see load-config.ts). The `storage` block accepts a Flyte storage
// config unchanged: its key names and defaults are Flyte's
// (flytestdlib/storage/config.go); stowd's own keys live under `server`.
import type { LogLevel } from "../observability/log.js";
import type { CallBounds } from "../calls/call-limits.js";

/** Flyte's `storage.type`. */
export type StorageType = "mem" | "local" | "s3" | "minio" | "stow" | "redis";

export interface RedisConfig {
  /** host:port of a single node; required unless `cluster` is set. */
  addr: string;
  username: string;
  password: string;
  db: number;
  /** stowd: cluster seed nodes, host:port each; empty = single node. */
  cluster: string[];
}

export interface StowConfig {
  /** s3 | google | azure | local (stowd has no oracle or swift backend). */
  kind: string;
  /**
   * Passed to the backend with stow's key names (region, endpoint, access_key_id, path, account, ...),
   * keys verbatim. This is always the effective backend config: a file in Flyte v1's `connection`
   * form has already been translated here (Flyte's legacyS3ConfigMap).
   */
  config: Record<string, string>;
}

/** Flyte v1's deprecated `storage.connection` block, as given; the loader maps it into `stow` when `stow` is absent. */
export interface LegacyConnectionConfig {
  endpoint: string;
  authType: string;
  accessKey: string;
  secretKey: string;
  region: string;
  disableSsl: boolean;
}

export interface SchemeConfig {
  /** stow kind: as given, else derived from the scheme (s3→s3, gs→google, abfs/abfss→azure, file→local); "" for mem and redis. */
  kind: string;
  config: Record<string, string>;
  redis?: RedisConfig;
}

export interface StorageConfig {
  type: StorageType;
  /** Flyte's init container: the default bucket. */
  container: string;
  /** Allow any container named in a reference (Flyte's `enable-multicontainer`). */
  enableMultiContainer: boolean;
  /** stowd: create the init container at start if missing (Flyte always tried; default false). */
  createContainer: boolean;
  stow: StowConfig;
  connection: LegacyConnectionConfig;
  cache: {
    /** `cache.max_size_mbs`; 0 disables the cache. */
    maxSizeMbs: number;
    /** Accepted for Flyte compatibility; stowd never changes the process GC. */
    targetGcPercent: number;
    /** stowd: entry lifetime in seconds; 0 = until evicted or invalidated. */
    ttlSeconds: number;
  };
  limits: {
    /** `limits.maxDownloadMBs`; 0 = unlimited. Flyte's default is 2. */
    maxDownloadMBs: number;
  };
  redis: RedisConfig;
  schemes: Record<string, SchemeConfig>;
  /** Flyte's `defaultHttpClient.*`: accepted; `timeout` bounds each backend attempt. */
  defaultHttpClient: {
    headers: Record<string, string[]>;
    /** Milliseconds; 0 = none. */
    timeoutMs: number;
    /** Idle connections kept across all hosts; Flyte's default 1024, 0 = the HTTP agent's default. */
    maxIdleConns: number;
    /** Idle connections kept per host; Flyte's default 1024, 0 = the HTTP agent's default. */
    maxIdleConnsPerHost: number;
    /** Connections per host; 0 = unlimited (Flyte's default). */
    maxConnsPerHost: number;
    /** How long an idle connection stays open, milliseconds; Flyte's default 90 s, 0 = the agent's default. */
    idleConnTimeoutMs: number;
  };
  signedUrl: {
    /** stow.config keys merged over the backend's config for CreateSignedUrl only. */
    stowConfigOverride: Record<string, string>;
  };
}

/** `server:`; the resource bounds (maxConcurrentCalls, maxInFlightMBs, deadlines, ...) are CallBounds. */
export interface ServerConfig extends CallBounds {
  /** host:port for the gRPC listener. */
  grpcAddress: string;
  /** host:port for the HTTP listener (Connect, gRPC-Web, /healthz, /metrics). */
  httpAddress: string;
  /** Grace period for running calls on shutdown, milliseconds. */
  shutdownGraceMs: number;
  /** Largest gRPC message either listener accepts, bytes. */
  maxMessageBytes: number;
  /** Largest object WriteRaw stores, bytes; 0 = unlimited. */
  maxUploadBytes: number;
  logLevel: LogLevel;
  /** TLS on both listeners (server.tls); absent = cleartext. */
  tls?: TlsConfig;
  /** Bearer-token / client-certificate authorization (server.auth, STOWD_AUTH_TOKEN); absent = off. */
  auth?: AuthConfig;
  /** --insecure: allow a non-loopback listen address without TLS and authentication. */
  insecure?: boolean;
  /** server.readinessTimeout, milliseconds: how long /readyz waits for each backend's probe. */
  readinessTimeoutMs: number;
  /** server.workers: processes serving both ports (node:cluster, server/cluster/); absent = 1, the daemon is one process. */
  workers?: number;
  /** server.cors: the web origins whose pages may call the HTTP port from a browser; absent = none (CORS off). */
  cors?: CorsConfig;
  /** server.signedUrls: keys the daemon signs file://, mem:// and redis:// URLs with (server/signed-urls/); absent = none. */
  signedUrls?: SignedUrlConfig;
  /** server.allowedHosts: Host names a loopback HTTP port with auth off answers besides localhost and IP addresses (transports/host-guard.ts). */
  allowedHosts?: string[];
  /** server.console as given; absent = the default (server/config/console-config.ts consoleEnabled). */
  console?: ConsoleConfig;
}

/** server.console: the web console at /console on the HTTP port. */
export interface ConsoleConfig {
  /** Default (when absent): on, unless auth is off on a non-loopback HTTP address. */
  enabled: boolean;
}

/** server.signedUrls (server/config/signed-url-config.ts). */
export interface SignedUrlConfig {
  /** Inline keys (`keys:`); the first signs, every one verifies. Empty when keyFile is given. */
  keys: SigningKey[];
  /** A YAML file with the same `keys:` list, re-read on SIGHUP; exclusive with keys. */
  keyFile?: string;
  /** What the URLs start with, e.g. https://stowd.example:8081; absent = derived from the HTTP listener. */
  baseUrl?: string;
}

/** One signing key: the id a URL names, and its secret (at least 32 bytes; never logged). */
export interface SigningKey {
  id: string;
  secret: string;
}

/** server.cors (server/config/cors-config.ts). */
export interface CorsConfig {
  /** Serialized origins (`https://app.example`, `http://localhost:3000`), or exactly ["*"] for any origin. */
  allowedOrigins: string[];
  /** How long a browser may cache a preflight answer, milliseconds (sent in whole seconds). */
  maxAgeMs: number;
}

/** server.tls: PEM files, re-read on SIGHUP. */
export interface TlsConfig {
  certFile: string;
  keyFile: string;
  /** Mutual TLS: clients must present a certificate this CA signed. */
  clientCaFile?: string;
}

/** server.auth; on when a token file or STOWD_AUTH_TOKEN is given. */
export interface AuthConfig {
  /** YAML file of hashed tokens and client-certificate identities with their grants, re-read on SIGHUP. */
  tokenFile?: string;
  /** STOWD_AUTH_TOKEN: one token with every grant. A secret: never log it. */
  token?: string;
}

export interface StowdConfig {
  storage: StorageConfig;
  server: ServerConfig;
}
