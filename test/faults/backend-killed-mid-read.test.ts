// Backends killed in the middle of a ReadRaw: redis-server and the Ceph S3
// gateway (radosgw) are SIGKILLed while clients on both daemon ports are
// reading a multi-MiB object slowly (gRPC on both ports, Connect on HTTP/1.1). Each client's stream must end with an
// error status — never OK with fewer bytes — and the bytes it got must be a
// correct prefix; mem:// and file:// on the same daemon keep serving during
// the outage; and once the backend is back on the same port the daemon
// serves that scheme again without a restart.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { createRedisStore } from "../../server/stores/redis/index.js";
import { createS3Store } from "../../server/stores/s3/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { startCephRgw, type CephRgw } from "../servers/ceph-rgw.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";
import { createSeededVerifier, seededChunks } from "./seeded-bytes.js";

const MiB = 1024 * 1024;
const SIZE = 48 * MiB;
// Short enough that a dead backend fails the call in seconds, long enough for real work.
const RETRY = { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, attemptTimeoutMs: 2_000, totalTimeoutMs: 5_000 };

type RawClient = Client<typeof RawStoreService>;

let redis: RedisServer;
let rgw: CephRgw;
let daemon: TestDaemon;
let clients: Array<{ port: string; client: RawClient }>;

beforeAll(async () => {
  [redis, rgw] = await Promise.all([startRedisServer(), startCephRgw({ bucket: "faults" })]);
  daemon = await startTestDaemon({
    backends: {
      redis: builtBackend(createRedisStore({ addr: redis.addr, retry: RETRY })),
      s3: builtBackend(
        createS3Store({
          endpoint: rgw.endpoint,
          region: rgw.region,
          credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
          retry: RETRY,
        }),
      ),
    },
  });
  // Default (64 KiB) HTTP/2 windows: the daemon can run only a little ahead of a slow reader.
  clients = [
    { port: "gRPC port", client: createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl })) },
    { port: "HTTP port", client: createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.httpUrl })) },
    // The Connect protocol over HTTP/1.1: the error travels in the end-of-stream message, not in trailers.
    {
      port: "HTTP port, Connect/HTTP 1.1",
      client: createClient(
        RawStoreService,
        createConnectTransport({ baseUrl: daemon.httpUrl, httpVersion: "1.1", useBinaryFormat: true, acceptCompression: [] }),
      ),
    },
  ];
}, 120_000);

afterAll(async () => {
  await daemon?.close();
  await Promise.all([redis?.stop(), rgw?.stop()]);
});

async function writeSeeded(client: RawClient, reference: string, seed: string, size: number): Promise<void> {
  await client.writeRaw(
    (async function* () {
      yield { body: { case: "header" as const, value: { reference, size: BigInt(size) } } };
      for (const chunk of seededChunks(seed, size)) yield { body: { case: "chunk" as const, value: chunk } };
    })(),
  );
}

async function readBack(client: RawClient, reference: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const m of client.readRaw({ reference })) if (m.body.case === "chunk") parts.push(m.body.value);
  return Buffer.concat(parts);
}

interface SlowRead {
  /** Resolves once `bytes` have arrived. */
  started: Promise<void>;
  /** How the stream ended: "OK" or the error, with the bytes received and whether they matched. */
  done: Promise<{ end: "OK" | ConnectError; received: number; firstMismatch: number; headerLength: number }>;
}

