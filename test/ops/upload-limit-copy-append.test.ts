// server.maxUploadMBs bounds every object a call creates or grows, not only
// WriteRaw's body: an Append may not make its object larger than the limit
// (old size + appended bytes), and a CopyRaw may not create one (the
// source's size), on every backend, through both listeners; a rejected call
// stores nothing. Plus the memory store through the daemon: a declared size
// reserves nothing, and a size past what mem:// can hold, or past Node's
// largest Buffer, is answered clearly, never with INTERNAL.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ErrorReason } from "../../client/index.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import type { Ref } from "../../server/references/reference.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { listenersOf, MiB, rejection, stalledBody, type Listener } from "./clients.js";
import { never } from "../helpers/store-calls.js";

const GiB = 1024 * MiB;

async function* once(bytes: Uint8Array) {
  yield bytes;
}

describe("server.maxUploadMBs = 1 on Append and CopyRaw", () => {
  let daemon: TestDaemon;
  let listeners: Listener[];
  // mem:// is a store the test can also fill directly, past the daemon's limit.
  const mem = createMemoryStore();
  const big = (key: string): Ref => ({ scheme: "mem", container: "src", authority: "src", key });

  beforeAll(async () => {
    daemon = await startTestDaemon({ limits: { maxUploadBytes: MiB }, backends: { mem: builtBackend(mem) } });
    listeners = listenersOf(daemon);
    const options = { contentType: "", metadata: {}, preconditions: {} };
    await mem.write(big("over"), once(new Uint8Array(MiB + 1)), options, never);
    await mem.write(big("exact"), once(new Uint8Array(MiB)), options, never);
  });
  afterAll(async () => {
    for (const l of listeners ?? []) l.close();
    await daemon?.close();
  });

  for (const name of ["grpc port", "http port"] as const) {
    const client = () => (listeners.find((l) => l.name === name) as Listener).client;
    const tag = name.replace(" ", "-");

    it(`${name}: an Append that would make the object larger than the limit is RESOURCE_EXHAUSTED and appends nothing`, async () => {
      for (const scheme of ["mem", "file"]) {
        const ref = `${scheme}://b/${tag}-log`;
        // Repeated appends, each well under the limit, up to exactly the limit.
        for (let i = 0; i < 4; i++) await client().append(ref, new Uint8Array(MiB / 4).fill(i), { createIfMissing: true });
        expect((await client().head(ref))?.size).toBe(MiB);
        const before = await client().head(ref);
        for (const options of [{}, { expectedOffset: MiB }, { ifMatchEtag: before?.etag ?? "" }]) {
          const err = await rejection(client().append(ref, "x", options));
          expect(err.code).toBe(Code.ResourceExhausted);
          expect(err.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
          expect(err.message).toBe(
            `[resource_exhausted] the append to ${ref} would make it ${MiB + 1} bytes, which exceeds the upload limit of ${MiB} bytes (server.maxUploadMBs = 1); nothing was appended`,
          );
          expect(err.detail?.limit).toBe(BigInt(MiB));
          expect(err.detail?.size).toBe(BigInt(MiB + 1));
        }
        // A streamed append that passes the limit midway fails too, and leaves the object as it was.
        await client().write(ref, new Uint8Array(MiB - 10));
        const kept = await client().head(ref);
        const midway = await rejection(client().append(ref, stalledBody(new Uint8Array(5), Promise.resolve(new Uint8Array(6)))));
        expect(midway.code).toBe(Code.ResourceExhausted);
        expect(await client().head(ref)).toEqual(kept);
        // Up to the limit is fine.
        expect((await client().append(ref, new Uint8Array(10))).size).toBe(MiB);
      }
    });

    it(`${name}: a CopyRaw of a source larger than the limit is RESOURCE_EXHAUSTED and creates nothing, server-side or streamed`, async () => {
      for (const destination of [`mem://b/${tag}-copy`, `file://b/${tag}-copy`]) {
        const err = await rejection(client().copy("mem://src/over", destination));
        expect(err.code).toBe(Code.ResourceExhausted);
        expect(err.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
        expect(err.message).toBe(
          `[resource_exhausted] the copy of mem://src/over (${MiB + 1} bytes) to ${destination} exceeds the upload limit of ${MiB} bytes (server.maxUploadMBs = 1); nothing was copied`,
        );
        expect(err.detail?.limit).toBe(BigInt(MiB));
        expect(await client().head(destination)).toBeUndefined();
        // Exactly the limit copies; the caller's own source etag still counts.
        expect((await client().copy("mem://src/exact", destination)).size).toBe(MiB);
        const stale = await rejection(client().copy("mem://src/exact", destination, { ifSourceMatchEtag: "stale" }));
        expect(stale.code).toBe(Code.FailedPrecondition);
        expect((await rejection(client().copy("mem://src/missing", destination))).code).toBe(Code.NotFound);
      }
    });
  }

  it("queues concurrent appends to one object instead of failing them", async () => {
    const [{ client }] = listeners as [Listener];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => client.append("mem://b/shared-log", new Uint8Array(1024).fill(i), { createIfMissing: true })),
    );
    expect((await client.head("mem://b/shared-log"))?.size).toBe(8 * 1024);
  });

  it("answers an append whose object another writer replaced meanwhile with a retryable UNAVAILABLE, appending nothing", async () => {
    const [{ client }] = listeners as [Listener];
    await client.write("mem://b/raced", "12345");
    let release!: (chunk: Uint8Array) => void;
    const append = client.append(
      "mem://b/raced",
      stalledBody(new Uint8Array([1]), new Promise<Uint8Array>((resolve) => (release = resolve))),
    );
    await sleep(200); // the append has checked the size (5) and waits for its body
    await client.write("mem://b/raced", "replaced");
    release(new Uint8Array([2]));
    const err = await rejection(append);
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toContain("was changed by another writer during the append; nothing was appended, retry the call");
    expect(Buffer.from(await client.readBytes("mem://b/raced")).toString()).toBe("replaced");
  });
});

