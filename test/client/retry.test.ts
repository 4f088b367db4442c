// The SDK's retry policy: idempotent calls are retried on UNAVAILABLE and
// RESOURCE_EXHAUSTED with backoff, waiting what the daemon's RetryInfo asks,
// within the call's deadline, signal and attempt budget; writes are tried
// once. Failures on demand come from stub handlers through connect's router
// transport (the daemon cannot be made to fail a given attempt); the last
// test retries against a daemon port where nothing listens.
import { ConnectError, Code, createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { createStowdClient, createStowdTransport, ErrorReason, type StowdClientOptions } from "../../client/index.js";
import { ErrorDetailSchema } from "../../gen/stowd/v1/error_pb.js";
import { ProtobufStoreService } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { retryInfoDetail } from "../../server/calls/google-rpc-details.js";
import { freePort } from "../helpers/free-port.js";
import { clientRejection } from "../helpers/rejections.js";

const REF = "mem://bucket/retry";

/** An error as the daemon sends it: a code, optionally an ErrorDetail reason and a RetryInfo. */
function failure(code: Code, options: { retryMs?: number; reason?: ErrorReason } = {}): ConnectError {
  const details = options.reason === undefined ? [] : [{ desc: ErrorDetailSchema, value: { reason: options.reason, reference: REF } }];
  const error = new ConnectError("injected failure", code, undefined, details);
  if (options.retryMs !== undefined) error.details.push(retryInfoDetail(options.retryMs));
  return error;
}

/** Counts every call the SDK starts, by method name. */
function attemptCounter(): { counts: Map<string, number>; interceptor: Interceptor } {
  const counts = new Map<string, number>();
  return {
    counts,
    interceptor: (next) => (req) => {
      counts.set(req.method.name, (counts.get(req.method.name) ?? 0) + 1);
      return next(req);
    },
  };
}

/** A client over stub handlers; `attempts` counts what it sent. */
function stubbed(routes: (router: ConnectRouter) => void, options: Omit<StowdClientOptions, "transport"> = {}) {
  const { counts, interceptor } = attemptCounter();
  const transport = createRouterTransport(routes, { transport: { interceptors: [interceptor] } });
  return { client: createStowdClient({ ...options, transport }), attempts: (method: string) => counts.get(method) ?? 0 };
}

/** A Head that fails `failures` times with `error`, then answers that the object does not exist. */
function headFailing(failures: number, error: () => ConnectError) {
  let calls = 0;
  return ({ service }: ConnectRouter) =>
    service(RawStoreService, {
      head() {
        calls += 1;
        if (calls <= failures) throw error();
        return { exists: false };
      },
    });
}

describe("idempotent calls", () => {
  it("wait at least the daemon's RetryInfo delay before each retry", async () => {
    const { client, attempts } = stubbed(
      headFailing(2, () => failure(Code.Unavailable, { retryMs: 300 })),
      { retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 2000 } },
    );
    const started = performance.now();
    expect(await client.head(REF)).toBeUndefined();
    expect(attempts("Head")).toBe(3);
    expect(performance.now() - started).toBeGreaterThanOrEqual(599);
  });

  it("back off on their own without a hint, and give up after maxAttempts with the last error", async () => {
    const recovers = stubbed(
      headFailing(3, () => failure(Code.Unavailable)),
      { retry: { maxAttempts: 4, initialDelayMs: 20 } },
    );
    expect(await recovers.client.head(REF)).toBeUndefined();
    expect(recovers.attempts("Head")).toBe(4);

    const never = stubbed(
      headFailing(Infinity, () => failure(Code.Unavailable, { retryMs: 10 })),
      {
        retry: { maxAttempts: 3, initialDelayMs: 1 },
      },
    );
    const error = await clientRejection(never.client.head(REF));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.retryDelayMs).toBe(10);
    expect(never.attempts("Head")).toBe(3);
  });

  it("stop at the call's deadline instead of sleeping past it", async () => {
    const { client, attempts } = stubbed(
      headFailing(Infinity, () => failure(Code.Unavailable, { retryMs: 200 })),
      { retry: { maxAttempts: 100, initialDelayMs: 1, maxDelayMs: 1000 } },
    );
    const started = performance.now();
    const error = await clientRejection(client.head(REF, { timeoutMs: 700 }));
    const elapsed = performance.now() - started;
    expect(error.code).toBe(Code.Unavailable);
    // Attempts at about 0, 200, 400 and 600 ms; the next would start after the deadline.
    expect(attempts("Head")).toBeGreaterThanOrEqual(3);
    expect(attempts("Head")).toBeLessThanOrEqual(4);
    expect(elapsed).toBeLessThan(700);
  });

  it("leave a wait longer than maxDelayMs to the caller", async () => {
    const { client, attempts } = stubbed(
      headFailing(Infinity, () => failure(Code.Unavailable, { retryMs: 60_000 })),
      {
        retry: { maxDelayMs: 1000 },
      },
    );
    const error = await clientRejection(client.head(REF));
    expect(error.retryDelayMs).toBe(60_000);
    expect(attempts("Head")).toBe(1);
  });

  it("do not retry the download limit, but do retry a limit the daemon says will clear", async () => {
    const permanent = stubbed(headFailing(Infinity, () => failure(Code.ResourceExhausted, { reason: ErrorReason.LIMIT_EXCEEDED })));
    expect((await clientRejection(permanent.client.head(REF))).reason).toBe(ErrorReason.LIMIT_EXCEEDED);
    expect(permanent.attempts("Head")).toBe(1);

    const busy = stubbed(headFailing(1, () => failure(Code.ResourceExhausted, { reason: ErrorReason.LIMIT_EXCEEDED, retryMs: 20 })));
    expect(await busy.client.head(REF)).toBeUndefined();
    expect(busy.attempts("Head")).toBe(2);
  });

  it("do not retry errors a retry cannot fix", async () => {
    const { client, attempts } = stubbed(headFailing(Infinity, () => failure(Code.PermissionDenied)));
    expect((await clientRejection(client.head(REF))).code).toBe(Code.PermissionDenied);
    expect(attempts("Head")).toBe(1);
  });

  it("stop waiting when the caller's signal aborts", async () => {
    const { client, attempts } = stubbed(
      headFailing(Infinity, () => failure(Code.Unavailable, { retryMs: 5000 })),
      {
        retry: { maxDelayMs: 10_000 },
      },
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const error = await clientRejection(client.head(REF, { signal: controller.signal }));
    expect(error.code).toBe(Code.Canceled);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(attempts("Head")).toBe(1);
  });

  it("are each retried: list pages, reads, delete with allowMissing, reference calls, serverInfo, readProtobuf", async () => {
    const down = () => failure(Code.Unavailable, { retryMs: 1 });
    const { client, attempts } = stubbed(
      ({ service }) => {
        service(RawStoreService, {
          list: () => Promise.reject(down()),
          // eslint-disable-next-line require-yield -- fails before its first message
          async *readRaw() {
            throw down();
          },
          delete: () => Promise.reject(down()),
          constructReference: () => Promise.reject(down()),
          splitReference: () => Promise.reject(down()),
          getServerInfo: () => Promise.reject(down()),
        });
        service(ProtobufStoreService, { readProtobuf: () => Promise.reject(down()) });
      },
      { retry: { maxAttempts: 3, initialDelayMs: 1 } },
    );
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["List", async () => client.list(REF)[Symbol.asyncIterator]().next()],
      ["ReadRaw", () => client.readBytes(REF)],
      ["Delete", () => client.delete(REF, { allowMissing: true })],
      ["ConstructReference", () => client.constructReference(REF, ["a"])],
      ["SplitReference", () => client.splitReference(REF)],
      ["GetServerInfo", () => client.serverInfo()],
      ["ReadProtobuf", () => client.readProtobuf(REF, StructSchema)],
    ];
    for (const [method, run] of calls) {
      expect((await clientRejection(run())).code, method).toBe(Code.Unavailable);
      expect(attempts(method), method).toBe(3);
    }
  });

  it("are tried once with retry: false", async () => {
    const { client, attempts } = stubbed(
      headFailing(Infinity, () => failure(Code.Unavailable, { retryMs: 1 })),
      { retry: false },
    );
    await clientRejection(client.head(REF));
    expect(attempts("Head")).toBe(1);
  });
});

