// Property tests (fast-check) of the download limit's arithmetic
// (server/decorators/download-limit.ts), byte-exact against a model: a read
// passes when the bytes it serves are at most floor(maxDownloadMBs * 2^20),
// is refused before any byte with Flyte's wording otherwise, and an object
// that grows while streaming is cut off with the error, never passed over
// the limit or truncated silently. Through the daemon, a refused ReadRaw
// sends no message at all before its RESOURCE_EXHAUSTED status.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawStoreService, ReadRawRequestSchema, ReadRawResponseSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { withDownloadLimit } from "../../server/decorators/download-limit.js";
import { StowdError } from "../../common/errors.js";
import { resolveRange } from "../../server/stores/kit/byte-range.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import type { RangeRequest, RawStore } from "../../server/stores/raw-store.js";
import { never, put, ref } from "../decorators/store-helpers.js";
import { grpcFrame, rawGrpcCall } from "../faults/raw-grpc.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

const MiB = 1024 * 1024;

/** The limit in bytes for a `maxDownloadMBs` value, or Infinity for 0 / negative (unlimited). */
function modelLimitBytes(maxDownloadMBs: number): number {
  if (!(maxDownloadMBs > 0)) return Infinity;
  // Exact rational arithmetic: the largest whole byte count <= mbs * 2^20.
  return Number((BigInt(Math.round(maxDownloadMBs * 1e6)) * BigInt(MiB)) / 1_000_000n);
}

/** Flyte's message, from the byte count and the configured value. */
function modelMessage(served: number, maxDownloadMBs: number): string {
  const mb = (BigInt(served) * 1_000_000n) / BigInt(MiB);
  // Round half up at the 6th decimal, like toFixed(6) does on these values.
  const remainder = (BigInt(served) * 1_000_000n) % BigInt(MiB);
  const rounded = remainder * 2n >= BigInt(MiB) ? mb + 1n : mb;
  const text = `${rounded / 1_000_000n}.${(rounded % 1_000_000n).toString().padStart(6, "0")}`;
  return `limit exceeded. ${text}mb > ${maxDownloadMBs}mb. You can increase the limit by setting maxDownloadMBs.`;
}

/** Limits with at most 6 decimals (so the model's exact arithmetic applies), from tiny to several MiB. */
const limitMbs = fc.oneof(
  fc.integer({ min: 0, max: 4 }),
  fc.integer({ min: 1, max: 4_000_000 }).map((micro) => micro / 1_000_000),
  fc.constantFrom(0.5, 1.5, 2, 0.000001, 0.000953, 0.001, -1),
);

async function collect(store: RawStore, key: string, range: RangeRequest | undefined): Promise<{ bytes: number } | StowdError> {
  try {
    const opened = await store.read(ref(key), range === undefined ? {} : { range }, never);
    let bytes = 0;
    for await (const chunk of opened.body) bytes += chunk.length;
    return { bytes };
  } catch (err) {
    if (err instanceof StowdError) return err;
    throw err;
  }
}

