// The memory store against the shared conformance suite, plus what only it promises.
import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../../server/stores/memory-store.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";

describeRawStoreConformance("memory", {
  create: async () => ({ store: createMemoryStore(), scheme: "mem", container: "bucket" }),
  awkwardKeys: "accept-all",
});

describe("memory store", () => {
  it("declares every capability but signed URLs", () => {
    expect(createMemoryStore().capabilities).toEqual({
      rangedReads: true,
      append: true,
      conditionalWrites: true,
      signedUrls: false,
      delimiterListing: true,
      serverSideCopy: true,
    });
  });

  it("serves reads in chunks of at most 1 MiB and keeps containers apart", async () => {
    const store = createMemoryStore();
    const signal = new AbortController().signal;
    const ref = (container: string, key: string) => ({ scheme: "mem", container, authority: container, key });
    async function* body() {
      yield new Uint8Array(3 * 1024 * 1024 + 1);
    }
    await store.write(ref("a", "k"), body(), { contentType: "", metadata: {}, preconditions: {} }, signal);
    const read = await store.read(ref("a", "k"), {}, signal);
    const sizes: number[] = [];
    for await (const chunk of read.body) sizes.push(chunk.length);
    expect(sizes).toEqual([1 << 20, 1 << 20, 1 << 20, 1]);
    expect(await store.head(ref("b", "k"), signal)).toBeUndefined();
  });
});
