// Every example config builds its store tree without touching the network
// (cloud clients dial on first use), and a Flyte storage block gives Flyte's
// behaviour: its schemes, its container rule, its download limit.
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildStoreTree } from "../../server/assembly/store-tree.js";
import { loadConfig, parseConfig } from "../../server/config/load-config.js";
import { createMetrics } from "../../server/observability/metrics.js";
import type { Ref } from "../../server/references/reference.js";
import { never } from "../helpers/store-calls.js";

const examples = readdirSync(new URL("../../examples", import.meta.url)).filter((f) => f.endsWith(".yaml"));
const ref = (scheme: string, container: string, key: string): Ref => ({ scheme, container, key, authority: container });

describe("example configs", () => {
  it("are there to test", () => {
    expect(examples).toEqual(
      expect.arrayContaining(["local.yaml", "s3-minio.yaml", "gcs.yaml", "azure.yaml", "redis-plus-s3.yaml", "flyte-storage.yaml"]),
    );
  });

  it.each(examples)("%s builds its store tree offline", async (file) => {
    const dataDir = await mkdtemp(join(tmpdir(), "stowd-example-"));
    try {
      const local = file === "local.yaml" ? ["--data-dir", dataDir] : [];
      const config = await loadConfig(["--config", `examples/${file}`, ...local], {}, { warn: () => {} });
      const tree = await buildStoreTree(config, { metrics: createMetrics() });
      try {
        expect(tree.router.routes.length).toBeGreaterThan(0);
        expect(tree.maxDownloadBytes).toBe(config.storage.limits.maxDownloadMBs * 1024 * 1024);
      } finally {
        await tree.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("a Flyte storage block", () => {
  it("serves its primary scheme only, on its container, with its download limit", async () => {
    const config = parseConfig(
      [
        "storage:",
        "  type: mem",
        "  container: my-bucket",
        "  enable-multicontainer: false",
        "  limits:",
        "    maxDownloadMBs: 1",
        "  cache:",
        "    max_size_mbs: 8",
      ].join("\n"),
    );
    const tree = await buildStoreTree(config, { metrics: createMetrics() });
    try {
      expect(tree.router.routes.map((r) => r.scheme)).toEqual(["mem"]);
      const body = (async function* () {
        yield new Uint8Array(1024 * 1024 + 1);
      })();
      await tree.root.write(ref("mem", "my-bucket", "big"), body, { contentType: "", metadata: {}, preconditions: {} }, never);
      await expect(tree.root.read(ref("mem", "my-bucket", "big"), {}, never)).rejects.toMatchObject({ reason: "LIMIT_EXCEEDED" });
      await expect(tree.root.head(ref("mem", "other-bucket", "k"), never)).rejects.toMatchObject({ reason: "CONTAINER_NOT_ALLOWED" });
      await expect(tree.root.head(ref("s3", "my-bucket", "k"), never)).rejects.toMatchObject({ reason: "UNKNOWN_SCHEME" });
    } finally {
      await tree.close();
    }
  });

  it("defaults maxDownloadMBs to Flyte's 2", async () => {
    const config = parseConfig(["storage:", "  type: mem"].join("\n"));
    expect(config.storage.limits.maxDownloadMBs).toBe(2);
  });
});
