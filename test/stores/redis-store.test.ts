// The redis store against real servers: the shared conformance suite on a
// single node and on a 3-master cluster, plus what only Redis needs proven:
// slot moves, the size cap, bounded chunks, staging cleanup, the listing
// index under crashes and concurrent writers, deadlines and outages.
import { randomBytes } from "node:crypto";
import net from "node:net";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import type { Ref } from "../../server/references/reference.js";
import type { ObjectMeta, RawStore, WriteOptions } from "../../server/stores/raw-store.js";
import { indexKeys, objectKeys } from "../../server/stores/redis/keys.js";
import { createRedisStore, type RedisStoreOptions } from "../../server/stores/redis/index.js";
import { redisStoreOptionsFromFlyte } from "../../server/stores/redis/config.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from "../servers/redis.js";
import { stowdRejection } from "../helpers/rejections.js";
import { chunked, failingAfter, never, sha256 } from "../helpers/store-calls.js";

const MiB = 1 << 20;

let server: RedisServer | undefined;
let cluster: RedisCluster | undefined;

beforeAll(async () => {
  // Keep whatever started, so afterAll stops it even when the other one failed.
  const [s, c] = await Promise.allSettled([startRedisServer(), startRedisCluster()]);
  if (s.status === "fulfilled") server = s.value;
  if (c.status === "fulfilled") cluster = c.value;
  for (const result of [s, c]) if (result.status === "rejected") throw result.reason;
});

afterAll(async () => {
  await Promise.all([server?.stop(), cluster?.stop()]);
});

function single(): RedisServer {
  if (server === undefined) throw new Error("the redis server did not start");
  return server;
}

function clustered(): RedisCluster {
  if (cluster === undefined) throw new Error("the redis cluster did not start");
  return cluster;
}

describeRawStoreConformance("redis (single node)", {
  create: async () => ({ store: createRedisStore({ addr: single().addr }), scheme: "redis", container: single().addr }),
  awkwardKeys: "accept-all",
});

describeRawStoreConformance("redis (cluster, odd chunk size)", {
  // The host of a redis:// reference is advisory: any container reaches the configured cluster.
  create: async () => ({
    store: createRedisStore({ cluster: clustered().nodes, chunkBytes: 300_007 }),
    scheme: "redis",
    container: "advisory-host:6379",
  }),
  awkwardKeys: "accept-all",
});

// ---------------------------------------------------------------------------

const chunks = (data: Uint8Array, size = 64 * 1024) => chunked(data, size);