/** Reads `reference` slowly (a pause after every chunk) and checks every byte against `seed`. */
function slowRead(client: RawClient, reference: string, seed: string, startedAfter: number): SlowRead {
  let onStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const done = (async () => {
    const verifier = createSeededVerifier(seed);
    let headerLength = -1;
    try {
      for await (const m of client.readRaw({ reference })) {
        if (m.body.case === "header") headerLength = Number(m.body.value.length);
        if (m.body.case !== "chunk") continue;
        verifier.update(m.body.value);
        if (verifier.length >= startedAfter) onStarted();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      onStarted();
      return { end: "OK" as const, received: verifier.length, firstMismatch: verifier.firstMismatch, headerLength };
    } catch (err) {
      onStarted();
      if (!(err instanceof ConnectError)) throw err;
      return { end: err, received: verifier.length, firstMismatch: verifier.firstMismatch, headerLength };
    }
  })();
  return { started, done };
}

async function expectOtherSchemesServe(label: string): Promise<void> {
  for (const { client } of clients) {
    for (const scheme of ["mem", "file"]) {
      const reference = `${scheme}://b/during-${label}-outage`;
      await writeSeeded(client, reference, `${scheme}-${label}`, 256 * 1024);
      expect((await readBack(client, reference)).length).toBe(256 * 1024);
    }
  }
}

/** Retries a write + read on `scheme` until the daemon serves it again; returns how long that took. */
async function waitUntilServed(scheme: string, budgetMs: number): Promise<number> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < budgetMs) {
    try {
      for (const { client } of clients) {
        const reference = `${scheme}://faults/after-restart`;
        await writeSeeded(client, reference, "after", MiB);
        const back = await readBack(client, reference);
        expect(back.length).toBe(MiB);
      }
      return Date.now() - started;
    } catch (err) {
      last = err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`${scheme}:// was not served again within ${budgetMs} ms after the backend came back: ${String(last)}`);
}

describe.each([
  {
    scheme: "redis",
    kill: () => redis.stop(),
    restart: async () => (redis = await startRedisServer([], { port: redis.port })),
    keepsData: false,
  },
  { scheme: "s3", kill: () => rgw.killGateway(), restart: () => rgw.restartGateway(), keepsData: true },
])("$scheme backend killed mid-ReadRaw", ({ scheme, kill, restart, keepsData }) => {
  const reference = `${scheme}://faults/big-object`;
  const seed = `${scheme}-big`;

  it("ends every open stream with an error status and a correct prefix, keeps mem:// and file:// serving, and recovers on restart", async () => {
    await writeSeeded(clients[0]!.client, reference, seed, SIZE);
    const reads = clients.map(({ port, client }) => ({ port, read: slowRead(client, reference, seed, 2 * MiB) }));
    await Promise.all(reads.map((r) => r.read.started));
    const killedAt = Date.now();
    await kill();
    const lines: string[] = [];
    for (const { port, read } of reads) {
      const result = await read.done;
      const end = result.end === "OK" ? "OK" : `${Code[result.end.code]} (${result.end.rawMessage.slice(0, 160)})`;
      lines.push(`${port}: ${result.received} of ${SIZE} bytes, ended ${end}, ${Date.now() - killedAt} ms after the kill`);
      expect(result.headerLength).toBe(SIZE);
      expect(result.firstMismatch, `${port}: byte ${result.firstMismatch} is wrong`).toBe(-1);
      expect(result.end, `${port}: the stream ended OK after ${result.received} of ${SIZE} bytes`).toBeInstanceOf(ConnectError);
      expect(result.received).toBeLessThan(SIZE);
      expect([Code.Unavailable, Code.DeadlineExceeded, Code.Internal, Code.Aborted]).toContain((result.end as ConnectError).code);
    }
    console.log(`${scheme} killed mid-ReadRaw:\n  ${lines.join("\n  ")}`);

    // While the backend is down: its scheme fails cleanly, the others serve.
    const head = await clients[0]!.client.head({ reference }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(head).toBeInstanceOf(ConnectError);
    expect([Code.Unavailable, Code.DeadlineExceeded]).toContain((head as ConnectError).code);
    await expectOtherSchemesServe(scheme);

    await restart();
    const recoveredMs = await waitUntilServed(scheme, 20_000);
    console.log(`${scheme}:// served again ${recoveredMs} ms after the backend answered (no daemon restart)`);
    if (keepsData) {
      // Ceph kept the object (only the gateway died): it reads whole and correct.
      const verifier = createSeededVerifier(seed);
      for await (const m of clients[1]!.client.readRaw({ reference })) if (m.body.case === "chunk") verifier.update(m.body.value);
      expect(verifier.length).toBe(SIZE);
      expect(verifier.firstMismatch).toBe(-1);
    }
  });
});
