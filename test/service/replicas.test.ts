// Two daemon processes on one Redis, each with a cache: what one replica
// writes, the other stops serving from its cache within the pub/sub
// delivery time, instead of serving the stale copy forever (Flyte's cache
// had no cross-replica invalidation). Then two replicas on shared local disk
// with Redis only carrying invalidations: while Redis is down neither serves
// what it cached, so a write by one is read by the other at once.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import type { Child } from "../helpers/child-process.js";
import { DAEMON_COMMAND, startServingProcess } from "../helpers/serving-daemon.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";

interface Replica {
  child: Child;
  client: StowdClient;
  httpUrl: string;
  /** Its log lines so far. */
  log: string[];
}

let redis: RedisServer;
let dir: string;
const replicas: Replica[] = [];

/** Starts `server/main.ts` on free ports and waits for its "stowd serving" log line. */
async function startReplica(config: string): Promise<Replica> {
  const { child, grpc, http, log } = await startServingProcess(
    [...DAEMON_COMMAND, "--config", config, "--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"],
    { startTimeoutMs: 20_000 },
  );
  return { child, client: createStowdClient({ baseUrl: `http://${grpc}` }), httpUrl: `http://${http}`, log };
}

async function stopReplicas(list: Replica[]): Promise<void> {
  for (const r of list) r.client.close();
  // The daemon exits within its grace period (10 s) + 5 s; past that, kill it rather than hang the suite.
  await Promise.all(list.map((r) => r.child.stop(20_000)));
}

/** Waits until the replica has logged a line containing `text`. */
async function logged(replica: Replica, text: string, timeoutMs = 5_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !replica.log.some((line) => line.includes(text));) {
    if (Date.now() > deadline) throw new Error(`the replica did not log "${text}" within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function cacheHits(replica: Replica): Promise<number> {
  const text = await (await fetch(`${replica.httpUrl}/metrics`)).text();
  return Number(/^stowd_layer_outcomes_total\{layer="cache",outcome="hit"\} (\d+)/m.exec(text)?.[1] ?? "NaN");
}

beforeAll(async () => {
  redis = await startRedisServer();
  dir = await mkdtemp(join(tmpdir(), "stowd-replicas-"));
  const config = join(dir, "replica.yaml");
  await writeFile(
    config,
    [
      "storage:",
      "  type: redis",
      "  redis:",
      `    addr: ${redis.addr}`,
      "  cache:",
      "    max_size_mbs: 16",
      "  limits:",
      "    maxDownloadMBs: 0",
      "",
    ].join("\n"),
  );
  replicas.push(await startReplica(config), await startReplica(config));
}, 60_000);

afterAll(async () => {
  await stopReplicas(replicas);
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("two replicas sharing Redis", () => {
  it("see each other's writes through their caches", async () => {
    const [a, b] = replicas as [Replica, Replica];
    const ref = `redis://${redis.addr}/replicated/key`;
    await a.client.write(ref, "v1");
    expect(new TextDecoder().decode(await b.client.readBytes(ref))).toBe("v1");
    const before = await cacheHits(b);
    expect(new TextDecoder().decode(await b.client.readBytes(ref))).toBe("v1");
    expect(await cacheHits(b)).toBe(before + 1); // b now answers from its cache

    await a.client.write(ref, "v2");
    let seen = "";
    for (const deadline = Date.now() + 2_000; Date.now() < deadline && seen !== "v2";) {
      seen = new TextDecoder().decode(await b.client.readBytes(ref));
      if (seen !== "v2") await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBe("v2");

    await a.client.delete(ref);
    let exists = true;
    for (const deadline = Date.now() + 2_000; Date.now() < deadline && exists;) {
      exists = (await b.client.head(ref)) !== undefined;
      if (exists) await new Promise((r) => setTimeout(r, 20));
    }
    expect(exists).toBe(false);
  });
});

describe("two replicas on shared local disk, invalidations over Redis", () => {
  let bus: RedisServer;
  let busDir: string;
  const pair: Replica[] = [];
  const read = async (replica: Replica, ref: string) => new TextDecoder().decode(await replica.client.readBytes(ref));
  /** Reads until a read of `expected` is a cache hit (an invalidation still in flight may drop the first fill). */
  const answeredFromCache = async (replica: Replica, ref: string, expected: string) => {
    for (const deadline = Date.now() + 2_000; ;) {
      const hits = await cacheHits(replica);
      expect(await read(replica, ref)).toBe(expected);
      if ((await cacheHits(replica)) > hits) return;
      if (Date.now() > deadline) throw new Error(`${ref} was not answered from the cache within 2 s`);
    }
  };

  beforeAll(async () => {
    bus = await startRedisServer();
    busDir = await mkdtemp(join(tmpdir(), "stowd-replicas-local-"));
    const config = join(busDir, "replica.yaml");
    await writeFile(
      config,
      [
        "storage:",
        "  type: local",
        "  container: b",
        "  stow:",
        "    kind: local",
        "    config:",
        `      path: ${join(busDir, "data")}`,
        "  redis:",
        `    addr: ${bus.addr}`,
        "  cache:",
        "    max_size_mbs: 16",
        "  limits:",
        "    maxDownloadMBs: 0",
        "",
      ].join("\n"),
    );
    pair.push(await startReplica(config), await startReplica(config));
  }, 60_000);

  afterAll(async () => {
    await stopReplicas(pair);
    await bus?.stop();
    if (busDir) await rm(busDir, { recursive: true, force: true });
  });

  it("while Redis is down neither replica serves what it cached; once it is back invalidations flow again", async () => {
    const [a, b] = pair as [Replica, Replica];
    const ref = "file://b/outage/key";
    await a.client.write(ref, "v1");
    await answeredFromCache(b, ref, "v1");

    // Redis is killed: each replica notices its subscription closed, drops its cache and reads through.
    const port = bus.port;
    await bus.stop();
    await Promise.all([logged(a, "lost its Redis subscription"), logged(b, "lost its Redis subscription")]);
    await a.client.write(ref, "v2"); // a cannot tell b
    const hits = await cacheHits(b);
    expect(await read(b, ref)).toBe("v2"); // at once, not after a TTL
    expect(await read(b, ref)).toBe("v2");
    expect(await cacheHits(b)).toBe(hits); // nothing is cached while Redis is down

    // Redis is back where it was: both subscribe again, cache again, and see each other's writes.
    bus = await startRedisServer([], { port });
    await Promise.all([logged(a, "subscribed again"), logged(b, "subscribed again")]);
    expect(await read(b, ref)).toBe("v2");
    await a.client.write(ref, "v3");
    let seen = "";
    for (const deadline = Date.now() + 2_000; Date.now() < deadline && seen !== "v3";) {
      seen = await read(b, ref);
      if (seen !== "v3") await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBe("v3");
    await answeredFromCache(b, ref, "v3"); // and caches again
  });
});
