// Every spelling of one stored object is one object to the whole store tree:
// the cache, the container policy, locks and preconditions. The alias pairs a
// configuration can produce today: `file:///b/k` and `file://b/k` (one file
// on disk), `abfs://` and `abfss://` (one Azure account), and `redis://` with
// any host (the host is advisory). Before, each spelling had its own cache
// entry, so after an overwrite through one name the other still read the old
// bytes, a DeletePrefix through one left the other readable, and
// `abfss://other@…` skipped the container policy that refuses `abfs://other@…`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildStoreTree, type StoreTree } from "../../server/assembly/store-tree.js";
import { loadConfig, parseConfig } from "../../server/config/load-config.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { OTHER_SCHEME_LABEL } from "../../server/decorators/metered-store.js";
import { createMetrics, type Metrics } from "../../server/observability/metrics.js";
import { parsePrefixReference, parseReference } from "../../server/references/reference.js";
import { createLocalStore } from "../../server/stores/local/index.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { createRedisStore } from "../../server/stores/redis/index.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";
import { never } from "../helpers/store-calls.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString();

async function* body(content: string): AsyncGenerator<Uint8Array> {
  yield bytes(content);
}

async function readText(tree: StoreTree, reference: string): Promise<string> {
  const opened = await tree.root.read(parseReference(reference), {}, never);
  const chunks: Uint8Array[] = [];
  for await (const chunk of opened.body) chunks.push(chunk);
  return text(chunks);
}

const write = (tree: StoreTree, reference: string, content: string, preconditions = {}) =>
  tree.root.write(parseReference(reference), body(content), { contentType: "text/plain", metadata: {}, preconditions }, never);

let root: string;
let redis: RedisServer;
let tree: StoreTree;
let metrics: Metrics;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "stowd-aliases-"));
  redis = await startRedisServer();
  metrics = createMetrics();
  // abfs and abfss share one backend object, as configuredBackends makes them;
  // a memory store stands in for Azure: what is under test is the tree above it.
  const azure = builtBackend(createMemoryStore());
  const config = parseConfig(
    [
      "storage:",
      "  type: mem",
      "  enable-multicontainer: true",
      "  cache:",
      "    max_size_mbs: 64",
      "  limits:",
      "    maxDownloadMBs: 0",
    ].join("\n"),
  );
  tree = await buildStoreTree(config, {
    metrics,
    backends: {
      file: builtBackend(await createLocalStore({ root })),
      abfs: azure,
      abfss: azure,
      redis: builtBackend(createRedisStore({ addr: redis.addr })),
    },
  });
}, 60_000);

afterAll(async () => {
  await tree?.close();
  await redis?.stop();
  await rm(root, { recursive: true, force: true });
});

/** [one spelling, another spelling, a listing prefix over the object in the first spelling]. */
const ALIAS_PAIRS: Array<[string, string, string]> = [
  ["file:///b/k", "file://b/k", "file:///b/"],
  ["file://b/d/k", "file:///b/d/k", "file://b/d/"],
  ["abfss://c1@acct.dfs.core.windows.net/k", "abfs://c1@acct.dfs.core.windows.net/k", "abfss://c1@acct.dfs.core.windows.net/"],
  ["redis://host-a:6379/r/k", "redis://host-b:7000/r/k", "redis://host-a:6379/r/"],
];

