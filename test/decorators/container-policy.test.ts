// The container policy: the conformance suite through it (on its allowed
// container), and refusals of other containers under every scheme it covers.
import { describe, expect, it } from "vitest";
import { withContainerPolicy } from "../../server/decorators/container-policy.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { never } from "./store-helpers.js";

describeRawStoreConformance("container-policy(memory)", {
  create: async () => ({
    store: withContainerPolicy(createMemoryStore(), {
      appliesTo: (scheme) => scheme === "mem",
      container: "conformance",
      enableMultiContainer: false,
    }),
    scheme: "mem",
    container: "conformance",
  }),
  awkwardKeys: "accept-all",
});

describe("container policy", () => {
  it("refuses another container under every scheme it applies to, and lets others through", async () => {
    let refusals = 0;
    const store = withContainerPolicy(createMemoryStore(), {
      appliesTo: (scheme) => scheme === "mem" || scheme === "mem2",
      container: "mine",
      enableMultiContainer: false,
      onReject: () => refusals++,
    });
    for (const scheme of ["mem", "mem2"]) {
      await expect(store.head({ scheme, container: "other", key: "k", authority: "other" }, never)).rejects.toMatchObject({
        reason: "CONTAINER_NOT_ALLOWED",
      });
    }
    expect(await store.head({ scheme: "elsewhere", container: "other", key: "k", authority: "other" }, never)).toBeUndefined();
    expect(await store.head({ scheme: "mem", container: "mine", key: "k", authority: "mine" }, never)).toBeUndefined();
    expect(refusals).toBe(2); // one per refused call: the metric stowd_layer_outcomes_total{layer="container_policy"} counts them
  });
});
