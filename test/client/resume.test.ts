// A read that outlives its daemon: the daemon process is killed (SIGKILL)
// while a large object streams slowly to the SDK, then started again on the
// same port and data directory. The SDK resumes from the last byte it
// received, pinned to the object's etag: the bytes equal the ones written,
// and an object replaced while the stream was broken fails the read instead
// of splicing two versions.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createStowdClient, createStowdTransport, ErrorReason, type StowdClient, type StowdTransport } from "../../client/index.js";
import type { Child } from "../helpers/child-process.js";
import { freePort } from "../helpers/free-port.js";
import { clientRejection } from "../helpers/rejections.js";
import { DAEMON_COMMAND, startServingProcess } from "../helpers/serving-daemon.js";

const MiB = 1024 * 1024;
const SIZE = 32 * MiB;

/** A daemon process on fixed ports and a fixed file:// directory, so it can be killed and started again as the same daemon. */
interface RestartableDaemon {
  grpcUrl: string;
  start(): Promise<void>;
  /** SIGKILL: no shutdown code runs, open streams break. */
  kill(): Promise<void>;
  cleanup(): Promise<void>;
}

async function restartableDaemon(): Promise<RestartableDaemon> {
  const dir = await mkdtemp(join(tmpdir(), "stowd-resume-"));
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const config = join(dir, "stowd.yaml");
  await writeFile(
    config,
    [
      "storage:",
      "  type: local",
      "  stow:",
      "    kind: local",
      "    config:",
      `      path: ${join(dir, "data")}`,
      "  enable-multicontainer: true",
      "  limits:",
      "    maxDownloadMBs: 0",
      "server:",
      `  grpcAddress: 127.0.0.1:${grpcPort}`,
      `  httpAddress: 127.0.0.1:${httpPort}`,
      "",
    ].join("\n"),
  );
  let child: Child | undefined;
  return {
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    async start() {
      child = (await startServingProcess([...DAEMON_COMMAND, "--config", config])).child;
    },
    async kill() {
      await child?.kill();
    },
    async cleanup() {
      await child?.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let daemon: RestartableDaemon;
let transport: StowdTransport;
let client: StowdClient;
/** Every ReadRaw the SDK started: the range it asked for, undefined for a whole object. */
const readCalls: Array<{ offset: number; length: number } | undefined> = [];

const countReads: Interceptor = (next) => (req) => {
  if (req.method.name !== "ReadRaw" || !req.stream) return next(req);
  const messages = req.message as AsyncIterable<{ range?: { offset: bigint; length: bigint } }>;
  async function* recorded() {
    for await (const message of messages) {
      const { range } = message;
      readCalls.push(range === undefined ? undefined : { offset: Number(range.offset), length: Number(range.length) });
      yield message;
    }
  }
  return next({ ...req, message: recorded() } as typeof req);
};

beforeAll(async () => {
  daemon = await restartableDaemon();
  await daemon.start();
  transport = createStowdTransport({ baseUrl: daemon.grpcUrl, interceptors: [countReads] });
  // Enough patience for a daemon restart (a few seconds under tsx), bounded by the deadline.
  client = createStowdClient({ transport, timeoutMs: 60_000, retry: { maxAttempts: 100, initialDelayMs: 50, maxDelayMs: 250 } });
}, 60_000);

afterAll(async () => {
  transport?.close();
  await daemon?.cleanup();
});

/** Waits until `chunks` has handed out at least `bytes` bytes, keeping them; the stream then stalls until read again. */
async function readAtLeast(chunks: AsyncIterator<Uint8Array>, kept: Uint8Array[], bytes: number): Promise<void> {
  let have = kept.reduce((sum, c) => sum + c.byteLength, 0);
  while (have < bytes) {
    const next = await chunks.next();
    if (next.done === true) throw new Error(`the stream ended after ${have} bytes, before the daemon was killed`);
    kept.push(next.value);
    have += next.value.byteLength;
  }
}

async function readRest(chunks: AsyncIterator<Uint8Array>, kept: Uint8Array[]): Promise<void> {
  for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) kept.push(next.value);
}

describe("a daemon restarted mid-read", () => {
  it("resumes from the last byte received and hands out exactly the bytes written", async () => {
    const ref = "file://resume/whole";
    const data = new Uint8Array(randomBytes(SIZE));
    const written = await client.write(ref, data);
    readCalls.length = 0;

    const handle = await client.read(ref);
    expect(handle.length).toBe(SIZE);
    const chunks = handle.chunks[Symbol.asyncIterator]();
    const kept: Uint8Array[] = [];
    // 2 MiB in, the daemon is blocked on flow control with most of the object unsent.
    await readAtLeast(chunks, kept, 2 * MiB);
    await daemon.kill();
    // Keep reading while the daemon is down: the SDK retries until it is back.
    await Promise.all([readRest(chunks, kept), daemon.start()]);

    const read = Buffer.concat(kept);
    expect(read.byteLength).toBe(SIZE);
    expect(read.equals(data)).toBe(true);
    expect(handle.info.etag).toBe(written.etag);
    // The first call plus at least one resumption for the remaining range.
    expect(readCalls[0]).toBeUndefined();
    expect(readCalls.length).toBeGreaterThanOrEqual(2);
    // Each resumption asks for exactly the rest of the object.
    for (const range of readCalls.slice(1)) expect(range === undefined ? -1 : range.offset + range.length).toBe(SIZE);
  });

  it("resumes a ranged read within its range", async () => {
    const ref = "file://resume/ranged";
    const data = new Uint8Array(randomBytes(SIZE));
    await client.write(ref, data);
    readCalls.length = 0;
    const [offset, length] = [3 * MiB + 17, 20 * MiB];

    const handle = await client.read(ref, { range: { offset, length } });
    const chunks = handle.chunks[Symbol.asyncIterator]();
    const kept: Uint8Array[] = [];
    await readAtLeast(chunks, kept, MiB);
    await daemon.kill();
    await daemon.start();
    await readRest(chunks, kept);

    expect(Buffer.concat(kept).equals(data.subarray(offset, offset + length))).toBe(true);
    expect(readCalls.length).toBeGreaterThanOrEqual(2);
    for (const range of readCalls) expect(range === undefined ? -1 : range.offset + range.length).toBe(offset + length);
  });

  it("fails with a clear error, not spliced bytes, when the object was replaced while the stream was broken", async () => {
    const ref = "file://resume/replaced";
    const first = new Uint8Array(randomBytes(SIZE));
    const second = new Uint8Array(randomBytes(SIZE));
    await client.write(ref, first);

    const handle = await client.read(ref);
    const chunks = handle.chunks[Symbol.asyncIterator]();
    const kept: Uint8Array[] = [];
    await readAtLeast(chunks, kept, 2 * MiB);
    await daemon.kill();
    await daemon.start();
    const replaced = await client.write(ref, second);
    expect(replaced.etag).not.toBe(handle.info.etag);

    const error = await clientRejection(readRest(chunks, kept));
    expect(error.code, error.message).toBe(Code.FailedPrecondition);
    expect(error.reason).toBe(ErrorReason.PRECONDITION_FAILED);
    expect(error.message).toContain("the object changed during the read");
    expect(error.reference).toBe(ref);
    // What was handed out before the failure is a prefix of the first version only.
    const handedOut = Buffer.concat(kept);
    expect(handedOut.byteLength).toBeLessThan(SIZE);
    expect(handedOut.equals(first.subarray(0, handedOut.byteLength))).toBe(true);
    // readBytes, which only returns a whole object, reads the new version whole.
    expect(Buffer.from(await client.readBytes(ref)).equals(second)).toBe(true);
  });
});