describe("a read broken mid-stream", () => {
  const data = new TextEncoder().encode("0123456789");
  /** A ReadRaw that serves `data` (etag e1) and breaks with UNAVAILABLE after 4 bytes the first time. */
  function breakingOnce(requests: Array<{ offset: bigint; length: bigint; ifMatchEtag: string } | undefined>) {
    return ({ service }: ConnectRouter) =>
      service(RawStoreService, {
        async *readRaw(request) {
          const { range } = request;
          requests.push(range === undefined ? undefined : { offset: range.offset, length: range.length, ifMatchEtag: request.ifMatchEtag });
          const offset = Number(range?.offset ?? 0n);
          const length = range !== undefined && range.length !== 0n ? Number(range.length) : data.length - offset;
          const info = { reference: REF, size: BigInt(data.length), etag: "e1" };
          yield { body: { case: "header", value: { info, offset: BigInt(offset), length: BigInt(length) } } };
          if (requests.length === 1) {
            yield { body: { case: "chunk", value: data.subarray(0, 4) } };
            throw failure(Code.Unavailable, { retryMs: 1 });
          }
          yield { body: { case: "chunk", value: data.subarray(offset, offset + length) } };
        },
      });
  }

  it("resumes from the last byte received, pinned to the first header's etag", async () => {
    const requests: Array<{ offset: bigint; length: bigint; ifMatchEtag: string } | undefined> = [];
    const { client } = stubbed(breakingOnce(requests));
    expect(new TextDecoder().decode(await client.readBytes(REF, { checksum: false }))).toBe("0123456789");
    expect(requests).toEqual([undefined, { offset: 4n, length: 6n, ifMatchEtag: "e1" }]);
  });

  it("is not resumed with retry: false", async () => {
    const requests: Array<{ offset: bigint; length: bigint; ifMatchEtag: string } | undefined> = [];
    const { client } = stubbed(breakingOnce(requests), { retry: false });
    expect((await clientRejection(client.readBytes(REF))).code).toBe(Code.Unavailable);
    expect(requests).toHaveLength(1);
  });
});

