// The standard error details next to stowd.v1.ErrorDetail, on both ports and
// all three protocols (gRPC on the gRPC port; Connect and gRPC-Web on the
// HTTP port): every error carries google.rpc.ErrorInfo (reason = the
// ErrorReason name, domain stowd.dev, the facts as metadata), and
// google.rpc.RetryInfo comes exactly where a retry can succeed: UNAVAILABLE
// (a backend down, a daemon shutting down) and a full daemon, never a size
// limit or a definite answer. Decoded with
// googleapis' definitions (test/helpers/google-rpc-details.ts), and once
// from the raw trailer of a proto-loader grpc-js client.
import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { createClient, ConnectError, Code, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { createRedisStore } from "../../server/stores/redis/index.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { freePort } from "../helpers/free-port.js";
import { decodeErrorInfo, decodeRetryDelayMs, type ErrorInfo } from "../helpers/google-rpc-details.js";
import { rawStoreClient, statusDetails } from "../helpers/proto-loader-client.js";

const MiB = 1024 * 1024;
type RawClient = Client<typeof RawStoreService>;

interface Received {
  code: Code;
  types: string[];
  info: ErrorInfo;
  retryDelayMs: number | undefined;
}

/** The call's error with its details decoded; fails when the call succeeds. */
async function failure(call: Promise<unknown>): Promise<Received> {
  const err = await call.then(
    () => {
      throw new Error("the call succeeded; an error was expected");
    },
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError)) throw err;
  const incoming = err.details.map((d) => ("type" in d ? d : { type: d.desc.typeName, value: new Uint8Array() }));
  const info = incoming.find((d) => d.type === "google.rpc.ErrorInfo");
  const retry = incoming.find((d) => d.type === "google.rpc.RetryInfo");
  if (info === undefined) throw new Error(`no google.rpc.ErrorInfo in the details of: ${err.message}`);
  return {
    code: err.code,
    types: incoming.map((d) => d.type),
    info: decodeErrorInfo(info.value),
    retryDelayMs: retry === undefined ? undefined : decodeRetryDelayMs(retry.value),
  };
}

async function* upload(reference: string, body: Uint8Array, contentMd5 = new Uint8Array()) {
  yield { body: { case: "header" as const, value: { reference, size: BigInt(body.length), contentMd5 } } };
  yield { body: { case: "chunk" as const, value: body } };
}

async function readAll(client: RawClient, reference: string): Promise<void> {
  for await (const message of client.readRaw({ reference })) void message;
}

/** WriteRaw calls the daemon is serving, from its metrics. */
async function inFlightWrites(d: TestDaemon): Promise<number> {
  const text = await (await fetch(`${d.httpUrl}/metrics`)).text();
  return Number(/stowd_rpc_in_flight\{grpc_service="stowd.v1.RawStoreService",grpc_method="WriteRaw"\} (\d+)/.exec(text)?.[1] ?? 0);
}

let daemon: TestDaemon;
let redisAddr: string;
const protocols: { name: string; transport: () => Transport }[] = [
  { name: "gRPC port, gRPC", transport: () => createGrpcTransport({ baseUrl: daemon.grpcUrl }) },
  { name: "HTTP port, Connect", transport: () => createConnectTransport({ baseUrl: daemon.httpUrl, httpVersion: "2" }) },
  { name: "HTTP port, gRPC-Web", transport: () => createGrpcWebTransport({ baseUrl: daemon.httpUrl, httpVersion: "2" }) },
];

beforeAll(async () => {
  // A Redis backend whose server is not there: a real connection refused.
  redisAddr = `127.0.0.1:${await freePort()}`;
  const redis = createRedisStore({ addr: redisAddr, retry: { attempts: 1 } });
  daemon = await startTestDaemon({ maxDownloadMBs: 1, backends: { redis: builtBackend(redis, `redis://${redisAddr}`) } });
  await createClient(RawStoreService, protocols[0]!.transport()).writeRaw(upload("mem://b/big.bin", new Uint8Array(MiB + 1)));
});
afterAll(async () => {
  await daemon?.close();
});

