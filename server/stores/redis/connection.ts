// The redis store's connection: one ioredis client (a single node or a
// Cluster), a readiness gate, and the retry policy around every command,
// whose failures become StowdErrors in one place (errors.ts fromRedisError).
//
// ioredis is configured never to hold a command while disconnected: the
// offline queue is off (a command sent before the connection is ready fails
// at once instead of waiting forever), in-flight commands fail as soon as a
// connection drops (maxRetriesPerRequest 0) and are never resent behind our
// back (autoResendUnfulfilledCommands off: a commit must not run twice). The
// store instead waits for "ready" inside each attempt, under the attempt's
// deadline, and withRetries decides what may be repeated. A server that
// accepts connections and never answers therefore fails the call with
// DEADLINE_EXCEEDED in bounded time, and an unreachable one with
// UNAVAILABLE naming its address.
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { StowdError } from "../../../common/errors.js";
import { withRetries, type RetryPolicy } from "../kit/retry.js";
import { KIND, fromRedisError, isReplyError, isRetryable, replyPrefix } from "./errors.js";
import type { RedisScript } from "./scripts.js";

export interface RedisNodeAddress {
  host: string;
  port: number;
}

export interface RedisConnectionOptions {
  /** One node; exactly one of `node` and `cluster`. */
  node?: RedisNodeAddress;
  cluster?: RedisNodeAddress[];
  username?: string;
  password?: string;
  db?: number;
  policy: RetryPolicy;
}

type Arg = string | Buffer | number;

/** What the store uses of a client; both Redis and Cluster have it. */
interface Commands {
  call(command: string, args: Arg[]): Promise<unknown>;
  callBuffer(command: string, args: Arg[]): Promise<unknown>;
}

export interface RedisCall {
  /** What is being done, for errors, e.g. "HEAD redis://host/key". */
  operation: string;
  /** Safe to repeat after a failure whose outcome is unknown? */
  idempotent: boolean;
  /** The caller's signal; aborting it fails the call with CANCELLED / DEADLINE_EXCEEDED. */
  signal: AbortSignal;
  /** The reference the call is about, for errors. */
  reference: string;
}

export interface RedisConnection {
  readonly isCluster: boolean;
  /** "host:port", or "cluster host:port,..." — for messages. */
  readonly address: string;
  /** Runs `fn` under the retry policy; every failure becomes a StowdError. */
  run<T>(call: RedisCall, fn: (commands: Commands) => Promise<T>): Promise<T>;
  /** Runs a Lua script (EVALSHA, loading it on NOSCRIPT). */
  script(call: RedisCall, script: RedisScript, keys: string[], args: Arg[]): Promise<unknown>;
  close(): Promise<void>;
}

/** A connection attempt that failed outright (refused, unresolvable, auth): report it instead of waiting. */
function isConnectFailure(err: unknown): boolean {
  if (isReplyError(err)) return true;
  if (err instanceof Error && err.name === "ClusterAllFailedError") return true;
  const syscall = (err as { syscall?: unknown } | null)?.syscall;
  return syscall === "connect" || syscall === "getaddrinfo";
}

/** Rejects with the signal's reason when it aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as unknown);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

export function formatAddress(node: RedisNodeAddress): string {
  return node.host.includes(":") ? `[${node.host}]:${node.port}` : `${node.host}:${node.port}`;
}

export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const { policy } = options;
  // A connection that stops answering while commands are pending is torn
  // down (and its commands failed) after twice the attempt limit.
  const socketTimeout = Math.max(1_000, 2 * policy.attemptTimeoutMs);
  const connectTimeout = Math.max(100, Math.min(10_000, policy.attemptTimeoutMs));
  const reconnectDelay = (times: number) => Math.min(100 * times, 1_000);
  // Options of every node connection (the Cluster sets the offline queue itself).
  const nodeOptions = {
    lazyConnect: true, // no I/O until the first call: factories stay synchronous
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout,
    socketTimeout,
    connectionName: "stowd",
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
  } satisfies RedisOptions;

  let client: Redis | Cluster;
  let address: string;
  if (options.cluster !== undefined) {
    address = `cluster ${options.cluster.map(formatAddress).join(",")}`;
    client = new Cluster(options.cluster, {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: connectTimeout,
      redisOptions: nodeOptions,
    });
  } else {
    const node = options.node;
    if (node === undefined) throw new Error("createRedisConnection needs a node or a cluster");
    address = formatAddress(node);
    client = new Redis({
      ...nodeOptions,
      enableOfflineQueue: false,
      host: node.host,
      port: node.port,
      db: options.db ?? 0,
      retryStrategy: reconnectDelay,
    });
  }

  let closed = false;
  const waiters = new Set<{ resolve: () => void; reject: (err: unknown) => void }>();
  // Without a listener ioredis prints every connection error; failures reach callers through the gate.
  client.on("error", (err: unknown) => {
    if (!isConnectFailure(err)) return;
    for (const waiter of waiters) waiter.reject(err);
    waiters.clear();
  });
  client.on("ready", () => {
    for (const waiter of waiters) waiter.resolve();
    waiters.clear();
  });

  /** Resolves once the client is ready; rejects on a failed connection attempt or when `signal` aborts. */
  async function ready(signal: AbortSignal): Promise<void> {
    if (closed) throw new StowdError("BACKEND_UNAVAILABLE", "the redis store is closed (the daemon is shutting down)", { backend: KIND });
    if (client.status === "ready") return;
    signal.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      // A waiter leaves when its attempt gives up, so a server that never gets ready cannot pile them up.
      const onAbort = () => {
        waiters.delete(waiter);
        reject(signal.reason as unknown);
      };
      const settle = (fn: () => void) => {
        signal.removeEventListener("abort", onAbort);
        fn();
      };
      const waiter = { resolve: () => settle(resolve), reject: (err: unknown) => settle(() => reject(err)) };
      waiters.add(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
      if (client.status === "wait" || client.status === "end") client.connect().catch(() => {});
    });
  }

  // Redis and Cluster share these methods, but TypeScript cannot call overloads through their union.
  const commands = client as unknown as Commands;

  async function run<T>(call: RedisCall, fn: (commands: Commands) => Promise<T>): Promise<T> {
    try {
      return await withRetries(
        async (signal) => {
          await ready(signal);
          return raceSignal(fn(commands), signal);
        },
        { policy, signal: call.signal, idempotent: call.idempotent, isRetryable, backend: KIND, operation: call.operation },
      );
    } catch (err) {
      throw fromRedisError(err, call, address);
    }
  }

  return {
    isCluster: options.cluster !== undefined,
    address,
    run,

    async script(call, script, keys, args) {
      return run(call, async (c) => {
        try {
          return await c.call("evalsha", [script.sha, keys.length, ...keys, ...args]);
        } catch (err) {
          if (!(isReplyError(err) && replyPrefix(err) === "NOSCRIPT")) throw err;
          // Not cached on this node yet (new node, restart, SCRIPT FLUSH): EVAL caches it.
          return c.call("eval", [script.source, keys.length, ...keys, ...args]);
        }
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const waiter of waiters)
        waiter.reject(new StowdError("BACKEND_UNAVAILABLE", "the redis store is closed (the daemon is shutting down)", { backend: KIND }));
      waiters.clear();
      if (client.status === "ready") {
        // QUIT lets in-flight replies arrive; a server that stopped answering is dropped.
        const quit = client.quit().catch(() => {});
        await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      }
      client.disconnect();
    },
  };
}
