// Tarpit backends, end to end: S3, Redis and Azure endpoints that accept
// connections and never answer, behind a real daemon. The bound tested is
// the client's deadline (grpc-timeout), since that is what a caller sets: the
// call must end with DEADLINE_EXCEEDED within the deadline plus 10%, sent by
// the daemon (the hand-made calls below have no timer of their own), and the
// daemon must let go of the call (nothing left in flight). Without a client
// deadline, the backend's configured total timeout bounds the call the same way.
import net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HeadRequestSchema,
  ListRequestSchema,
  RawStoreService,
  ReadRawRequestSchema,
  WriteRawRequestSchema,
} from "../../gen/stowd/v1/raw_store_pb.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { createAzureStore } from "../../server/stores/azure/index.js";
import { createRedisStore } from "../../server/stores/redis/index.js";
import type { RetryPolicy } from "../../server/stores/kit/retry.js";
import { createS3Store } from "../../server/stores/s3/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { grpcFrame, rawGrpcCall } from "./raw-grpc.js";

const DEADLINE_MS = 3_000;
const SLACK = 1.1; // the deadline plus 10%
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

interface Tarpit {
  port: number;
  accepted: () => number;
  close(): Promise<void>;
}

/** Accepts TCP connections, reads whatever arrives, never writes a byte. */
async function startTarpit(): Promise<Tarpit> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function backendsOn(tarpit: Tarpit, retry: Partial<RetryPolicy> = {}) {
  const endpoint = `http://127.0.0.1:${tarpit.port}`;
  return {
    s3: builtBackend(createS3Store({ endpoint, credentials: { accessKeyId: "a", secretAccessKey: "b" }, retry })),
    redis: builtBackend(createRedisStore({ addr: `127.0.0.1:${tarpit.port}`, retry })),
    abfs: builtBackend(
      createAzureStore({ account: "devstoreaccount1", key: AZURITE_KEY, endpoint: `${endpoint}/devstoreaccount1`, retry }),
    ),
  };
}

const REFERENCES = ["s3://bucket/k", "redis://any/k", "abfs://container@devstoreaccount1/k"];

function calls(reference: string): Array<{ name: string; path: string; body: Buffer[] }> {
  const frame = <T>(schema: Parameters<typeof create>[0], value: T) => grpcFrame(toBinary(schema, create(schema, value as never)));
  const prefix = reference.replace(/k$/, "");
  return [
    { name: "Head", path: "/stowd.v1.RawStoreService/Head", body: [frame(HeadRequestSchema, { reference })] },
    { name: "ReadRaw", path: "/stowd.v1.RawStoreService/ReadRaw", body: [frame(ReadRawRequestSchema, { reference })] },
    {
      name: "WriteRaw",
      path: "/stowd.v1.RawStoreService/WriteRaw",
      body: [
        frame(WriteRawRequestSchema, { body: { case: "header", value: { reference, size: 5n } } }),
        frame(WriteRawRequestSchema, { body: { case: "chunk", value: Buffer.from("hello") } }),
      ],
    },
    { name: "List", path: "/stowd.v1.RawStoreService/List", body: [frame(ListRequestSchema, { reference: prefix, pageSize: 10 })] },
  ];
}

async function inFlight(daemon: TestDaemon): Promise<number> {
  const gauge = await daemon.metrics.rpcInFlight.get();
  return gauge.values.reduce((sum, v) => sum + v.value, 0);
}