describe.each(protocols)("$name", ({ transport }) => {
  let client: RawClient;
  beforeAll(() => {
    client = createClient(RawStoreService, transport());
  });

  it("NOT_FOUND: ErrorDetail first, then ErrorInfo naming the reference; no RetryInfo", async () => {
    const got = await failure(client.delete({ reference: "mem://b/missing" }));
    expect(got.code).toBe(Code.NotFound);
    expect(got.types).toEqual(["stowd.v1.ErrorDetail", "google.rpc.ErrorInfo"]);
    expect(got.info).toEqual({ reason: "NOT_FOUND", domain: "stowd.dev", metadata: { reference: "mem://b/missing" } });
    expect(got.retryDelayMs).toBeUndefined();
  });

  it("CHECKSUM_MISMATCH: a wrong MD5 is a definite answer, no RetryInfo", async () => {
    const body = new TextEncoder().encode("the bytes sent");
    const wrongMd5 = createHash("md5").update("other bytes").digest();
    const got = await failure(client.writeRaw(upload("mem://b/checked", body, wrongMd5)));
    expect(got.code).toBe(Code.DataLoss);
    expect(got.types).toEqual(["stowd.v1.ErrorDetail", "google.rpc.ErrorInfo"]);
    expect(got.info.reason).toBe("CHECKSUM_MISMATCH");
    expect(got.info.domain).toBe("stowd.dev");
    expect(got.info.metadata.reference).toBe("mem://b/checked");
  });

  it("the download limit: size and limit as metadata, and no RetryInfo (a retry cannot pass it)", async () => {
    const got = await failure(readAll(client, "mem://b/big.bin"));
    expect(got.code).toBe(Code.ResourceExhausted);
    expect(got.types).toEqual(["stowd.v1.ErrorDetail", "google.rpc.ErrorInfo"]);
    expect(got.info).toEqual({
      reason: "LIMIT_EXCEEDED",
      domain: "stowd.dev",
      metadata: { reference: "mem://b/big.bin", size: String(MiB + 1), limit: String(MiB) },
    });
    expect(got.retryDelayMs).toBeUndefined();
  });

  it("an unreachable backend: UNAVAILABLE with ErrorInfo naming the backend and RetryInfo of 1 s", async () => {
    const got = await failure(client.head({ reference: `redis://${redisAddr}/some-key` }));
    expect(got.code).toBe(Code.Unavailable);
    expect(got.types).toEqual(["stowd.v1.ErrorDetail", "google.rpc.ErrorInfo", "google.rpc.RetryInfo"]);
    expect(got.info.reason).toBe("BACKEND_UNAVAILABLE");
    expect(got.info.metadata.backend).toBe("redis");
    expect(got.retryDelayMs).toBe(1000);
  });
});

describe("Connect JSON, as curl sees it", () => {
  it("lists ErrorInfo and RetryInfo with a readable debug form", async () => {
    const res = await fetch(`${daemon.httpUrl}/stowd.v1.RawStoreService/Head`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reference: `redis://${redisAddr}/k` }),
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { code: string; details: { type: string; debug?: unknown }[] };
    expect(body.code).toBe("unavailable");
    expect(body.details.map((d) => d.type)).toEqual(["stowd.v1.ErrorDetail", "google.rpc.ErrorInfo", "google.rpc.RetryInfo"]);
    expect(body.details[1]?.debug).toEqual({
      reason: "BACKEND_UNAVAILABLE",
      domain: "stowd.dev",
      metadata: { reference: `redis://${redisAddr}/k`, backend: "redis" },
    });
    expect(body.details[2]?.debug).toEqual({ retryDelay: "1s" });
  });
});

