// The redis store's options, and the parsing of their values: Flyte's
// `redis` block (`storage.redis`, or `storage.schemes.redis.redis`) turned
// into the store's connection options, and the options checked and resolved
// into the settings the store runs with. Pure: it checks values and dials
// nothing, so the config loader runs it to report a bad value at load, and
// the assembly runs it again to build the store.
import type { DaemonUrlSigner } from "../raw-store.js";
import { StowdError } from "../../../common/errors.js";
import { defaultRetryPolicy, type RetryPolicy } from "../kit/retry.js";
import { formatAddress, type RedisNodeAddress } from "./connection.js";
import { KIND } from "./errors.js";
import { DEFAULT_KEY_PREFIX, chunkCount } from "./keys.js";
import { MiB } from "../../../common/units.js";

/** Redis refuses string values of 512 MiB or more. */
export const REDIS_MAX_VALUE_BYTES = 512 * MiB;
export const DEFAULT_REDIS_MAX_OBJECT_BYTES = 256 * MiB;
export const DEFAULT_REDIS_CHUNK_BYTES = MiB;
const DEFAULT_READ_GRACE_SECONDS = 60;
const DEFAULT_STAGING_TTL_SECONDS = 3600;

export interface RedisStoreOptions {
  /** A single node, `host:port` (Flyte's `redis.addr`); exactly one of `addr` and `cluster`. */
  addr?: string;
  /** Seed nodes of a Redis Cluster. */
  cluster?: RedisNodeAddress[];
  username?: string;
  password?: string;
  /** Database index (single node only; a cluster has only database 0). */
  db?: number;
  /** Largest object, in bytes; default 256 MiB, must be below 512 MiB. */
  maxObjectBytes?: number;
  /** Objects expire this long after their last write or append; default never. */
  ttlSeconds?: number;
  /** Retry and timeout policy for every Redis call; unset fields keep the defaults. */
  retry?: Partial<RetryPolicy>;
  /** Size of the chunks objects are cut into; default 1 MiB. */
  chunkBytes?: number;
  /** How long a replaced or deleted version stays readable for reads that opened it; default 60 s. */
  readGraceSeconds?: number;
  /** How long a write may take before its staged chunks expire; default 1 h. */
  stagingTtlSeconds?: number;
  /** Prefix of every Redis key the store uses; default "stowd". */
  keyPrefix?: string;
  /** Signs the URLs the daemon serves for this store (server/signed-urls/); absent = no signed URLs. */
  urlSigner?: DaemonUrlSigner;
}

/** The options checked and resolved, defaults applied, times in ms. */
export interface RedisSettings {
  maxObjectBytes: number;
  ttlMs: number;
  chunkBytes: number;
  graceMs: number;
  stagingTtlMs: number;
  prefix: string;
  policy: RetryPolicy;
}

export function invalidOption(field: string, message: string): StowdError {
  return new StowdError("INVALID_ARGUMENT", `redis store option ${field}: ${message}`, { backend: KIND, field });
}

export function integerOption(value: number | undefined, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidOption(field, `${String(value)} is not an integer from ${min} to ${max}`);
  }
  return value;
}

/** Parses `host:port` (`[v6]:port`; the port defaults to 6379) like go-redis's Addr. */
export function parseRedisAddr(addr: string, field = "addr"): RedisNodeAddress {
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(addr);
  const host = match?.[1];
  const port = Number(match?.[2] ?? 6379);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidOption(field, `${JSON.stringify(addr)} is not host:port, e.g. localhost:6379`);
  }
  return { host, port };
}