async function settle(daemon: TestDaemon): Promise<number> {
  // The daemon drops an expired call at once; give the event loop a moment to count it.
  for (let i = 0; i < 50 && (await inFlight(daemon)) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return inFlight(daemon);
}

describe("tarpit backends behind the daemon", () => {
  let tarpit: Tarpit;
  let daemon: TestDaemon;

  beforeAll(async () => {
    tarpit = await startTarpit();
    // The backends' own timeouts (30 s per attempt by default) are far off: the client's deadline decides.
    daemon = await startTestDaemon({ backends: backendsOn(tarpit) });
  });
  afterAll(async () => {
    await daemon.close();
    await tarpit.close();
  });

  it(`fails Head, ReadRaw, WriteRaw and List with DEADLINE_EXCEEDED within the client's deadline + 10% (${DEADLINE_MS} ms), on both ports`, async () => {
    const results: string[] = [];
    for (const url of [daemon.grpcUrl, daemon.httpUrl]) {
      const all = REFERENCES.flatMap((reference) => calls(reference).map((c) => ({ ...c, reference })));
      const outcomes = await Promise.all(
        all.map(async (c) => ({
          ...c,
          result: await rawGrpcCall(url, c.path, c.body, { headers: { "grpc-timeout": `${DEADLINE_MS}m` }, giveUpMs: 10_000 }),
        })),
      );
      for (const { name, reference, result } of outcomes) {
        const label = `${url === daemon.grpcUrl ? "grpc" : "http"} ${name} ${reference}`;
        results.push(`${label}: ${result.grpcStatus} in ${result.elapsedMs} ms`);
        expect(result.error, label).toBeUndefined();
        expect(result.grpcStatus, `${label}: ${result.grpcMessage}`).toBe(Code.DeadlineExceeded);
        expect(result.elapsedMs, label).toBeLessThanOrEqual(DEADLINE_MS * SLACK);
        // It did wait for the deadline: nothing failed early for another reason.
        expect(result.elapsedMs, label).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
      }
    }
    console.log(`tarpit, client deadline ${DEADLINE_MS} ms:\n  ${results.join("\n  ")}`);
    expect(tarpit.accepted()).toBeGreaterThan(0);
    expect(await settle(daemon)).toBe(0);
  });

  it("gives the SDK-style client DEADLINE_EXCEEDED too, and other schemes keep serving meanwhile", async () => {
    const client = createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl }));
    const started = Date.now();
    const stuck = client.head({ reference: "s3://bucket/k" }, { timeoutMs: DEADLINE_MS }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // While it hangs on the tarpit, mem:// and file:// answer at once.
    const write = await client.writeRaw(
      (async function* () {
        yield { body: { case: "header" as const, value: { reference: "file://b/during-tarpit" } } };
        yield { body: { case: "chunk" as const, value: Buffer.from("ok") } };
      })(),
    );
    expect(Number(write.info?.size)).toBe(2);
    expect((await client.head({ reference: "mem://b/x" })).exists).toBe(false);
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
    const err = await stuck;
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThanOrEqual(DEADLINE_MS * SLACK);
    expect(await settle(daemon)).toBe(0);
  });
});

describe("tarpit backends without a client deadline", () => {
  const TOTAL_MS = 2_000;
  let tarpit: Tarpit;
  let daemon: TestDaemon;

  beforeAll(async () => {
    tarpit = await startTarpit();
    daemon = await startTestDaemon({
      backends: backendsOn(tarpit, { attempts: 3, attemptTimeoutMs: 800, totalTimeoutMs: TOTAL_MS, baseDelayMs: 10, maxDelayMs: 20 }),
    });
  });
  afterAll(async () => {
    await daemon.close();
    await tarpit.close();
  });

  it(`fails with DEADLINE_EXCEEDED naming the backend within the backend's total timeout + 10% (${TOTAL_MS} ms)`, async () => {
    const outcomes = await Promise.all(
      REFERENCES.flatMap((reference) =>
        calls(reference)
          .filter((c) => c.name !== "WriteRaw")
          .map(async (c) => ({ ...c, reference, result: await rawGrpcCall(daemon.grpcUrl, c.path, c.body, { giveUpMs: 10_000 }) })),
      ),
    );
    const lines: string[] = [];
    for (const { name, reference, result } of outcomes) {
      const label = `${name} ${reference}`;
      lines.push(`${label}: ${result.grpcStatus} in ${result.elapsedMs} ms: ${result.grpcMessage}`);
      expect(result.grpcStatus, `${label}: ${result.grpcMessage}`).toBe(Code.DeadlineExceeded);
      expect(result.grpcMessage).toContain("did not answer in time");
      expect(result.elapsedMs, label).toBeLessThanOrEqual(TOTAL_MS * SLACK);
    }
    console.log(`tarpit, no client deadline, backend total timeout ${TOTAL_MS} ms:\n  ${lines.join("\n  ")}`);
    expect(await settle(daemon)).toBe(0);
  });
});
