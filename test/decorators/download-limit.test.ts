// The download limit: the shared conformance suite over limit(memory), then
// Flyte's byte-exact boundary and wording, ranges, and objects that grow.
import { describe, expect, it } from "vitest";
import { limitExceeded, withDownloadLimit } from "../../server/decorators/download-limit.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { never, put, readAll, ref } from "./store-helpers.js";

const MiB = 1024 * 1024;

describeRawStoreConformance("limit(memory)", {
  create: async () => ({ store: withDownloadLimit(createMemoryStore(), { maxDownloadMBs: 64 }), scheme: "mem", container: "conformance" }),
  awkwardKeys: "accept-all",
});

describe("download limit", () => {
  it("passes exactly N MiB and rejects N MiB + 1 byte before any data", async () => {
    const inner = createMemoryStore();
    let rejections = 0;
    const limited = withDownloadLimit(inner, { maxDownloadMBs: 2, onReject: () => rejections++ });
    await put(inner, ref("exact"), Buffer.alloc(2 * MiB));
    await put(inner, ref("over"), Buffer.alloc(2 * MiB + 1));
    expect((await readAll(limited, ref("exact"))).length).toBe(2 * MiB);
    const err = await limited.read(ref("over"), {}, never).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: "LIMIT_EXCEEDED", facts: { size: 2 * MiB + 1, limit: 2 * MiB } });
    expect((err as Error).message).toBe("limit exceeded. 2.000001mb > 2mb. You can increase the limit by setting maxDownloadMBs.");
    expect(rejections).toBe(1);
  });

  it("keeps Flyte's wording", () => {
    expect(limitExceeded("s3://b/k", 5_617_322, 2).message).toBe(
      "limit exceeded. 5.357096mb > 2mb. You can increase the limit by setting maxDownloadMBs.",
    );
  });

  it("counts a range by the bytes it serves", async () => {
    const inner = createMemoryStore();
    const limited = withDownloadLimit(inner, { maxDownloadMBs: 1 });
    await put(inner, ref("big"), Buffer.alloc(3 * MiB, 5));
    expect((await readAll(limited, ref("big"), { range: { offset: MiB, length: MiB, suffixLength: 0 } })).length).toBe(MiB);
    await expect(readAll(limited, ref("big"), { range: { offset: MiB, length: MiB + 1, suffixLength: 0 } })).rejects.toMatchObject({
      reason: "LIMIT_EXCEEDED",
    });
    await expect(readAll(limited, ref("big"))).rejects.toMatchObject({ reason: "LIMIT_EXCEEDED" });
  });

  it("cuts off with an error an object that yields more than its size said", async () => {
    const inner = createMemoryStore();
    await put(inner, ref("grows"), Buffer.alloc(MiB));
    // A backend whose object grew after its size was read: it reports 1 MiB and streams 1 MiB + 1 KiB.
    const growing: RawStore = {
      ...inner,
      async read(r, o, s) {
        const opened = await inner.read(r, o, s);
        return {
          ...opened,
          body: (async function* () {
            yield* opened.body;
            yield Buffer.alloc(1024);
          })(),
        };
      },
    };
    const limited = withDownloadLimit(growing, { maxDownloadMBs: 1 });
    await expect(readAll(limited, ref("grows"))).rejects.toMatchObject({ reason: "LIMIT_EXCEEDED" });
  });

  it("does not limit copies", async () => {
    const inner = createMemoryStore();
    const limited = withDownloadLimit(inner, { maxDownloadMBs: 1 });
    await put(inner, ref("src"), Buffer.alloc(3 * MiB));
    const copied = await limited.copy(ref("src"), ref("dst"), { preconditions: {} }, never);
    expect(copied.size).toBe(3 * MiB);
  });
});
