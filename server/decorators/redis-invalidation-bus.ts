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

export async function createRedisInvalidationBus(options: RedisInvalidationBusOptions): Promise<RedisInvalidationBus> {
  const origin = randomUUID();
  const connect = () =>
    new Redis({
      host: options.host,
      port: options.port,
      lazyConnect: true,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
    });
  const publisher = connect();
  const subscriber = connect();
  await Promise.all([publisher.connect(), subscriber.connect()]);
  await subscriber.subscribe(CHANNEL);
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
