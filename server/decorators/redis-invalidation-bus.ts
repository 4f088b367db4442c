// Carries cache invalidations between daemon replicas over Redis pub/sub:
// every replica publishes the keys it invalidates and drops the keys the
// others publish. It connects with the redis store's settings (the single
// node, or any seed node of a Redis Cluster, where PUBLISH reaches
// subscribers on every node; the credentials; TLS options when given: the
// redis store itself has no TLS setting yet) and moves to the next node when
// one fails.
//
// Pub/sub delivers at most once, so the bus says when it may be losing
// messages: from the moment its subscription drops (a closed connection, or
// a PING on it unanswered for `heartbeatMs`) until it has subscribed again.
// The cache drops everything when such an outage starts and reads through
// until it ends (cached-store.ts). Invalidations this replica could not
// publish are kept (beyond MAX_PENDING they collapse into one "drop
// everything") and published when its connection is back. What a replica can
// serve stale is therefore bounded by
//   - while Redis is reachable, the time a replica takes to read a message
//     Redis already sent it: a mutation is acknowledged only after Redis
//     answered its PUBLISH (one round trip), so a client that reads through
//     another replica after the acknowledgement is served the new version;
//   - how long it takes to notice its own subscription dropped: at once when
//     Redis closes the connection (killed, restarted), up to 2 × heartbeatMs
//     when the network silently drops it;
//   - how long the writing replica stays cut off from Redis while this one is
//     not (its invalidations arrive when it reconnects), or `cache.ttl`.
// Within one daemon no stale read is possible.
import { randomUUID } from "node:crypto";
import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";
import { log } from "../observability/log.js";
import { formatAddress, type RedisNodeAddress } from "../stores/redis/connection.js";
import { parseRedisAddr, redisStoreOptionsFromFlyte, type FlyteRedisConfig } from "../stores/redis/config.js";
import type { Invalidation, InvalidationBus } from "./cached-store.js";

const CHANNEL = "stowd:cache-invalidations";
/** Unpublished invalidations kept while Redis is unreachable; beyond this they become one "drop everything". */
const MAX_PENDING = 1_000;
const DROP_EVERYTHING: Invalidation = { prefix: "" };

export interface RedisInvalidationBus extends InvalidationBus {
  isDelivering(): boolean;
  onOutage(handler: () => void): void;
  /** The connections' state, for diagnostics. */
  status(): RedisInvalidationBusStatus;
  close(): Promise<void>;
}

export interface RedisInvalidationBusStatus {
  /** Subscribed: other replicas' invalidations arrive (isDelivering). */
  subscribed: boolean;
  /** The publishing connection is up. */
  publisherConnected: boolean;
  /** Invalidations kept for publishing once it is (at most MAX_PENDING + 1). */
  unpublished: number;
}

export interface RedisInvalidationBusOptions {
  /** The single node, or the seed nodes of a Redis Cluster; tried in turn. */
  nodes: RedisNodeAddress[];
  username?: string;
  password?: string;
  /** TLS options for every connection (node:tls, e.g. `{ ca }`); default cleartext. */
  tls?: ConnectionOptions;
  /** The subscription is checked with a PING this often; one unanswered for as long is an outage. Default 1000 ms. */
  heartbeatMs?: number;
}

/** The bus's connection settings from the same `redis` block, validated the same way, as the redis store's. */
export function redisInvalidationBusOptions(redis: FlyteRedisConfig, field = "storage.redis"): RedisInvalidationBusOptions {
  const store = redisStoreOptionsFromFlyte(redis, field);
  return {
    nodes: store.cluster ?? [parseRedisAddr(store.addr ?? "")],
    ...(store.username === undefined ? {} : { username: store.username }),
    ...(store.password === undefined ? {} : { password: store.password }),
  };
}

interface Link {
  /** The connection once it is ready (and set up), else undefined. */
  readonly ready: Redis | undefined;
  close(): void;
}

/** What every connection of the bus shares. */
interface ConnectionSettings {
  connectionName: string;
  connectTimeout: number;
  commandTimeout: number;
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
}

interface LinkOptions {
  role: string;
  nodes: RedisNodeAddress[];
  redisOptions: ConnectionSettings;
  /** Runs on every new connection before it counts as ready (e.g. SUBSCRIBE). */
  setup(client: Redis): Promise<void>;
  up(client: Redis): void;
  down(): void;
  warn(message: string, fields: Record<string, unknown>): void;
}

/**
 * One connection that is always being re-made: when it fails, the next node
 * is tried (at once while untried nodes remain, then backing off up to 1 s).
 * ioredis's own reconnect is off so that a connection is only "up" after
 * `setup` ran on it.
 */
function maintainLink(options: LinkOptions): Link {
  const { nodes } = options;
  let closed = false;
  let failures = 0;
  let current: Redis | undefined;
  let ready: Redis | undefined;
  let timer: NodeJS.Timeout | undefined;

  const connect = () => {
    timer = undefined;
    if (closed) return;
    const node = nodes[failures % nodes.length]!;
    const client = new Redis({
      ...options.redisOptions,
      host: node.host,
      port: node.port,
      lazyConnect: true,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
    });
    current = client;
    client.on("error", (err: Error) =>
      options.warn("cache invalidation bus: Redis unreachable", { role: options.role, redis: formatAddress(node), err: err.message }),
    );
    client.once("ready", () => {
      options.setup(client).then(
        () => {
          if (current !== client || closed) return;
          failures = 0;
          ready = client;
          options.up(client);
        },
        (err: unknown) => {
          options.warn("cache invalidation bus: setting up the Redis connection failed", {
            role: options.role,
            redis: formatAddress(node),
            err: String(err),
          });
          client.disconnect();
        },
      );
    });
    client.once("close", () => {
      if (current !== client) return;
      current = undefined;
      if (ready === client) {
        ready = undefined;
        options.down();
      }
      client.disconnect();
      if (closed) return;
      failures += 1;
      const rounds = Math.floor(failures / nodes.length);
      timer = setTimeout(connect, Math.min(100 * rounds, 1_000));
    });
    client.connect().catch(() => {}); // failures arrive as "error" and "close"
  };
  connect();

  return {
    get ready() {
      return ready;
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      const client = current;
      current = undefined;
      ready = undefined;
      client?.disconnect();
    },
  };
}