describe("download limit arithmetic (properties)", () => {
  it("passes exactly the reads whose served bytes fit, refuses the rest before any byte with Flyte's wording", async () => {
    const inner = createMemoryStore();
    const sizes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        limitMbs,
        fc.integer({ min: -3, max: 3 }),
        fc.oneof(
          fc.constant(undefined),
          fc.record({ offset: fc.nat(64), length: fc.nat(64), suffixLength: fc.constant(0) }),
          fc.record({ offset: fc.constant(0), length: fc.constant(0), suffixLength: fc.integer({ min: 1, max: 64 }) }),
        ),
        async (mbs, delta, range) => {
          // Objects right around the limit, where rounding would show.
          const limit = modelLimitBytes(mbs);
          const size = Math.max(0, (Number.isFinite(limit) ? Math.min(limit, 5 * MiB) : 1000) + delta);
          const key = `obj-${size}`;
          if (!sizes.has(key)) {
            await put(inner, ref(key), Buffer.alloc(size, 1));
            sizes.set(key, size);
          }
          let rejections = 0;
          const limited = withDownloadLimit(inner, { maxDownloadMBs: mbs, onReject: () => rejections++ });
          let served: number;
          try {
            served = resolveRange(range, size, "mem://b/k").length;
          } catch {
            return; // OUT_OF_RANGE is the range's business, not the limit's
          }
          const result = await collect(limited, key, range);
          if (served <= limit) {
            expect(result).toEqual({ bytes: served });
            expect(rejections).toBe(0);
          } else {
            expect(result).toBeInstanceOf(StowdError);
            const err = result as StowdError;
            expect(err.reason).toBe("LIMIT_EXCEEDED");
            expect(err.message).toBe(modelMessage(served, mbs));
            expect(err.facts).toMatchObject({ size: served, limit, reference: `mem://b/${key}` });
            expect(rejections).toBe(1);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("cuts off an object that grows past the limit while streaming, after exactly the bytes that fit", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 64 * 1024 }).map((bytes) => bytes / 1_000_000),
        fc.array(fc.integer({ min: 0, max: 9000 }), { minLength: 1, maxLength: 12 }),
        async (mbs, chunkSizes) => {
          const limit = modelLimitBytes(mbs);
          const total = chunkSizes.reduce((a, b) => a + b, 0);
          // A store whose open read reports 0 bytes, then streams `chunkSizes`: an object that grew.
          const growing: RawStore = {
            ...createMemoryStore(),
            async read() {
              return {
                meta: { key: "k", size: 0, etag: "e", contentType: "", metadata: {}, updated: new Date(0), generation: "" },
                offset: 0,
                length: 0,
                body: (async function* () {
                  for (const n of chunkSizes) yield new Uint8Array(n);
                })(),
                close: async () => {},
              };
            },
          };
          const limited = withDownloadLimit(growing, { maxDownloadMBs: mbs });
          const opened = await limited.read(ref("k"), {}, never);
          let passed = 0;
          let error: unknown;
          try {
            for await (const chunk of opened.body) passed += chunk.length;
          } catch (err) {
            error = err;
          }
          expect(passed).toBeLessThanOrEqual(limit);
          if (total <= limit) {
            expect(error).toBeUndefined();
            expect(passed).toBe(total);
          } else {
            expect(error).toBeInstanceOf(StowdError);
            expect((error as StowdError).reason).toBe("LIMIT_EXCEEDED");
            // Every whole chunk before the one that crossed the limit went through.
            let before = 0;
            for (const n of chunkSizes) {
              if (before + n > limit) break;
              before += n;
            }
            expect(passed).toBe(before);
            expect((error as StowdError).facts.size).toBe(
              before + chunkSizes[chunkSizes.findIndex((_, i) => chunkSizes.slice(0, i + 1).reduce((a, b) => a + b, 0) > limit)]!,
            );
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("download limit through ReadRaw (properties, through the daemon)", () => {
  const MBS = 0.25; // 262144 bytes
  const LIMIT = MBS * MiB;
  const sizes = [0, 1, LIMIT - 1, LIMIT, LIMIT + 1, 2 * LIMIT];
  let daemon: TestDaemon;

  beforeAll(async () => {
    daemon = await startTestDaemon({ maxDownloadMBs: MBS });
    const client = createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl }));
    for (const n of sizes) {
      await client.writeRaw(
        (async function* () {
          yield { body: { case: "header" as const, value: { reference: `mem://b/obj-${n}`, size: BigInt(n) } } };
          yield { body: { case: "chunk" as const, value: Buffer.alloc(n, 3) } };
        })(),
      );
    }
  });
  afterAll(async () => {
    await daemon.close();
  });

  it("serves reads that fit byte-exactly and refuses the rest before sending anything", async () => {
    const around = fc.oneof(fc.constantFrom(0, 1, LIMIT - 1, LIMIT, LIMIT + 1), fc.nat(2 * LIMIT + 2));
    const range = fc.oneof(
      fc.constant(undefined),
      fc.record({ offset: around, length: around, suffixLength: fc.constant(0) }),
      fc.record({ offset: fc.constant(0), length: fc.constant(0), suffixLength: around.filter((n) => n > 0) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...sizes), range, fc.constantFrom(daemon.grpcUrl, daemon.httpUrl), async (size, r, url) => {
        let served: number | "OUT_OF_RANGE";
        try {
          served = resolveRange(r, size, "mem://b/k").length;
        } catch {
          served = "OUT_OF_RANGE";
        }
        const request = create(ReadRawRequestSchema, {
          reference: `mem://b/obj-${size}`,
          ...(r === undefined
            ? {}
            : { range: { offset: BigInt(r.offset), length: BigInt(r.length), suffixLength: BigInt(r.suffixLength) } }),
        });
        const result = await rawGrpcCall(url, "/stowd.v1.RawStoreService/ReadRaw", grpcFrame(toBinary(ReadRawRequestSchema, request)));
        if (served === "OUT_OF_RANGE") {
          expect(result.grpcStatus).toBe(Code.OutOfRange);
        } else if (served <= LIMIT) {
          expect(result.grpcStatus, result.grpcMessage).toBe(0);
          // The header message, then chunks adding up to exactly the served bytes.
          const [header, ...chunks] = result.messages.map((m) => fromBinary(ReadRawResponseSchema, m).body);
          expect(header?.case).toBe("header");
          expect(Number(header?.case === "header" ? header.value.length : -1)).toBe(served);
          expect(chunks.reduce((sum, c) => sum + (c.case === "chunk" ? c.value.length : Infinity), 0)).toBe(served);
        } else {
          expect(result.grpcStatus).toBe(Code.ResourceExhausted);
          expect(result.messages, "a refused read sent data before its status").toEqual([]);
          expect(result.grpcMessage).toBe(modelMessage(served, MBS));
        }
      }),
      { numRuns: 200 },
    );
  });
});