async function* once(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

function options(extra: Partial<WriteOptions> = {}): WriteOptions {
  return { contentType: "", metadata: {}, preconditions: {}, ...extra };
}

async function readAll(store: RawStore, ref: Ref): Promise<{ bytes: Buffer; sizes: number[]; meta: ObjectMeta }> {
  const result = await store.read(ref, {}, never);
  const parts: Buffer[] = [];
  for await (const part of result.body) parts.push(Buffer.from(part));
  return { bytes: Buffer.concat(parts), sizes: parts.map((p) => p.length), meta: result.meta };
}

/** Direct access to the Redis under test, to check what the store left there. */
interface Inspector {
  /** Every key of one object (manifest, pending, chunks of every version). */
  keysOf(objectKey: string): Promise<string[]>;
  strlen(key: string): Promise<number>;
  pttl(key: string): Promise<number>;
  indexed(objectKey: string): Promise<boolean>;
  raw: Redis | Cluster;
  close(): Promise<void>;
}

function inspector(kind: "single" | "cluster"): Inspector {
  const raw = kind === "single" ? new Redis({ port: single().port, host: single().host }) : new Cluster(clustered().nodes);
  const nodes = (): Redis[] => (raw instanceof Cluster ? raw.nodes("master") : [raw]);
  return {
    raw,
    async keysOf(objectKey) {
      const pattern = `stowd:${objectKeys("stowd", objectKey).tag}:*`;
      const found: string[] = [];
      for (const node of nodes()) {
        let cursor = "0";
        do {
          const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
          cursor = next;
          found.push(...keys);
        } while (cursor !== "0");
      }
      return found.sort();
    },
    strlen: (key) => raw.strlen(key),
    pttl: (key) => raw.pttl(key),
    async indexed(objectKey) {
      return (await raw.zscore(indexKeys("stowd").keys, objectKey)) !== null;
    },
    async close() {
      raw.disconnect();
    },
  };
}

for (const kind of ["single", "cluster"] as const) {
  describe(`redis store extras (${kind})`, () => {
    let store: RawStore;
    let inspect: Inspector;
    const stores: RawStore[] = [];
    const run = randomBytes(4).toString("hex");
    let n = 0;
    const ref = (key: string, container = "any-host:1"): Ref => ({ scheme: "redis", container, authority: container, key });
    /** A key of this test only. */
    const fresh = (name: string) => `extras-${run}/${++n}/${name}`;
    const open = (extra: Partial<RedisStoreOptions> = {}): RawStore => {
      const created = createRedisStore(kind === "single" ? { addr: single().addr, ...extra } : { cluster: clustered().nodes, ...extra });
      stores.push(created);
      return created;
    };

    beforeAll(() => {
      store = open();
      inspect = inspector(kind);
    });

    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await inspect.close();
    });

    it("declares its capabilities: server-side copy only on a single node", () => {
      expect(store.kind).toBe("redis");
      expect(store.capabilities).toEqual({
        rangedReads: true,
        append: true,
        conditionalWrites: true,
        signedUrls: false,
        delimiterListing: true,
        serverSideCopy: kind === "single",
      });
    });

    it("cuts a 20 MiB object sent as one chunk into values no larger than the chunk size, and streams it back in chunks", async () => {
      const chunkBytes = 256 * 1024;
      const small = open({ chunkBytes });
      const key = fresh("big");
      const data = randomBytes(20 * MiB);
      const meta = await small.write(ref(key), once(data), options(), never);
      expect(meta.size).toBe(data.length);
      const keys = await inspect.keysOf(key);
      const chunkKeys = keys.filter((k) => k.includes(":c:"));
      expect(chunkKeys).toHaveLength(80);
      const lengths = await Promise.all(chunkKeys.map((k) => inspect.strlen(k)));
      expect(Math.max(...lengths)).toBeLessThanOrEqual(chunkBytes);
      expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
      // Any store reads it (the chunk size is recorded per object), chunk by chunk.
      const got = await readAll(store, ref(key));
      expect(sha256(got.bytes)).toBe(sha256(data));
      expect(Math.max(...got.sizes)).toBeLessThanOrEqual(chunkBytes);
      const ranged = await store.read(ref(key), { range: { offset: chunkBytes - 3, length: 2 * chunkBytes, suffixLength: 0 } }, never);
      const parts: Buffer[] = [];
      for await (const part of ranged.body) parts.push(Buffer.from(part));
      expect(parts.map((p) => p.length)).toEqual([3, chunkBytes, chunkBytes - 3]);
      expect(Buffer.concat(parts).equals(data.subarray(chunkBytes - 3, 3 * chunkBytes - 3))).toBe(true);
      expect(await store.delete(ref(key), {}, never)).toBe(true);
    });

    describe("size cap", () => {
      it("stores exactly maxObjectBytes and refuses one byte more with LIMIT_EXCEEDED, storing nothing", async () => {
        const capped = open({ maxObjectBytes: MiB, chunkBytes: 64 * 1024 });
        const key = fresh("capped");
        await capped.write(ref(key), chunks(randomBytes(MiB)), options(), never);
        const over = fresh("over");
        const failure = await stowdRejection(capped.write(ref(over), chunks(randomBytes(MiB + 1)), options(), never));
        expect(failure.reason).toBe("LIMIT_EXCEEDED");
        expect(failure.message).toMatch(/1048576 bytes \(maxObjectBytes/);
        expect(await capped.head(ref(over), never)).toBeUndefined();
        expect(await inspect.keysOf(over)).toEqual([]);
        expect(await inspect.indexed(over)).toBe(false);
      });

      it("refuses a declared size over the cap before reading the body", async () => {
        const capped = open({ maxObjectBytes: MiB });
        let pulled = false;
        async function* body() {
          pulled = true;
          yield new Uint8Array(1);
        }
        const key = fresh("declared");
        expect((await stowdRejection(capped.write(ref(key), body(), options({ size: MiB + 1 }), never))).reason).toBe("LIMIT_EXCEEDED");
        expect(pulled).toBe(false);
        expect(await inspect.keysOf(key)).toEqual([]);
      });

      it("refuses an append that would pass the cap, leaving the object as it was", async () => {
        const capped = open({ maxObjectBytes: MiB, chunkBytes: 64 * 1024 });
        const key = fresh("log");
        const base = randomBytes(MiB - 10);
        const first = await capped.write(ref(key), chunks(base), options(), never);
        const failure = await stowdRejection(
          capped.append(ref(key), chunks(randomBytes(11)), { createIfMissing: false, contentType: "" }, never),
        );
        expect(failure.reason).toBe("LIMIT_EXCEEDED");
        expect((await capped.head(ref(key), never))?.etag).toBe(first.etag);
        await capped.append(ref(key), chunks(randomBytes(10)), { createIfMissing: false, contentType: "" }, never);
        expect((await capped.head(ref(key), never))?.size).toBe(MiB);
        expect((await inspect.keysOf(key)).filter((k) => !k.includes(":c:") && !k.includes(":m:"))).toEqual([]);
      });

      it("refuses a cap at or above Redis's 512 MiB value limit", () => {
        expect(() => createRedisStore({ addr: single().addr, maxObjectBytes: 512 * MiB })).toThrow(/maxObjectBytes/);
        expect(() => createRedisStore({ addr: single().addr, maxObjectBytes: 512 * MiB - 1 })).not.toThrow();
      });
    });

    describe("staging", () => {
      it("leaves no key and no index entry after a body that fails midway", async () => {
        const key = fresh("failed");
        const small = open({ chunkBytes: 64 * 1024 });
        await expect(small.write(ref(key), failingAfter(randomBytes(MiB), 700_000, 64 * 1024), options(), never)).rejects.toThrow(
          "client stream broke",
        );
        expect(await inspect.keysOf(key)).toEqual([]);
        expect(await inspect.indexed(key)).toBe(false);
      });

      it("leaves only the old version after an aborted overwrite and a refused conditional write", async () => {
        const key = fresh("kept");
        const small = open({ chunkBytes: 64 * 1024 });
        const old = await small.write(ref(key), chunks(randomBytes(200_000)), options(), never);
        const before = await inspect.keysOf(key);
        const controller = new AbortController();
        async function* body() {
          yield randomBytes(300_000);
          controller.abort();
          yield randomBytes(10);
        }
        await expect(small.write(ref(key), body(), options(), controller.signal)).rejects.toBeDefined();
        expect(
          (
            await stowdRejection(
              small.write(ref(key), chunks(randomBytes(300_000)), options({ preconditions: { ifMatchEtag: "nope" } }), never),
            )
          ).reason,
        ).toBe("PRECONDITION_FAILED");
        await expect(
          small.append(
            ref(key),
            failingAfter(randomBytes(300_000), 200_000, 64 * 1024),
            { createIfMissing: false, contentType: "" },
            never,
          ),
        ).rejects.toBeDefined();
        expect(await inspect.keysOf(key)).toEqual(before);
        expect((await small.head(ref(key), never))?.etag).toBe(old.etag);
        expect(await inspect.indexed(key)).toBe(true);
      });

      it("gives staged chunks and the write registration a TTL while the write runs", async () => {
        const key = fresh("stalled");
        const small = open({ chunkBytes: 64 * 1024, stagingTtlSeconds: 600 });
        let release = (): void => {};
        const gate = new Promise<void>((resolve) => (release = resolve));
        let sent = false;
        async function* body() {
          yield randomBytes(200_000);
          sent = true;
          await gate;
          yield randomBytes(10);
        }
        const writing = small.write(ref(key), body(), options(), never);
        // 200 000 bytes make three full 64 KiB chunks: wait until they landed.
        let keys: string[] = [];
        for (let i = 0; i < 500 && !(sent && keys.filter((k) => k.includes(":c:")).length >= 3); i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          keys = await inspect.keysOf(key);
        }
        expect(keys.filter((k) => k.includes(":c:"))).toHaveLength(3);
        expect(keys.some((k) => k.includes(":m:"))).toBe(false);
        for (const k of keys) {
          const ttl = await inspect.pttl(k);
          expect(ttl, k).toBeGreaterThan(0);
          expect(ttl, k).toBeLessThanOrEqual(601_000);
        }
        release();
        await writing;
        for (const k of (await inspect.keysOf(key)).filter((k) => k.includes(":c:") || k.includes(":m:")))
          expect(await inspect.pttl(k), k).toBe(-1);
      });

      it("expires objects after ttlSeconds when configured", async () => {
        const key = fresh("ttl");
        const expiring = open({ ttlSeconds: 300, chunkBytes: 64 * 1024 });
        await expiring.write(ref(key), chunks(randomBytes(150_000)), options(), never);
        await expiring.append(ref(key), chunks(randomBytes(100_000)), { createIfMissing: false, contentType: "" }, never);
        const keys = (await inspect.keysOf(key)).filter((k) => k.includes(":c:") || k.includes(":m:"));
        expect(keys.length).toBe(5);
        for (const k of keys) {
          const ttl = await inspect.pttl(k);
          expect(ttl, k).toBeGreaterThan(290_000);
          expect(ttl, k).toBeLessThanOrEqual(300_000);
        }
      });
    });

    describe("versions", () => {
      it("never mixes versions: a read whose old version expired fails with a retryable UNAVAILABLE", async () => {
        const key = fresh("graceless");
        const hasty = open({ readGraceSeconds: 0, chunkBytes: 64 * 1024 });
        await hasty.write(ref(key), chunks(randomBytes(500_000)), options(), never);
        const opened = await hasty.read(ref(key), {}, never);
        const it = opened.body[Symbol.asyncIterator]();
        expect((await it.next()).done).toBe(false);
        await hasty.write(ref(key), chunks(randomBytes(500_000)), options(), never);
        const failure = await stowdRejection(
          (async () => {
            for (let next = await it.next(); !next.done; next = await it.next());
          })(),
        );
        expect(failure.reason).toBe("BACKEND_UNAVAILABLE");
        expect(failure.message).toMatch(/overwritten or deleted while it was read.*retry/);
      });

      it("serves one object under any host: the reference's container is advisory", async () => {
        const key = fresh("advisory");
        await store.write(ref(key, "host-a:6379"), chunks(Buffer.from("shared")), options(), never);
        expect((await readAll(store, ref(key, "host-b:7000"))).bytes.toString()).toBe("shared");
        expect(await store.delete(ref(key, "elsewhere"), {}, never)).toBe(true);
      });

      it("appends concurrently across chunk boundaries, each append exactly once", async () => {
        const key = fresh("log");
        const small = open({ chunkBytes: 4096, maxObjectBytes: 16 * MiB });
        await small.write(ref(key), chunks(Buffer.alloc(1000, 0x40)), options(), never);
        const parts = Array.from({ length: 8 }, (_, i) => Buffer.alloc(3001 + i, 0x41 + i));
        await Promise.all(
          parts.map((part) => small.append(ref(key), chunks(part, 999), { createIfMissing: false, contentType: "" }, never)),
        );
        const got = (await readAll(small, ref(key))).bytes.toString("latin1");
        const runs = got.match(/(.)\1*/g) ?? [];
        expect(runs.map((r) => r.length).sort((a, b) => a - b)).toEqual([1000, ...parts.map((p) => p.length)].sort((a, b) => a - b));
        const lengths = await Promise.all((await inspect.keysOf(key)).filter((k) => k.includes(":c:")).map((k) => inspect.strlen(k)));
        expect(Math.max(...lengths)).toBeLessThanOrEqual(4096);
      });
    });

    describe("listing index", () => {
      it("skips and prunes entries left by a crash, but keeps the entry of a write in progress", async () => {
        const base = fresh("idx/");
        const index = indexKeys("stowd");
        await store.write(ref(base + "b"), chunks(Buffer.from("b")), options(), never);
        await store.write(ref(base + "d"), chunks(Buffer.from("d")), options(), never);
        // A writer that died after indexing, and a delete that died before unindexing.
        await inspect.raw.zadd(index.keys, 0, base + "a");
        await inspect.raw.del(objectKeys("stowd", base + "d").manifest);
        // A write in progress: indexed and registered, not committed.
        let release = (): void => {};
        const gate = new Promise<void>((resolve) => (release = resolve));
        async function* slow() {
          yield Buffer.from("c");
          await gate;
        }
        const writing = store.write(ref(base + "c"), slow(), options(), never);
        for (let i = 0; i < 200 && !(await inspect.indexed(base + "c")); i++) await new Promise((resolve) => setTimeout(resolve, 5));

        const page = await store.list(ref(base), { pageSize: 10, pageToken: "", delimiter: "" }, never);
        expect(page.objects.map((o) => o.key)).toEqual([base + "b"]);
        expect(await inspect.indexed(base + "a")).toBe(false);
        expect(await inspect.indexed(base + "d")).toBe(false);
        expect(await inspect.indexed(base + "c")).toBe(true);
        release();
        await writing;
        const after = await store.list(ref(base), { pageSize: 10, pageToken: "", delimiter: "" }, never);
        expect(after.objects.map((o) => o.key)).toEqual([base + "b", base + "c"]);
      });

      it("pages in byte order without repeats while keys come and go between pages", async () => {
        const base = fresh("pages/");
        const initial = Array.from({ length: 40 }, (_, i) => `k${String(i * 2).padStart(3, "0")}`);
        await Promise.all(initial.map((k) => store.write(ref(base + k), chunks(Buffer.from(k)), options(), never)));
        const seen: string[] = [];
        const deleted: string[] = [];
        const insertedAhead: string[] = [];
        let pageToken = "";
        let round = 0;
        do {
          const page = await store.list(ref(base), { pageSize: 7, pageToken, delimiter: "" }, never);
          seen.push(...page.objects.map((o) => o.key.slice(base.length)));
          pageToken = page.nextPageToken;
          if (pageToken === "") break;
          // Between pages: insert one key behind the cursor and one ahead, delete one ahead.
          const cursor = seen[seen.length - 1] ?? "";
          round++;
          const behind = `k${String(round * 2 - 1).padStart(3, "0")}`;
          const ahead = `${cursor}a`;
          await store.write(ref(base + behind), chunks(Buffer.from("x")), options(), never);
          await store.write(ref(base + ahead), chunks(Buffer.from("x")), options(), never);
          if (behind > cursor) insertedAhead.push(behind);
          insertedAhead.push(ahead);
          const doomed = initial.filter((k) => k > ahead && !deleted.includes(k))[2];
          if (doomed !== undefined && (await store.delete(ref(base + doomed), {}, never))) deleted.push(doomed);
        } while (pageToken !== "");
        expect(round).toBeGreaterThan(4);
        expect(new Set(seen).size).toBe(seen.length);
        expect([...seen].sort()).toEqual(seen);
        for (const k of [...initial.filter((k) => !deleted.includes(k)), ...insertedAhead]) expect(seen).toContain(k);
        for (const k of deleted) expect(seen).not.toContain(k);
      });
    });

    it("answers a missing server with UNAVAILABLE, without telling the client its address", async () => {
      const port = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, "127.0.0.1", () => {
          const address = probe.address();
          probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
        });
      });
      const options: RedisStoreOptions = kind === "single" ? { addr: `127.0.0.1:${port}` } : { cluster: [{ host: "127.0.0.1", port }] };
      const gone = createRedisStore({
        ...options,
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, attemptTimeoutMs: 2_000, totalTimeoutMs: 5_000 },
      });
      stores.push(gone);
      const started = Date.now();
      const failure = await stowdRejection(gone.head(ref("x"), never));
      expect(failure.reason).toBe("BACKEND_UNAVAILABLE");
      expect(failure.message).not.toContain(`127.0.0.1:${port}`); // the address goes to the daemon log, not to clients
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });
}

