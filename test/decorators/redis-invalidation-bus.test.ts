// The Redis invalidation bus between two caches over one shared store (two
// replicas in one process), against real redis-server processes: delivery;
// a killed and restarted Redis (neither cache serves what it cached while
// the bus is down, invalidations flow again once it is back); a replica cut
// off from Redis publishing what it missed; a silently stalled connection
// found by the heartbeat; TLS with an ACL user; a 3-node cluster where the
// subscriber's node dies; and the options taken from the redis config.
import { once } from "node:events";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { readFileSync, rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { withCache, type CachedStore, type Invalidation } from "../../server/decorators/cached-store.js";
import {
  createRedisInvalidationBus,
  redisInvalidationBusOptions,
  type RedisInvalidationBus,
  type RedisInvalidationBusOptions,
} from "../../server/decorators/redis-invalidation-bus.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import type { RedisNodeAddress } from "../../server/stores/redis/connection.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { freePort } from "../helpers/free-port.js";
import { makeTestCerts } from "../security/certs.js";
import { startRedisCluster, startRedisServer } from "../servers/redis.js";
import { counting, put, readAll, ref } from "./store-helpers.js";

const HEARTBEAT_MS = 200;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A bus that counts its outages and the invalidations it received. */
type TestBus = RedisInvalidationBus & { outages: number; received: Invalidation[] };

function bus(options: RedisInvalidationBusOptions): TestBus {
  const b = Object.assign(createRedisInvalidationBus({ heartbeatMs: HEARTBEAT_MS, ...options }), {
    outages: 0,
    received: [] as Invalidation[],
  });
  b.onOutage(() => (b.outages += 1));
  b.subscribe((m) => b.received.push(m));
  cleanups.push(() => b.close());
  return b;
}

/** Both connections of every bus are up. */
const connected =
  (...buses: RedisInvalidationBus[]) =>
  () =>
    buses.every((b) => b.status().subscribed && b.status().publisherConnected);

interface Replicas {
  a: CachedStore;
  b: CachedStore;
  /** The store both replicas share, counting the reads that reach it. */
  backend: RawStore & { calls: Record<string, number> };
  busB: TestBus;
}

/** Two caches over one store, each with its own bus. */
function replicas(busA: TestBus, busB: TestBus): Replicas {
  const backend = counting(createMemoryStore());
  return {
    backend,
    a: withCache(backend, { maxSizeMbs: 1, ttlSeconds: 0, bus: busA }),
    b: withCache(backend, { maxSizeMbs: 1, ttlSeconds: 0, bus: busB }),
    busB,
  };
}

/**
 * Waits until everything a published so far has reached b: a writes a
 * marker and b receives its invalidation (one connection delivers in order).
 */
let markers = 0;
async function delivered(r: Replicas): Promise<void> {
  const marker = `marker/${++markers}`;
  await put(r.a, ref(marker), "");
  await until(`b received ${marker}`, () => r.busB.received.some((m) => "key" in m && m.key.endsWith(marker)), 2_000);
}

const text = async (store: RawStore, key: string) => (await readAll(store, ref(key))).toString();

/** Reads `key` through `store` and says whether the read reached the backend. */
async function readsBackend(r: Replicas, store: RawStore, key: string): Promise<{ value: string; fromBackend: boolean }> {
  const before = r.backend.calls.read ?? 0;
  const value = await text(store, key);
  return { value, fromBackend: (r.backend.calls.read ?? 0) > before };
}

/** A TCP proxy in front of Redis that can refuse every connection or silently stop forwarding. */
async function startProxy(target: RedisNodeAddress): Promise<{ node: RedisNodeAddress; setMode(mode: "pass" | "refuse" | "stall"): void }> {
  let mode: "pass" | "refuse" | "stall" = "pass";
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    if (mode === "refuse") return void client.destroy();
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    for (const [from, to] of [pair, [upstream, client] as const]) {
      from.on("data", (data: Buffer) => void (mode === "pass" && to.write(data)));
      from.on("close", end);
      from.on("error", end);
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const cut = () => {
    for (const pair of pairs) for (const socket of pair) socket.destroy();
  };
  cleanups.push(async () => {
    cut();
    server.close();
    await once(server, "close");
  });
  return {
    node: { host: "127.0.0.1", port: (server.address() as AddressInfo).port },
    setMode(next) {
      mode = next;
      if (next === "refuse") cut();
    },
  };
}

describe("redis invalidation bus, one Redis", () => {
  it("carries invalidations; while Redis is down no cache serves what it cached; once it is back they flow again", async () => {
    let redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const node = { host: redis.host, port: redis.port };
    const [busA, busB] = [bus({ nodes: [node] }), bus({ nodes: [node] })];
    const r = replicas(busA, busB);
    await until("both buses connected", connected(busA, busB));

    await put(r.a, ref("x"), "v1");
    await delivered(r);
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v1", fromBackend: true });
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v1", fromBackend: false }); // b serves it from its cache
    await put(r.a, ref("x"), "v2");
    await delivered(r);
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v2", fromBackend: true });
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v2", fromBackend: false });

    // Redis dies: the closed connection starts an outage at once; b drops its cache and reads through.
    await redis.stop();
    await until("b's bus reports the outage", () => !busB.isDelivering(), 1_000);
    await put(r.a, ref("x"), "v3"); // a's invalidation cannot be published
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v3", fromBackend: true });
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v3", fromBackend: true }); // nothing is cached meanwhile
    expect(await readsBackend(r, r.a, "x")).toEqual({ value: "v3", fromBackend: true });

    // Redis is back on its port: both subscribe again and cache again, and invalidations flow.
    redis = await startRedisServer([], { port: node.port });
    await until("both buses connected again", connected(busA, busB));
    await delivered(r); // a re-published x when it reconnected; b may or may not have been subscribed by then
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v3", fromBackend: true });
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v3", fromBackend: false });
    await put(r.a, ref("x"), "v4");
    await delivered(r);
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v4", fromBackend: true });
  });

  it("publishes what a replica invalidated while it was cut off from Redis once it is back; many collapse into dropping everything", async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const proxy = await startProxy({ host: redis.host, port: redis.port });
    const [busA, busB] = [bus({ nodes: [proxy.node] }), bus({ nodes: [{ host: redis.host, port: redis.port }] })];
    const r = replicas(busA, busB);
    await until("both buses connected", connected(busA, busB));
    await put(r.a, ref("x"), "v1");
    await put(r.a, ref("y"), "y1");
    await delivered(r);
    expect(await text(r.b, "x")).toBe("v1");
    expect(await text(r.b, "y")).toBe("y1");

    proxy.setMode("refuse");
    await until("a's bus reports the outage", () => !busA.isDelivering(), 1_000);
    await put(r.a, ref("x"), "v2");
    // The limit of what pub/sub can do: b is still subscribed and nobody told it, so it serves v1 until a is back.
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v1", fromBackend: false });
    proxy.setMode("pass");
    await until("b sees v2", async () => (await text(r.b, "x")) === "v2", 3_000);
    expect(await readsBackend(r, r.b, "y")).toEqual({ value: "y1", fromBackend: false }); // only x was dropped

    // More invalidations than the bus keeps: it publishes one "drop everything" instead.
    proxy.setMode("refuse");
    await until("a's bus reports the outage", () => !busA.isDelivering(), 1_000);
    for (let i = 0; i < 1_001; i++) await put(r.a, ref(`many/${i}`), "z");
    expect(await readsBackend(r, r.b, "y")).toEqual({ value: "y1", fromBackend: false });
    proxy.setMode("pass");
    await until("b dropped y", async () => (await readsBackend(r, r.b, "y")).fromBackend, 3_000);
  });

  it("notices a subscription the network silently stopped (heartbeat) and reads through until it is subscribed again", async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const proxy = await startProxy({ host: redis.host, port: redis.port });
    const [busA, busB] = [bus({ nodes: [{ host: redis.host, port: redis.port }] }), bus({ nodes: [proxy.node] })];
    const r = replicas(busA, busB);
    await until("both buses connected", connected(busA, busB));
    await put(r.a, ref("x"), "v1");
    await delivered(r);
    expect(await text(r.b, "x")).toBe("v1");
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v1", fromBackend: false });

    proxy.setMode("stall");
    const stalled = Date.now();
    // Noticed within about two heartbeats (the next PING, then its timeout), with slack for a busy machine.
    await until("b's bus reports the outage", () => !busB.isDelivering(), 10 * HEARTBEAT_MS);
    expect(Date.now() - stalled).toBeLessThanOrEqual(5 * HEARTBEAT_MS);
    await put(r.a, ref("x"), "v2"); // published, but b's connection forwards nothing
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v2", fromBackend: true });

    proxy.setMode("pass");
    await until("b's bus subscribed again", () => busB.isDelivering(), 3_000);
    expect(await text(r.b, "x")).toBe("v2");
    await put(r.a, ref("x"), "v3");
    await delivered(r);
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v3", fromBackend: true });
  });
});