function warnAtMostEveryMinute(): (message: string, fields: Record<string, unknown>) => void {
  let last = 0;
  return (message, fields) => {
    if (Date.now() - last < 60_000) return;
    last = Date.now();
    log("warn", message, fields);
  };
}

export function createRedisInvalidationBus(options: RedisInvalidationBusOptions): RedisInvalidationBus {
  if (options.nodes.length === 0) throw new Error("createRedisInvalidationBus needs at least one node");
  const origin = randomUUID();
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const redisOptions: ConnectionSettings = {
    connectionName: "stowd-invalidations",
    connectTimeout: Math.max(1_000, 2 * heartbeatMs),
    commandTimeout: Math.max(1_000, 2 * heartbeatMs),
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  };
  const redis = options.nodes.map(formatAddress).join(",");
  // A Redis that stays away or flaps must not flood the log.
  const warn = warnAtMostEveryMinute();
  const warnOutage = warnAtMostEveryMinute();

  const handlers: ((message: Invalidation) => void)[] = [];
  const outageHandlers: (() => void)[] = [];
  /** Whether the subscription is in place; before the first SUBSCRIBE it is not. */
  let delivering = false;
  let subscribedBefore = false;

  const subscriber = maintainLink({
    role: "subscriber",
    nodes: options.nodes,
    redisOptions,
    async setup(client) {
      client.on("message", (_channel: string, text: string) => receive(text));
      await client.subscribe(CHANNEL);
    },
    up() {
      if (subscribedBefore) log("info", "cache invalidation bus: subscribed again; the cache is back in use", { redis });
      subscribedBefore = true;
      delivering = true;
    },
    down() {
      delivering = false;
      warnOutage("cache invalidation bus: lost its Redis subscription; the cache is dropped and reads through until it is back", { redis });
      for (const handler of outageHandlers) handler();
    },
    warn,
  });

  // A subscription the network silently dropped answers no PING: end it, which starts an outage.
  let pinging = false;
  const heartbeat = setInterval(() => {
    const client = subscriber.ready;
    if (client === undefined || pinging) return;
    pinging = true;
    const timeout = setTimeout(() => client.disconnect(), heartbeatMs);
    client
      .ping()
      .catch(() => client.disconnect())
      .finally(() => {
        clearTimeout(timeout);
        pinging = false;
      });
  }, heartbeatMs);
  heartbeat.unref();

  let pending: Invalidation[] = [];
  const keep = (message: Invalidation) => {
    if (pending[0] === DROP_EVERYTHING) return;
    pending.push(message);
    if (pending.length > MAX_PENDING) pending = [DROP_EVERYTHING];
  };
  /**
   * Resolves once Redis answered the PUBLISH: by then it has handed the
   * message to every subscriber's connection, so the write this invalidates
   * is acknowledged only after the other replicas were told. Never rejects: a
   * lost message is kept and published again after reconnecting.
   */
  const send = (client: Redis, message: Invalidation): Promise<void> =>
    client.publish(CHANNEL, JSON.stringify({ ...message, origin })).then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof Error && err.name === "ReplyError") {
          // Refused (e.g. an ACL without PUBLISH): sending it again cannot help.
          warn("cache invalidation bus: Redis refused an invalidation; other replicas may serve a stale entry until it expires", {
            redis,
            err: err.message,
          });
          return;
        }
        // Lost or timed out: keep it, and re-make the connection, which publishes what was kept.
        keep(message);
        client.disconnect();
      },
    );
  const publisher = maintainLink({
    role: "publisher",
    nodes: options.nodes,
    redisOptions,
    setup: async () => {},
    up(client) {
      const unsent = pending;
      pending = [];
      if (unsent.length > 0)
        log("info", "cache invalidation bus: publishing the invalidations kept while Redis was unreachable", {
          redis,
          count: unsent.length,
        });
      for (const message of unsent) void send(client, message);
    },
    down() {},
    warn,
  });

  function receive(text: string): void {
    try {
      const message = JSON.parse(text) as Invalidation & { origin: string };
      if (message.origin === origin) return;
      const invalidation: Invalidation = "prefix" in message ? { prefix: message.prefix } : { key: message.key };
      for (const handler of handlers) handler(invalidation);
    } catch (err) {
      log("warn", "ignored a malformed cache invalidation", { err: String(err) });
    }
  }

  return {
    async publish(message) {
      const client = publisher.ready;
      if (client === undefined) keep(message);
      else await send(client, message);
    },
    subscribe(handler) {
      handlers.push(handler);
    },
    isDelivering() {
      return delivering;
    },
    onOutage(handler) {
      outageHandlers.push(handler);
    },
    status() {
      return { subscribed: delivering, publisherConnected: publisher.ready !== undefined, unpublished: pending.length };
    },
    async close() {
      clearInterval(heartbeat);
      publisher.close();
      subscriber.close();
    },
  };
}