describe("redis store deadlines", () => {
  it("fails calls to a server that accepts connections and never answers with DEADLINE_EXCEEDED in time", async () => {
    const sockets = new Set<net.Socket>();
    const tarpit = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => tarpit.listen(0, "127.0.0.1", resolve));
    const address = tarpit.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const totalTimeoutMs = 1_200;
    const store = createRedisStore({
      addr: `127.0.0.1:${port}`,
      retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, attemptTimeoutMs: 400, totalTimeoutMs },
    });
    try {
      for (const call of [
        () => store.head({ scheme: "redis", container: "x", authority: "x", key: "k" }, never),
        () => store.write({ scheme: "redis", container: "x", authority: "x", key: "k" }, chunks(Buffer.from("data")), options(), never),
        () =>
          store.list({ scheme: "redis", container: "x", authority: "x", key: "" }, { pageSize: 10, pageToken: "", delimiter: "" }, never),
      ]) {
        const started = Date.now();
        const failure = await stowdRejection(call());
        expect(failure.reason).toBe("DEADLINE_EXCEEDED");
        expect(failure.message).not.toContain(`127.0.0.1:${port}`);
        expect(Date.now() - started).toBeLessThan(totalTimeoutMs + 1_000);
      }
      expect(sockets.size).toBeGreaterThan(0);
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => tarpit.close(resolve));
    }
  });
});

