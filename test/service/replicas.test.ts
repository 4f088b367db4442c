// Two daemon processes on one Redis, each with a cache: what one replica
// writes, the other stops serving from its cache within the pub/sub
// delivery time, instead of serving the stale copy forever (Flyte's cache
// had no cross-replica invalidation).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";

interface Replica {
  process: ChildProcess;
  client: StowdClient;
  httpUrl: string;
}

let redis: RedisServer;
let dir: string;
const replicas: Replica[] = [];

/** Starts `npx tsx server/main.ts` on free ports and waits for its "stowd serving" log line. */
async function startReplica(config: string): Promise<Replica> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts", "--config", config, "--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const serving = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    const timer = setTimeout(() => reject(new Error("the daemon did not start within 20 s")), 20_000);
    lines.on("line", (line) => {
      if (!line.includes('"stowd serving"')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { grpc: string; http: string });
    });
    child.once("exit", (code) => reject(new Error(`the daemon exited with ${code} before serving`)));
  });
  return { process: child, client: createStowdClient({ baseUrl: `http://${serving.grpc}` }), httpUrl: `http://${serving.http}` };
}

async function cacheHits(replica: Replica): Promise<number> {
  const text = await (await fetch(`${replica.httpUrl}/metrics`)).text();
  return Number(/^stowd_cache_hits_total (\d+)/m.exec(text)?.[1] ?? "NaN");
}

beforeAll(async () => {
  redis = await startRedisServer();
  dir = await mkdtemp(join(tmpdir(), "stowd-replicas-"));
  const config = join(dir, "replica.yaml");
  await writeFile(config, ["storage:", "  type: redis", "  redis:", `    addr: ${redis.addr}`, "  cache:", "    max_size_mbs: 16", "  limits:", "    maxDownloadMBs: 0", ""].join("\n"));
  replicas.push(await startReplica(config), await startReplica(config));
}, 60_000);

afterAll(async () => {
  for (const r of replicas) {
    r.client.close();
    r.process.kill("SIGTERM");
  }
  await Promise.all(replicas.map((r) => new Promise((resolve) => (r.process.exitCode !== null ? resolve(null) : r.process.once("exit", resolve)))));
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
    for (const deadline = Date.now() + 2_000; Date.now() < deadline && seen !== "v2"; ) {
      seen = new TextDecoder().decode(await b.client.readBytes(ref));
      if (seen !== "v2") await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBe("v2");

    await a.client.delete(ref);
    let exists = true;
    for (const deadline = Date.now() + 2_000; Date.now() < deadline && exists; ) {
      exists = (await b.client.head(ref)) !== undefined;
      if (exists) await new Promise((r) => setTimeout(r, 20));
    }
    expect(exists).toBe(false);
  });
});
