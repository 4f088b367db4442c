// What the redis store's topic files share: the resolved settings, the
// connection, the listing index's keys, and the small helpers every call
// uses to name its keys and describe itself to the connection.
import { randomBytes } from "node:crypto";
import { integerOption, invalidOption, parseRedisAddr, resolveSettings, type RedisSettings, type RedisStoreOptions } from "./config.js";
import { createRedisConnection, formatAddress, type RedisCall, type RedisConnection } from "./connection.js";
import { indexKeys, objectKeys, type IndexKeys, type ObjectKeys } from "./keys.js";
import { parseManifest, type Manifest } from "./manifest.js";

/** Script retries when another writer changed the object between snapshot and script. */
export const MAX_CONFLICTS = 50;

/** For calls that must not be cut short by the caller once sent (a commit: Redis decides its outcome). */
export const never = new AbortController().signal;

export interface RedisContext {
  readonly settings: RedisSettings;
  readonly conn: RedisConnection;
  /** The keys of the ordered listing index. */
  readonly index: IndexKeys;
}

/** Checks the options and builds the context; the connection dials on its first call. */
export function createRedisContext(options: RedisStoreOptions): RedisContext {
  const settings = resolveSettings(options);
  return { settings, conn: connect(options, settings), index: indexKeys(settings.prefix) };
}

function connect(options: RedisStoreOptions, { policy }: RedisSettings): RedisConnection {
  const credentials = {
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
  };
  if ((options.addr === undefined) === (options.cluster === undefined)) {
    throw invalidOption("addr", "set exactly one of addr (a single node) and cluster (seed nodes)");
  }
  if (options.cluster !== undefined) {
    if (options.cluster.length === 0) throw invalidOption("cluster", "name at least one seed node");
    if ((options.db ?? 0) !== 0) throw invalidOption("db", "a Redis Cluster has only database 0");
    for (const [i, node] of options.cluster.entries()) parseRedisAddr(formatAddress(node), `cluster[${i}]`);
    return createRedisConnection({ cluster: options.cluster, policy, ...credentials });
  }
  const node = parseRedisAddr(options.addr ?? "");
  const db = integerOption(options.db, "db", 0, 0, 1_000_000);
  return createRedisConnection({ node, db, policy, ...credentials });
}

/** The Redis keys of the object `key`. */
export function keysOf(ctx: RedisContext, key: string): ObjectKeys {
  return objectKeys(ctx.settings.prefix, key);
}

export function callFor(operation: string, reference: string, signal: AbortSignal, idempotent = true): RedisCall {
  return { operation, reference, signal, idempotent };
}

/** For cleanup after a failure: its own deadline, not the (possibly aborted) caller's signal. */
export function cleanupCall(ctx: RedisContext, operation: string, reference: string): RedisCall {
  return callFor(operation, reference, AbortSignal.timeout(ctx.settings.policy.totalTimeoutMs));
}

/** The object's current manifest, or undefined when it does not exist. */
export async function manifestOf(ctx: RedisContext, keys: ObjectKeys, call: RedisCall): Promise<Manifest | undefined> {
  return parseManifest(await ctx.conn.run(call, (c) => c.call("hgetall", [keys.manifest])), call.reference);
}

/** A fresh id for a write, a version's data or an etag. */
export function newId(): string {
  return randomBytes(12).toString("hex");
}
