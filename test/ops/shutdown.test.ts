// SIGTERM to a real daemon process with streams in progress
// (server.shutdownGrace: 1.5s): new calls are refused at once; a write and a
// read that finish within the grace period succeed; a write that does not is
// cancelled with UNAVAILABLE saying why, and leaves nothing behind on disk;
// the process exits 0 shortly after the grace period.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Code, createStowdClient, type StowdClient } from "../../client/index.js";
import { startChildDaemon, type ChildDaemon } from "./child-daemon.js";
import { MiB, rejection, stalledBody } from "./clients.js";

const GRACE_MS = 1500;
let daemon: ChildDaemon;
let client: StowdClient;

beforeAll(async () => {
  daemon = await startChildDaemon([`shutdownGrace: ${GRACE_MS}ms`]);
  client = createStowdClient({ baseUrl: daemon.grpcUrl });
}, 60_000);
afterAll(async () => {
  client?.close();
  await daemon?.cleanup();
});

it("lets streams finish within the grace period, cancels the rest with UNAVAILABLE, and leaves no partial object", async () => {
  const object = Buffer.alloc(8 * MiB, 3);
  await client.write("file://b/readable", object);

  const first = Buffer.alloc(MiB, 1);
  const rest = Buffer.alloc(2 * MiB, 2);
  let finish!: (rest: Uint8Array) => void;
  const finishing = client.write("file://b/finished", stalledBody(first, new Promise((r) => (finish = r))));
  // Its rejection is taken at once: it comes at the end of the grace period, maybe before the reader is done.
  const abandoned = rejection(client.write("file://b/abandoned", stalledBody(first, new Promise(() => {}))));
  // A steady reader: one chunk every 100 ms (the client has the bytes long before it has read them all).
  const reading = (async () => {
    const handle = await client.read("file://b/readable");
    let bytes = 0;
    for await (const chunk of handle.chunks) {
      bytes += chunk.length;
      await sleep(100);
    }
    return bytes;
  })();
  await expect.poll(() => daemon.logs().length).toBeGreaterThan(0);
  await sleep(300); // all three streams are open and have moved data

  const stopAt = Date.now();
  daemon.signal("SIGTERM");
  await sleep(200);

  // New calls are refused while the old ones run.
  const fresh = createStowdClient({ baseUrl: daemon.grpcUrl });
  try {
    expect((await rejection(fresh.head("file://b/readable"))).code).toBe(Code.Unavailable);
  } finally {
    fresh.close();
  }

  // Finished within the grace period: stored whole.
  finish(rest);
  expect((await finishing).size).toBe(3 * MiB);
  expect(await reading).toBe(8 * MiB);

  // Not finished: cancelled with a status that says why.
  const err = await abandoned;
  expect(err.code).toBe(Code.Unavailable);
  expect(err.message).toContain("ran past the grace period of 1.5s (server.shutdownGrace)");
  expect(err.message).toContain("an unfinished write stores nothing");

  expect(await daemon.exited).toBe(0);
  const stoppedAfter = Date.now() - stopAt;
  expect(stoppedAfter).toBeGreaterThanOrEqual(GRACE_MS - 100);
  expect(stoppedAfter).toBeLessThan(GRACE_MS + 3000);

  // On disk: the finished object, whole; nothing of the abandoned one, no temp file.
  const stored = await readFile(join(daemon.dataDir, "b", "finished"));
  expect(stored.equals(Buffer.concat([first, rest]))).toBe(true);
  const files = (await readdir(daemon.dataDir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(daemon.dataDir.length + 1));
  expect(files.filter((f) => !f.startsWith(".stowd/meta/")).sort()).toEqual(["b/finished", "b/readable"]);

  // The log tells the story: the stop, the cancellation, the calls' outcomes.
  const logs = daemon.logs();
  expect(logs.find((l) => l.msg === "stopping")).toMatchObject({ signal: "SIGTERM", graceMs: GRACE_MS });
  expect(logs.find((l) => l.msg === "cancelling calls still running after the grace period")).toMatchObject({ calls: 1 });
  const calls = logs.filter((l) => l.msg === "call");
  expect(calls.find((l) => l.reference === "file://b/abandoned")).toMatchObject({
    op: "RawStoreService/WriteRaw",
    code: "UNAVAILABLE",
    bytesIn: MiB,
  });
  expect(calls.find((l) => l.reference === "file://b/finished")).toMatchObject({ code: "OK", bytesIn: 3 * MiB });
}, 60_000);
