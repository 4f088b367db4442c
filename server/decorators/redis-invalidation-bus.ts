// Carries cache invalidations between daemon replicas over Redis pub/sub:
// every replica publishes the keys it invalidates and drops the keys the
// others publish. Delivery is at most once and asynchronous, so a replica
// can serve a stale entry for the pub/sub delivery time (milliseconds);
// within one daemon no stale read is possible.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { log } from "../observability/log.js";
import type { Invalidation, InvalidationBus } from "./cached-store.js";

const CHANNEL = "stowd:cache-invalidations";

export interface RedisInvalidationBus extends InvalidationBus {
  close(): Promise<void>;
}

export interface RedisInvalidationBusOptions {
  /** Any one node: in a Redis Cluster, PUBLISH reaches subscribers on every node. */
  host: string;
  port: number;
  username?: string;
  password?: string;
}

export function createRedisInvalidationBus(options: RedisInvalidationBusOptions): RedisInvalidationBus {
  const origin = randomUUID();
  // Connections are made in the background and re-made after failures: an
  // unreachable Redis must not stop the daemon from serving, it only delays
  // invalidations (entries still expire by `cache.ttl`).
  let lastWarning = 0;
  const connect = () => {
    const client = new Redis({
      host: options.host,
      port: options.port,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
    });
    client.on("error", (err: Error) => {
      if (Date.now() - lastWarning < 60_000) return;
      lastWarning = Date.now();
      log("warn", "cache invalidation bus: Redis unreachable; other replicas may serve stale entries until it is back", {
        redis: `${options.host}:${options.port}`,
        err: err.message,
      });
    });
    return client;
  };
  const publisher = connect();
  const subscriber = connect();
  subscriber.subscribe(CHANNEL).catch(() => {});
  const handlers: ((message: Invalidation) => void)[] = [];
  subscriber.on("message", (_channel: string, text: string) => {
    try {
      const message = JSON.parse(text) as Invalidation & { origin: string };
      if (message.origin === origin) return;
      const invalidation: Invalidation = "prefix" in message ? { prefix: message.prefix } : { key: message.key };
      for (const handler of handlers) handler(invalidation);
    } catch (err) {
      log("warn", "ignored a malformed cache invalidation", { err: String(err) });
    }
  });
  return {
    publish(message) {
      publisher.publish(CHANNEL, JSON.stringify({ ...message, origin })).catch((err: unknown) => {
        log("warn", "could not publish a cache invalidation; other replicas may serve a stale entry until it expires", { err: String(err) });
      });
    },
    subscribe(handler) {
      handlers.push(handler);
    },
    async close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