describe("a full daemon (server.maxConcurrentCalls = 1)", () => {
  let full: TestDaemon;
  beforeAll(async () => {
    full = await startTestDaemon({ bounds: { maxConcurrentCalls: 1 } });
  });
  afterAll(async () => {
    await full?.close();
  });

  it("refuses with RESOURCE_EXHAUSTED and a RetryInfo on both ports", async () => {
    const grpcClient = createClient(RawStoreService, createGrpcTransport({ baseUrl: full.grpcUrl }));
    const httpClient = createClient(RawStoreService, createConnectTransport({ baseUrl: full.httpUrl, httpVersion: "2" }));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // One write holds the only slot until released.
    const holder = grpcClient.writeRaw(
      (async function* () {
        yield { body: { case: "header" as const, value: { reference: "mem://b/slot" } } };
        await released;
        yield { body: { case: "chunk" as const, value: new Uint8Array(3) } };
      })(),
    );
    await expect.poll(() => inFlightWrites(full)).toBe(1);
    try {
      for (const client of [grpcClient, httpClient]) {
        const got = await failure(client.head({ reference: "mem://b/slot" }));
        expect(got.code).toBe(Code.ResourceExhausted);
        expect(got.info.reason).toBe("LIMIT_EXCEEDED");
        expect(got.types).toEqual(["stowd.v1.ErrorDetail", "google.rpc.ErrorInfo", "google.rpc.RetryInfo"]);
        expect(got.retryDelayMs).toBeGreaterThan(0);
      }
    } finally {
      release();
    }
    expect((await holder).info?.size).toBe(3n);
  });
});

describe("a daemon shutting down", () => {
  it.each(["gRPC port", "HTTP port"])(
    "%s: a call still running after the grace period ends UNAVAILABLE with ErrorInfo and RetryInfo",
    async (port) => {
      const stopping = await startTestDaemon({ graceMs: 300 });
      const transport =
        port === "gRPC port"
          ? createGrpcTransport({ baseUrl: stopping.grpcUrl })
          : createConnectTransport({ baseUrl: stopping.httpUrl, httpVersion: "2" });
      // A write whose body never ends: still running when the grace period is over.
      const write = failure(
        createClient(RawStoreService, transport).writeRaw(
          (async function* () {
            yield { body: { case: "header" as const, value: { reference: "mem://b/unfinished" } } };
            await new Promise(() => {});
          })(),
        ),
      );
      write.catch(() => undefined); // awaited below, after the daemon has stopped
      await expect.poll(() => inFlightWrites(stopping)).toBe(1);
      await stopping.close();
      const got = await write;
      expect(got.code).toBe(Code.Unavailable);
      expect(got.info).toEqual({ reason: "UNAVAILABLE", domain: "stowd.dev", metadata: {} });
      expect(got.retryDelayMs).toBe(1000);
    },
  );
});

describe("a proto-loader grpc-js client (the raw grpc-status-details-bin trailer)", () => {
  it("holds the three details as Anys with googleapis type URLs", async () => {
    const client = rawStoreClient(daemon.grpcAddress);
    try {
      const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
        const head = client.Head as (request: object, callback: (e: grpc.ServiceError | null) => void) => void;
        head.call(client, { reference: `redis://${redisAddr}/k` }, (e: grpc.ServiceError | null) =>
          e === null ? reject(new Error("Head succeeded")) : resolve(e),
        );
      });
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      const details = statusDetails(err);
      expect(details.map((d) => d.typeUrl)).toEqual([
        "type.googleapis.com/stowd.v1.ErrorDetail",
        "type.googleapis.com/google.rpc.ErrorInfo",
        "type.googleapis.com/google.rpc.RetryInfo",
      ]);
      expect(decodeErrorInfo(details[1]!.value)).toMatchObject({ reason: "BACKEND_UNAVAILABLE", domain: "stowd.dev" });
      expect(decodeRetryDelayMs(details[2]!.value)).toBe(1000);
    } finally {
      client.close();
    }
  });
});