describe("redis invalidation bus, TLS and an ACL user", () => {
  it("delivers over TLS with the user's credentials; without TLS or with a wrong password it never subscribes", async () => {
    const certs = makeTestCerts();
    cleanups.push(() => rmSync(certs.dir, { recursive: true, force: true }));
    const tlsPort = await freePort();
    const redis = await startRedisServer([
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      certs.serverCert,
      "--tls-key-file",
      certs.serverKey,
      "--tls-ca-cert-file",
      certs.serverCa,
      "--tls-auth-clients",
      "no",
    ]);
    cleanups.push(() => redis.stop());
    await redis.cli(
      "ACL",
      "SETUSER",
      "stowd",
      "on",
      ">s3cret",
      "resetchannels",
      "&stowd:*",
      "+subscribe",
      "+publish",
      "+ping",
      "+info",
      "+client",
    );
    await redis.cli("ACL", "SETUSER", "default", "off");
    const node = { host: "127.0.0.1", port: tlsPort };
    const tls = { ca: readFileSync(certs.serverCa) };
    const [busA, busB] = [
      bus({ nodes: [node], tls, username: "stowd", password: "s3cret" }),
      bus({ nodes: [node], tls, username: "stowd", password: "s3cret" }),
    ];
    const plain = bus({ nodes: [node], username: "stowd", password: "s3cret" });
    const wrong = bus({ nodes: [node], tls, username: "stowd", password: "wrong" });
    const r = replicas(busA, busB);
    await until("both buses connected", connected(busA, busB));
    await put(r.a, ref("x"), "v1");
    await delivered(r);
    expect(await text(r.b, "x")).toBe("v1");
    await put(r.a, ref("x"), "v2");
    await delivered(r);
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v2", fromBackend: true });
    expect(plain.isDelivering()).toBe(false);
    expect(wrong.isDelivering()).toBe(false);
  });
});

