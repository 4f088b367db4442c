// The metered decorator: the conformance suite through it, and what it counts.
import { describe, expect, it } from "vitest";
import { withMetrics } from "../../server/decorators/metered-store.js";
import { createMetrics } from "../../server/observability/metrics.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { never, put, readAll, ref } from "./store-helpers.js";

describeRawStoreConformance("metered(memory)", {
  create: async () => ({
    store: withMetrics(createMemoryStore(), { metrics: createMetrics(), schemes: ["mem"] }),
    scheme: "mem",
    container: "conformance",
  }),
  awkwardKeys: "accept-all",
});

describe("metered store", () => {
  it("counts operations and bytes once, by backend, scheme, op and code", async () => {
    const metrics = createMetrics();
    const store = withMetrics(createMemoryStore(), { metrics, schemes: ["mem"] });
    await put(store, ref("k"), "hello");
    expect((await readAll(store, ref("k"))).toString()).toBe("hello");
    expect(await store.head(ref("missing"), never)).toBeUndefined();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/stowd_store_operations_total\{backend="memory",scheme="mem",op="write",code="OK"\} 1/);
    expect(text).toMatch(/stowd_store_operations_total\{backend="memory",scheme="mem",op="head",code="OK"\} 1/);
    expect(text).toMatch(/stowd_store_read_bytes_total\{backend="memory",scheme="mem"\} 5/);
    expect(text).toMatch(/stowd_store_written_bytes_total\{backend="memory",scheme="mem"\} 5/);
  });
});