describe("redis cluster slot moves", () => {
  it("reads, overwrites, appends, lists and deletes an object after its slot moved to another master, and during the move", async () => {
    const c = clustered();
    const store = createRedisStore({ cluster: c.nodes, chunkBytes: 64 * 1024 });
    try {
      const key = `slots-${randomBytes(4).toString("hex")}/object`;
      const ref: Ref = { scheme: "redis", container: "c", authority: "c", key };
      const data = randomBytes(500_000);
      await store.write(ref, chunks(data), options({ metadata: { v: "1" } }), never);
      const slot = await c.keySlot(objectKeys("stowd", key).manifest);
      const from = await c.ownerOf(slot);
      const to = (from + 1) % c.nodes.length;
      await c.moveSlot(slot, to);
      expect(await c.ownerOf(slot)).toBe(to);

      const got = await readAll(store, ref);
      expect(sha256(got.bytes)).toBe(sha256(data));
      expect(got.meta.metadata).toEqual({ v: "1" });
      const replacement = randomBytes(300_000);
      await store.write(ref, chunks(replacement), options(), never);
      await store.append(ref, chunks(Buffer.from("tail")), { createIfMissing: false, contentType: "" }, never);
      expect(sha256((await readAll(store, ref)).bytes)).toBe(sha256(Buffer.concat([replacement, Buffer.from("tail")])));
      const listed = await store.list(
        { ...ref, key: key.slice(0, key.indexOf("/") + 1) },
        { pageSize: 10, pageToken: "", delimiter: "" },
        never,
      );
      expect(listed.objects.map((o) => o.key)).toEqual([key]);

      // Move it back halfway: some keys on each master. Reads follow ASK; a write waits out TRYAGAIN.
      const move = await c.startSlotMove(slot, from);
      expect(await move.migrateKeys(2)).toBe(2);
      const reading = readAll(store, ref);
      const writing = store.write(ref, chunks(data), options(), never);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await move.finish();
      expect(sha256((await reading).bytes)).toBe(sha256(Buffer.concat([replacement, Buffer.from("tail")])));
      const written = await writing;
      expect((await store.head(ref, never))?.etag).toBe(written.etag);
      expect(sha256((await readAll(store, ref)).bytes)).toBe(sha256(data));
      expect(await store.delete(ref, {}, never)).toBe(true);
      expect(await store.head(ref, never)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe("redis credentials", () => {
  it("connects with the configured password and answers a wrong one with UNAUTHENTICATED", async () => {
    const secured = await startRedisServer(["--requirepass", "s3cret"]);
    const ref: Ref = { scheme: "redis", container: "x", authority: "x", key: "k" };
    const good = createRedisStore({ addr: secured.addr, password: "s3cret" });
    const bad = createRedisStore({
      addr: secured.addr,
      password: "wrong",
      retry: { attempts: 2, baseDelayMs: 10, attemptTimeoutMs: 2_000, totalTimeoutMs: 5_000 },
    });
    try {
      await good.write(ref, chunks(Buffer.from("secret data")), options(), never);
      expect((await readAll(good, ref)).bytes.toString()).toBe("secret data");
      const failure = await stowdRejection(bad.head(ref, never));
      expect(failure.reason).toBe("UNAUTHENTICATED");
      expect(failure.message).not.toContain(secured.addr);
    } finally {
      await Promise.all([good.close(), bad.close()]);
      await secured.stop();
    }
  });
});

describe("redis store options", () => {
  it("maps Flyte's redis block (addr, username, password, db) and stowd's cluster", () => {
    expect(redisStoreOptionsFromFlyte({ addr: "localhost:6379", username: "u", password: "p", db: 2 })).toEqual({
      addr: "localhost:6379",
      username: "u",
      password: "p",
      db: 2,
    });
    expect(redisStoreOptionsFromFlyte({ addr: "cache", username: "", password: "", db: 0, cluster: [] })).toEqual({ addr: "cache:6379" });
    expect(redisStoreOptionsFromFlyte({ addr: "", cluster: ["10.0.0.1:7000", "[::1]:7001"] })).toEqual({
      cluster: [
        { host: "10.0.0.1", port: 7000 },
        { host: "::1", port: 7001 },
      ],
    });
  });

  it.each([
    ["no addr", {}, /requires redis\.addr/, "redis.addr"],
    ["an unknown key", { addr: "h:1", adress: "x" }, /unknown key redis\.adress/, "redis.adress"],
    ["a bad port", { addr: "h:99999" }, /host:port/, "redis.addr"],
    ["a negative db", { addr: "h:1", db: -1 }, /non-negative integer/, "redis.db"],
    ["addr and cluster", { addr: "h:1", cluster: ["h:2"] }, /not both/, "redis.cluster"],
  ])("refuses %s, naming the key", (_label, config, message, field) => {
    let thrown: unknown;
    try {
      redisStoreOptionsFromFlyte(config);
    } catch (err) {
      thrown = err;
    }
    expect(isStowdError(thrown, "INVALID_ARGUMENT")).toBe(true);
    if (isStowdError(thrown)) {
      expect(thrown.message).toMatch(message);
      expect(thrown.facts.field).toBe(field);
    }
  });

  it("refuses inconsistent store options", () => {
    expect(() => createRedisStore({})).toThrow(/exactly one of addr/);
    expect(() => createRedisStore({ addr: "h:1", cluster: [{ host: "h", port: 2 }] })).toThrow(/exactly one of addr/);
    expect(() => createRedisStore({ cluster: [{ host: "h", port: 2 }], db: 1 })).toThrow(/only database 0/);
    expect(() => createRedisStore({ addr: "h:1", keyPrefix: "a{b}" })).toThrow(/keyPrefix/);
    expect(() => createRedisStore({ addr: "h:1", chunkBytes: 4096, maxObjectBytes: 511 * MiB })).toThrow(/16384 chunks/);
  });
});
