// The scheme router: the conformance suite through it, lazy single dials,
// retried failed dials, unknown schemes, and copies across schemes.
import { crc32c } from "@node-rs/crc32";
import { describe, expect, it } from "vitest";
import { builtBackend, createSchemeRouter, type Backend } from "../../server/decorators/scheme-router.js";
import { withContainerPolicy } from "../../server/decorators/container-policy.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { never, put, readAll, ref } from "./store-helpers.js";

describeRawStoreConformance("router(memory)", {
  create: async () => ({ store: createSchemeRouter({ mem: builtBackend(createMemoryStore()) }), scheme: "mem", container: "conformance" }),
  awkwardKeys: "accept-all",
});

function lazy(onCreate: () => void, failFirst = 0): Backend {
  const store = createMemoryStore();
  let failures = failFirst;
  return {
    kind: store.kind,
    capabilities: store.capabilities,
    baseContainerReference: "",
    identity: (r) => store.identity(r),
    async create() {
      onCreate();
      await new Promise((r) => setTimeout(r, 20));
      if (failures-- > 0) throw new Error("dial failed");
      return store;
    },
  };
}

describe("scheme router", () => {
  it("dials a backend once for 50 concurrent first uses", async () => {
    let dials = 0;
    const router = createSchemeRouter({ mem: lazy(() => dials++) });
    await Promise.all(Array.from({ length: 50 }, (_, i) => router.head(ref(`k${i}`), never)));
    expect(dials).toBe(1);
  });

  it("retries a failed dial on the next call instead of remembering the failure", async () => {
    let dials = 0;
    const router = createSchemeRouter({ mem: lazy(() => dials++, 1) });
    await expect(router.head(ref("k"), never)).rejects.toThrow("dial failed");
    expect(await router.head(ref("k"), never)).toBeUndefined();
    expect(dials).toBe(2);
  });

  it("refuses an unknown scheme with INVALID_ARGUMENT naming the configured ones", async () => {
    const router = createSchemeRouter({ mem: builtBackend(createMemoryStore()), file: builtBackend(createMemoryStore()) });
    const err = await router.head(ref("k", "s3"), never).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: "UNKNOWN_SCHEME", code: 3 });
    expect((err as Error).message).toContain("mem://, file://");
  });

  it("copies across schemes by streaming", async () => {
    const router = createSchemeRouter({ mem: builtBackend(createMemoryStore()), other: builtBackend(createMemoryStore()) });
    await put(router, ref("src"), "across");
    await router.copy(ref("src"), ref("dst", "other"), { preconditions: {} }, never);
    expect((await readAll(router, ref("dst", "other"))).toString()).toBe("across");
  });

  it("keeps the source's CRC32C on a copy across schemes", async () => {
    const router = createSchemeRouter({ mem: builtBackend(createMemoryStore()), other: builtBackend(createMemoryStore()) });
    await put(router, ref("src"), "across");
    await router.copy(ref("src"), ref("dst", "other"), { preconditions: {} }, never);
    expect((await router.head(ref("dst", "other"), never))?.crc32c).toBe(crc32c(Buffer.from("across")));
  });

  it("copies nothing when the source's bytes do not match its recorded CRC32C", async () => {
    const source = createMemoryStore();
    // A source whose stored bytes rotted: its metadata still records the CRC32C of what was written.
    const rotten: RawStore = {
      ...source,
      async read(r, options, signal) {
        const opened = await source.read(r, options, signal);
        async function* flipped() {
          for await (const chunk of opened.body) yield Buffer.from(chunk).map((b, i) => (i === 0 ? b ^ 1 : b));
        }
        return { ...opened, body: flipped() };
      },
    };
    const router = createSchemeRouter({ mem: builtBackend(rotten), other: builtBackend(createMemoryStore()) });
    await put(router, ref("src"), "across");
    const err = await router.copy(ref("src"), ref("dst", "other"), { preconditions: {} }, never).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: "CHECKSUM_MISMATCH" });
    expect((err as Error).message).toContain("nothing was copied");
    expect(await router.head(ref("dst", "other"), never)).toBeUndefined();
  });
});

describe("container policy", () => {
  const store = withContainerPolicy(createMemoryStore(), { appliesTo: (s) => s === "mem", container: "mine", enableMultiContainer: false });

  it("serves the init container", async () => {
    await put(store, ref("k", "mem", "mine"), "ok");
    expect((await readAll(store, ref("k", "mem", "mine"))).toString()).toBe("ok");
  });

  it("refuses another container with PERMISSION_DENIED naming enable-multicontainer", async () => {
    const err = await store.head(ref("k", "mem", "theirs"), never).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: "CONTAINER_NOT_ALLOWED", code: 7 });
    expect((err as Error).message).toContain("enable-multicontainer");
  });

  it("allows any container with enable-multicontainer", async () => {
    const open = withContainerPolicy(createMemoryStore(), { appliesTo: (s) => s === "mem", container: "mine", enableMultiContainer: true });
    expect(await open.head(ref("k", "mem", "theirs"), never)).toBeUndefined();
  });
});