export function resolveSettings(options: RedisStoreOptions): RedisSettings {
  const maxObjectBytes = integerOption(
    options.maxObjectBytes,
    "maxObjectBytes",
    DEFAULT_REDIS_MAX_OBJECT_BYTES,
    1,
    REDIS_MAX_VALUE_BYTES - 1,
  );
  const chunkBytes = integerOption(options.chunkBytes, "chunkBytes", DEFAULT_REDIS_CHUNK_BYTES, 4096, 64 * MiB);
  // Scripts name every chunk of an object in KEYS; keep that list reasonable.
  if (chunkCount(maxObjectBytes, chunkBytes) > 16_384) {
    throw invalidOption(
      "chunkBytes",
      `${chunkBytes} cuts maxObjectBytes (${maxObjectBytes}) into more than 16384 chunks; use larger chunks`,
    );
  }
  const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (prefix === "" || /[{}]/.test(prefix))
    throw invalidOption("keyPrefix", `${JSON.stringify(prefix)} must be non-empty and free of "{" and "}" (hash tags)`);
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isFinite(value) || value < 0) throw invalidOption(`retry.${name}`, `${String(value)} must be a non-negative number`);
  }
  return {
    maxObjectBytes,
    chunkBytes,
    ttlMs: integerOption(options.ttlSeconds, "ttlSeconds", 0, 1, 10 * 365 * 86_400) * 1000,
    graceMs: integerOption(options.readGraceSeconds, "readGraceSeconds", DEFAULT_READ_GRACE_SECONDS, 0, 86_400) * 1000,
    stagingTtlMs: integerOption(options.stagingTtlSeconds, "stagingTtlSeconds", DEFAULT_STAGING_TTL_SECONDS, 1, 7 * 86_400) * 1000,
    prefix,
    policy,
  };
}

/** Flyte's `storage.redis` block, plus stowd's `cluster` (seed nodes, `host:port` each). */
export interface FlyteRedisConfig {
  addr?: string;
  username?: string;
  password?: string;
  db?: number;
  cluster?: readonly string[];
}

const FLYTE_REDIS_KEYS = ["addr", "username", "password", "db", "cluster"];

/**
 * Maps Flyte's `redis.*` keys (`addr`, `username`, `password`, `db`; empty =
 * unset, as in Flyte) and stowd's `cluster` to store options; `field` names
 * the block in errors. Other store options (limits, TTLs) are added by the caller.
 */
export function redisStoreOptionsFromFlyte(config: FlyteRedisConfig, field = "redis"): RedisStoreOptions {
  const bad = (key: string, message: string) => new StowdError("INVALID_ARGUMENT", message, { backend: "redis", field: `${field}.${key}` });
  for (const key of Object.keys(config)) {
    if (!FLYTE_REDIS_KEYS.includes(key))
      throw bad(key, `unknown key ${field}.${key}; ${field} accepts addr, username, password, db and cluster`);
  }
  const text = (key: "addr" | "username" | "password"): string => {
    const value: unknown = config[key];
    if (value === undefined || value === null) return "";
    if (typeof value !== "string") throw bad(key, `${field}.${key} must be a string`);
    return value;
  };
  const addr = text("addr");
  const cluster = config.cluster ?? [];
  if (addr !== "" && cluster.length > 0) throw bad("cluster", `give ${field}.addr (one node) or ${field}.cluster (seed nodes), not both`);
  const options: RedisStoreOptions =
    cluster.length > 0
      ? { cluster: cluster.map((node, i) => parseRedisAddr(node, `${field}.cluster[${i}]`)) }
      : { addr: addr === "" ? "" : formatAddress(parseRedisAddr(addr, `${field}.addr`)) };
  if (options.addr === "") throw bad("addr", `storage type [redis] requires ${field}.addr to be set (host:port), or ${field}.cluster`);
  const username = text("username");
  const password = text("password");
  if (username !== "") options.username = username;
  if (password !== "") options.password = password;
  const db: unknown = config.db;
  if (db !== undefined && db !== null && db !== 0) {
    if (typeof db !== "number" || !Number.isSafeInteger(db) || db < 0)
      throw bad("db", `${field}.db must be a non-negative integer, not ${JSON.stringify(db)}`);
    if (cluster.length > 0) throw bad("db", `${field}.db must be 0 with a cluster (a Redis Cluster has only database 0)`);
    options.db = db;
  }
  return options;
}