describe.each(ALIAS_PAIRS)("%s and %s", (one, other, prefix) => {
  it("have one identity in the store tree", () => {
    expect(tree.root.identity(parseReference(one))).toBe(tree.root.identity(parseReference(other)));
    expect(tree.root.identity(parseReference(one)).startsWith(tree.root.identity(parsePrefixReference(prefix)))).toBe(true);
  });

  it("read what the other last wrote, through the cache", async () => {
    await write(tree, one, "first");
    expect(await readText(tree, other)).toBe("first"); // cached under the shared identity
    await write(tree, one, "second");
    expect(await readText(tree, other)).toBe("second");
    await write(tree, other, "third");
    expect(await readText(tree, one)).toBe("third");
    const info = await tree.root.head(parseReference(other), never);
    expect(info?.key).toBe(parseReference(other).key); // the info speaks the caller's spelling
  });

  it("are both gone after a DeletePrefix through one of them", async () => {
    await write(tree, other, "to delete");
    expect(await readText(tree, other)).toBe("to delete");
    expect(await tree.root.deletePrefix(parsePrefixReference(prefix), never)).toBeGreaterThanOrEqual(1);
    expect(await tree.root.head(parseReference(other), never)).toBeUndefined();
    await expect(readText(tree, other)).rejects.toMatchObject({ reason: "NOT_FOUND" });
  });

  it("let exactly one of 20 concurrent create-only writes through the two names succeed", async () => {
    await tree.root.delete(parseReference(one), {}, never).catch(() => false);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => write(tree, i % 2 === 0 ? one : other, `writer ${i}`, { ifNotExists: true })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won.length).toBe(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ reason: "ALREADY_EXISTS" });
  });
});

describe("scheme labels", () => {
  it("take only configured schemes: 500 unknown ones add no label (they reach no backend, where operations are counted)", async () => {
    for (let i = 0; i < 500; i++) {
      const scheme = `x${i}${"y".repeat(i % 50)}`;
      await expect(tree.root.head({ scheme, container: "b", key: "k", authority: "b" }, never)).rejects.toMatchObject({
        reason: "UNKNOWN_SCHEME",
      });
    }
    const exposition = await metrics.registry.metrics();
    const labels = new Set([...exposition.matchAll(/scheme="([^"]*)"/g)].map((m) => m[1]));
    for (const label of labels) expect(["file", "abfs", "abfss", "redis", OTHER_SCHEME_LABEL]).toContain(label);
    expect(exposition).not.toMatch(/scheme="x\d/);
  });
});

describe("the container policy", () => {
  it("covers every scheme that reaches the primary store, in every example config that fixes a container", async () => {
    const examples = ["azure.yaml", "s3-minio.yaml", "gcs.yaml", "redis-plus-s3.yaml", "flyte-storage.yaml"];
    const covered: string[] = [];
    for (const file of examples) {
      const config = await loadConfig(["--config", `examples/${file}`], {}, { warn: () => {} });
      const { container, enableMultiContainer } = config.storage;
      if (container === "" || enableMultiContainer) continue;
      const exampleTree = await buildStoreTree(config, { metrics: createMetrics() });
      try {
        const primary = exampleTree.router.routes[0]?.scheme ?? "";
        const aliases = exampleTree.router.routes.filter(
          (r) => exampleTree.router.canonicalScheme(r.scheme) === exampleTree.router.canonicalScheme(primary),
        );
        for (const { scheme } of aliases) {
          const foreign = { scheme, container: "other-container", key: "x", authority: "other-container" };
          await expect(exampleTree.root.head(foreign, never), `${file} ${scheme}://`).rejects.toMatchObject({
            reason: "CONTAINER_NOT_ALLOWED",
          });
          covered.push(`${file}:${scheme}`);
        }
      } finally {
        await exampleTree.close();
      }
    }
    // azure.yaml serves its account as abfs:// and as abfss://: both refused.
    expect(covered).toEqual(expect.arrayContaining(["azure.yaml:abfs", "azure.yaml:abfss"]));
  });

  it("refuses abfss://other@account like abfs://other@account", async () => {
    const config = await loadConfig(["--config", "examples/azure.yaml"], {}, { warn: () => {} });
    const azureTree = await buildStoreTree(config, { metrics: createMetrics() });
    try {
      for (const scheme of ["abfs", "abfss"]) {
        const ref = parseReference(`${scheme}://other-container@mystorageaccount.dfs.core.windows.net/x`);
        await expect(azureTree.root.head(ref, never)).rejects.toMatchObject({
          reason: "CONTAINER_NOT_ALLOWED",
          message: expect.stringContaining("enable-multicontainer") as unknown,
        });
      }
    } finally {
      await azureTree.close();
    }
  });
});