describe("mem:// through the daemon: declared sizes", () => {
  let daemon: TestDaemon;
  let listeners: Listener[];
  beforeAll(async () => {
    daemon = await startTestDaemon();
    listeners = listenersOf(daemon);
  });
  afterAll(async () => {
    for (const l of listeners ?? []) l.close();
    await daemon?.close();
  });

  it("a WriteRaw declaring 3 GiB that sends a few bytes and is cancelled holds a few bytes, not 3 GiB", async () => {
    const [{ client }] = listeners as [Listener];
    const before = process.memoryUsage().arrayBuffers;
    const cancel = new AbortController();
    const write = client.write("mem://b/declared-3gib", stalledBody(new Uint8Array([1, 2, 3]), new Promise(() => {})), {
      size: 3 * GiB,
      signal: cancel.signal,
    });
    await sleep(300); // the daemon has the header and the first bytes
    const held = process.memoryUsage().arrayBuffers - before;
    cancel.abort();
    expect((await rejection(write)).code).toBe(Code.Canceled);
    expect(held).toBeLessThan(64 * MiB);
    expect(await client.head("mem://b/declared-3gib")).toBeUndefined();
  });

  for (const name of ["grpc port", "http port"] as const) {
    it(`${name}: a declared size over 4 GiB is not INTERNAL; one past the daemon's memory is RESOURCE_EXHAUSTED naming the limit`, async () => {
      const client = (listeners.find((l) => l.name === name) as Listener).client;
      // Past Node's largest Buffer: accepted, then held to the declared size like on any backend.
      const short = await rejection(
        client.write("mem://b/declared-5gib", stalledBody(new Uint8Array(3), Promise.resolve(undefined)), { size: 5 * GiB }),
      );
      expect(short.code).toBe(Code.InvalidArgument);
      expect(short.message).toContain(`ended after 3 bytes but declared ${5 * GiB}; nothing was stored`);
      // Past the memory the daemon can have: refused from the header.
      const huge = 2 ** 50;
      const err = await rejection(
        client.write("mem://b/declared-1pib", stalledBody(new Uint8Array(3), Promise.resolve(undefined)), { size: huge }),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
      expect(err.message).toMatch(
        new RegExp(
          `^\\[resource_exhausted\\] mem://b/declared-1pib is too large for the memory store: its declared size is ${huge} bytes, and mem:// keeps every object in the daemon's memory, at most \\d+ bytes per object \\((the machine's memory|the daemon's cgroup memory limit)\\); store it on a disk or cloud backend; nothing was stored$`,
        ),
      );
      expect(Number(err.detail?.limit)).toBeGreaterThan(0);
      expect(await client.head("mem://b/declared-1pib")).toBeUndefined();
    });
  }
});