describe("writes", () => {
  it("are never retried, whatever the error", async () => {
    const down = () => failure(Code.Unavailable, { retryMs: 1 });
    const { client, attempts } = stubbed(
      ({ service }) => {
        service(RawStoreService, {
          writeRaw: () => Promise.reject(down()),
          append: () => Promise.reject(down()),
          copyRaw: () => Promise.reject(down()),
          delete: () => Promise.reject(down()),
          deletePrefix: () => Promise.reject(down()),
          createSignedUrl: () => Promise.reject(down()),
        });
        service(ProtobufStoreService, { writeProtobuf: () => Promise.reject(down()) });
      },
      { retry: { maxAttempts: 5, initialDelayMs: 1 } },
    );
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["WriteRaw", () => client.write(REF, "body")],
      ["Append", () => client.append(REF, "body")],
      ["CopyRaw", () => client.copy(REF, `${REF}-copy`)],
      ["Delete", () => client.delete(REF)],
      ["DeletePrefix", () => client.deletePrefix(REF)],
      ["CreateSignedUrl", () => client.createSignedUrl(REF, { method: "GET", expiresInSeconds: 60 })],
      ["WriteProtobuf", () => client.writeProtobuf(REF, StructSchema, create(StructSchema))],
    ];
    for (const [method, run] of calls) {
      expect((await clientRejection(run())).code, method).toBe(Code.Unavailable);
      expect(attempts(method), method).toBe(1);
    }
  });
});

describe("against a daemon port where nothing listens", () => {
  it("retries a read as configured and tries a write once", async () => {
    const { counts, interceptor } = attemptCounter();
    const transport = createStowdTransport({ baseUrl: `http://127.0.0.1:${await freePort()}`, interceptors: [interceptor] });
    const client = createStowdClient({ transport, retry: { maxAttempts: 4, initialDelayMs: 5 } });
    try {
      expect((await clientRejection(client.head(REF))).code).toBe(Code.Unavailable);
      expect(counts.get("Head")).toBe(4);
      expect((await clientRejection(client.write(REF, "body"))).code).toBe(Code.Unavailable);
      expect(counts.get("WriteRaw")).toBe(1);
    } finally {
      transport.close();
    }
  });
});
