// The memory store against the shared conformance suite, plus what only it promises.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import type { Ref } from "../../server/references/reference.js";
import { headroomOf } from "../../server/stores/kit/message-headroom.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { never } from "../helpers/store-calls.js";

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

  const GiB = 1024 ** 3;
  const MiB = 1024 * 1024;
  const at = (key: string): Ref => ({ scheme: "mem", container: "b", authority: "b", key });
  const options = (size?: number) => ({ contentType: "", metadata: {}, preconditions: {}, ...(size === undefined ? {} : { size }) });
  async function readAll(
    store: ReturnType<typeof createMemoryStore>,
    ref: Ref,
    range?: { offset: number; length: number; suffixLength: number },
  ) {
    const read = await store.read(ref, range === undefined ? {} : { range }, never);
    const chunks: Uint8Array[] = [];
    for await (const chunk of read.body) chunks.push(chunk);
    return { bytes: Buffer.concat(chunks), sizes: chunks.map((c) => c.length) };
  }

  it("holds the bytes that arrived, not the size a header declared (3 GiB declared, 3 bytes sent, then a failure)", async () => {
    const store = createMemoryStore();
    let arrived!: () => void;
    const firstBytesIn = new Promise<void>((resolve) => (arrived = resolve));
    let fail!: (err: Error) => void;
    const failure = new Promise<never>((_, reject) => (fail = reject));
    async function* body() {
      yield new Uint8Array([1, 2, 3]);
      arrived();
      await failure;
    }
    const before = process.memoryUsage().arrayBuffers;
    const write = store.write(at("huge"), body(), options(3 * GiB), never);
    await firstBytesIn;
    await new Promise((resolve) => setImmediate(resolve)); // the store has taken the chunk
    const held = process.memoryUsage().arrayBuffers - before;
    fail(new Error("the client went away"));
    await expect(write).rejects.toThrow("the client went away");
    // Reserving the declared size up front held 3 GiB here.
    expect(held).toBeLessThan(16 * MiB);
    expect(await store.head(at("huge"), never)).toBeUndefined();
  });

  it("takes a declared size past Node's largest Buffer (4 GiB) without a RangeError", async () => {
    // The service checks the body against the declared size; the store only must not reserve it.
    const store = createMemoryStore();
    async function* body() {
      yield new Uint8Array([7, 7]);
    }
    const meta = await store.write(at("past-4gib"), body(), options(5 * GiB), never);
    expect(meta.size).toBe(2);
  });

  it("refuses an object larger than maxObjectBytes with LIMIT_EXCEEDED naming the limit, declared or streamed, and stores nothing", async () => {
    const store = createMemoryStore({ maxObjectBytes: 2 * MiB });
    async function* body(bytes: number) {
      for (let sent = 0; sent < bytes; sent += 256 * 1024) yield new Uint8Array(Math.min(256 * 1024, bytes - sent));
    }
    const declared = await store.write(at("declared"), body(1), options(2 * MiB + 1), never).catch((e: unknown) => e);
    expect(isStowdError(declared, "LIMIT_EXCEEDED")).toBe(true);
    expect(String((declared as Error).message)).toMatch(
      /declared size is 2097153 bytes.*at most 2097152 bytes per object \(the memory store's maxObjectBytes\).*nothing was stored/,
    );
    const streamed = await store.write(at("streamed"), body(2 * MiB + 1), options(), never).catch((e: unknown) => e);
    expect(isStowdError(streamed, "LIMIT_EXCEEDED")).toBe(true);
    expect(await store.head(at("declared"), never)).toBeUndefined();
    expect(await store.head(at("streamed"), never)).toBeUndefined();
    // Appends count the object's bytes too.
    await store.write(at("grown"), body(2 * MiB - 1), options(), never);
    await store.append(at("grown"), body(1), { createIfMissing: false, contentType: "" }, never);
    const over = await store.append(at("grown"), body(1), { createIfMissing: false, contentType: "" }, never).catch((e: unknown) => e);
    expect(isStowdError(over, "LIMIT_EXCEEDED")).toBe(true);
    expect((await store.head(at("grown"), never))?.size).toBe(2 * MiB);
    // The default limit is the memory the daemon can have.
    const unbounded = await createMemoryStore()
      .write(at("x"), body(1), options(Number.MAX_SAFE_INTEGER), never)
      .catch((e: unknown) => e);
    expect(isStowdError(unbounded, "LIMIT_EXCEEDED")).toBe(true);
    expect(String((unbounded as Error).message)).toMatch(/\((the machine's memory|the daemon's cgroup memory limit)\)/);
  });

  it("reads segments with room in front for the message header, and keeps a mostly empty last segment no larger than its bytes", async () => {
    const store = createMemoryStore();
    const data = randomBytes(MiB + 10);
    async function* twoChunks() {
      yield data.subarray(0, MiB);
      yield data.subarray(MiB);
    }
    await store.write(at("framed"), twoChunks(), options(), never);
    const read = await store.read(at("framed"), {}, never);
    const chunks: Uint8Array[] = [];
    for await (const chunk of read.body) chunks.push(chunk);
    expect(chunks.map((c) => c.length)).toEqual([MiB, 10]);
    for (const chunk of chunks) expect(headroomOf(chunk)).toBeGreaterThanOrEqual(6);
    // The 10-byte tail was copied out of the 1 MiB segment it was written into.
    expect((chunks[1] as Uint8Array).buffer.byteLength).toBeLessThan(100);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it("keeps bytes, ranges and 1 MiB read chunks right across segments built by writes of odd chunks and by appends", async () => {
    const store = createMemoryStore();
    const data = randomBytes(3 * MiB + 12345);
    async function* pieces(bytes: Uint8Array, sizes: number[]) {
      let at = 0;
      for (let i = 0; at < bytes.length; i++) {
        const n = sizes[i % sizes.length] as number;
        yield bytes.subarray(at, at + n);
        at += n;
      }
    }
    for (const [name, size] of [
      ["declared", data.length],
      ["undeclared", undefined],
    ] as const) {
      await store.write(at(name), pieces(data, [1, 70_000, 1 << 20, 3, 500_000]), options(size), never);
      const whole = await readAll(store, at(name));
      expect(whole.bytes.equals(data)).toBe(true);
      expect(whole.sizes).toEqual([MiB, MiB, MiB, 12345]);
      const range = await readAll(store, at(name), { offset: MiB - 10, length: MiB + 20, suffixLength: 0 });
      expect(range.bytes.equals(data.subarray(MiB - 10, 2 * MiB + 10))).toBe(true);
      expect(Math.max(...range.sizes)).toBeLessThanOrEqual(MiB);
    }
    // Appends of assorted sizes, some crossing segment boundaries.
    const appended: Buffer[] = [];
    for (const n of [0, 1, 10, 70_000, MiB - 5, 3, 2 * MiB + 1, 100, MiB]) {
      const chunk = randomBytes(n);
      appended.push(chunk);
      await store.append(at("log"), pieces(chunk, [4096, 100_000]), { createIfMissing: true, contentType: "" }, never);
      const expected = Buffer.concat(appended);
      const read = await readAll(store, at("log"));
      expect(read.bytes.equals(expected)).toBe(true);
      expect(Math.max(0, ...read.sizes)).toBeLessThanOrEqual(MiB);
      const tail = await readAll(store, at("log"), { offset: 0, length: 0, suffixLength: 7 });
      expect(tail.bytes.equals(expected.subarray(Math.max(0, expected.length - 7)))).toBe(true);
    }
    // A copy shares the bytes and keeps them when the source is appended to.
    const before = Buffer.concat(appended);
    await store.copy(at("log"), at("log-copy"), { preconditions: {} }, never);
    await store.append(at("log"), pieces(Buffer.from("more"), [4]), { createIfMissing: false, contentType: "" }, never);
    expect((await readAll(store, at("log-copy"))).bytes.equals(before)).toBe(true);
    expect((await readAll(store, at("log"))).bytes.equals(Buffer.concat([before, Buffer.from("more")]))).toBe(true);
  });
});