describe("redis invalidation bus, Redis Cluster", () => {
  it("delivers between replicas on different nodes and moves to another seed node when its node dies", async () => {
    const cluster = await startRedisCluster(3);
    cleanups.push(() => cluster.stop());
    const [n0, n1, n2] = cluster.nodes as [RedisNodeAddress, RedisNodeAddress, RedisNodeAddress];
    // a connects to n0 first, b to n1: PUBLISH on one node reaches subscribers on every node.
    const [busA, busB] = [bus({ nodes: [n0, n1, n2] }), bus({ nodes: [n1, n2, n0] })];
    const r = replicas(busA, busB);
    await until("both buses connected", connected(busA, busB));
    await put(r.a, ref("x"), "v1");
    await delivered(r);
    expect(await text(r.b, "x")).toBe("v1");
    await put(r.a, ref("x"), "v2");
    await delivered(r);
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v2", fromBackend: true });
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v2", fromBackend: false });

    await cluster.cli(1, "SHUTDOWN", "NOSAVE").catch(() => "");
    await until("b's bus reports the outage", () => busB.outages === 1, 1_000);
    await until("b's bus subscribed on another node", () => busB.isDelivering(), 5_000);
    expect(busA.outages).toBe(0);
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v2", fromBackend: true });
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v2", fromBackend: false });
    await put(r.a, ref("x"), "v3");
    await delivered(r);
    expect(await readsBackend(r, r.b, "x")).toEqual({ value: "v3", fromBackend: true });
  }, 60_000);
});

describe("redisInvalidationBusOptions", () => {
  it("takes the redis store's settings: the node (IPv6 too), every cluster seed node, the credentials", () => {
    expect(redisInvalidationBusOptions({ addr: "[::1]:7000", username: "u", password: "p", db: 2, cluster: [] })).toEqual({
      nodes: [{ host: "::1", port: 7000 }],
      username: "u",
      password: "p",
    });
    expect(redisInvalidationBusOptions({ addr: "", username: "", password: "", db: 0, cluster: ["10.0.0.1:7000", "10.0.0.2"] })).toEqual({
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 6379 },
      ],
    });
    expect(() => redisInvalidationBusOptions({ addr: "a:b:c" }, "storage.schemes.redis.redis")).toThrow(
      /storage\.schemes\.redis\.redis\.addr/,
    );
  });
});
