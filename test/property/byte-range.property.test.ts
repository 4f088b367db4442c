// Property tests (fast-check) of byte-range resolution against a model that
// slices a real array of byte positions, at the function level
// (server/stores/kit/byte-range.ts) and end to end through ReadRaw on mem:// and
// file://, where the fields also go through the service's validation.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ByteRangeSchema } from "../../gen/stowd/v1/object_pb.js";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { StowdError } from "../../common/errors.js";
import { resolveRange } from "../../server/stores/kit/byte-range.js";
import type { RangeRequest } from "../../server/stores/raw-store.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

type Model = { offset: number; length: number } | "OUT_OF_RANGE";

/**
 * The rules, stated over the object's byte positions [0, size): a suffix is
 * the last N positions; an offset range is the positions from `offset` on
 * (at most `length` of them, 0 = all), and it must start inside the object
 * unless it starts at 0.
 */
function model(range: RangeRequest | undefined, size: number): Model {
  const positions = Array.from({ length: size }, (_, i) => i);
  let served: number[];
  if (range === undefined) served = positions;
  else if (range.suffixLength > 0) served = positions.slice(Math.max(0, size - range.suffixLength));
  else {
    if (range.offset !== 0 && !positions.includes(range.offset)) return "OUT_OF_RANGE";
    const from = positions.slice(range.offset);
    served = range.length === 0 ? from : from.slice(0, range.length);
  }
  return { offset: served[0] ?? (range?.suffixLength ? size : (range?.offset ?? 0)), length: served.length };
}

const size = fc.nat(300);
const count = fc.oneof(fc.nat(320), fc.constant(0), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const rangeRequest: fc.Arbitrary<RangeRequest | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record({ offset: count, length: count, suffixLength: fc.constant(0) }),
  fc.record({ offset: fc.constant(0), length: fc.constant(0), suffixLength: count.filter((n) => n > 0) }),
);

function resolved(range: RangeRequest | undefined, n: number): Model {
  try {
    return resolveRange(range, n, "mem://b/k");
  } catch (err) {
    expect(err).toBeInstanceOf(StowdError);
    expect((err as StowdError).reason).toBe("OUT_OF_RANGE");
    expect((err as StowdError).message).toContain("mem://b/k");
    return "OUT_OF_RANGE";
  }
}

describe("byte-range resolution (properties)", () => {
  it("agrees with the model on every size and range", () => {
    fc.assert(
      fc.property(size, rangeRequest, (n, range) => {
        expect(resolved(range, n)).toEqual(model(range, n));
      }),
      { numRuns: 5000 },
    );
  });

  it("always serves a range inside the object", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), rangeRequest, (n, range) => {
        const r = resolved(range, n);
        if (r === "OUT_OF_RANGE") return;
        expect(Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.length)).toBe(true);
        expect(r.offset).toBeGreaterThanOrEqual(0);
        expect(r.length).toBeGreaterThanOrEqual(0);
        expect(r.offset + r.length).toBeLessThanOrEqual(n);
      }),
      { numRuns: 5000 },
    );
  });
});

/** Range fields as a client may send them: int64s, including negative and beyond 2^53. */
const wireCount = fc.oneof(
  fc.bigInt({ min: 0n, max: 320n }),
  fc.constant(0n),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(-1n, BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER) + 1n),
);
const wireRange = fc.option(fc.record({ offset: wireCount, length: wireCount, suffixLength: wireCount }), { nil: undefined });

describe("ReadRaw ranges (properties, through the daemon)", () => {
  let daemon: TestDaemon;
  let client: ReturnType<typeof createClient<typeof RawStoreService>>;
  const sizes = [0, 1, 7, 64, 255, 300];
  const content = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff));

  beforeAll(async () => {
    daemon = await startTestDaemon();
    client = createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl }));
    for (const scheme of ["mem", "file"]) {
      for (const n of sizes) {
        await client.writeRaw(
          (async function* () {
            yield { body: { case: "header" as const, value: { reference: `${scheme}://b/obj-${n}`, size: BigInt(n) } } };
            yield { body: { case: "chunk" as const, value: content(n) } };
          })(),
        );
      }
    }
  });
  afterAll(async () => {
    await daemon.close();
  });

  it("serves exactly the model's bytes, OUT_OF_RANGE, or INVALID_ARGUMENT for fields it cannot take", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("mem", "file"), fc.constantFrom(...sizes), wireRange, async (scheme, n, range) => {
        const fieldsOk =
          range === undefined ||
          ([range.offset, range.length, range.suffixLength].every((v) => v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) &&
            !(range.suffixLength > 0n && (range.offset > 0n || range.length > 0n)));
        const expected: Model | "INVALID_ARGUMENT" = !fieldsOk
          ? "INVALID_ARGUMENT"
          : model(range && { offset: Number(range.offset), length: Number(range.length), suffixLength: Number(range.suffixLength) }, n);
        const chunks: Uint8Array[] = [];
        let header: { offset: bigint; length: bigint } | undefined;
        try {
          for await (const message of client.readRaw({
            reference: `${scheme}://b/obj-${n}`,
            ...(range ? { range: create(ByteRangeSchema, range) } : {}),
          })) {
            if (message.body.case === "header") header = message.body.value;
            else if (message.body.case === "chunk") chunks.push(message.body.value);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(ConnectError);
          const code = (err as ConnectError).code;
          expect(code === Code.OutOfRange ? "OUT_OF_RANGE" : code === Code.InvalidArgument ? "INVALID_ARGUMENT" : `code ${code}`).toBe(
            expected,
          );
          return;
        }
        expect(expected).not.toBeTypeOf("string");
        const m = expected as { offset: number; length: number };
        expect({ offset: Number(header?.offset), length: Number(header?.length) }).toEqual(m);
        expect(Buffer.concat(chunks).equals(content(n).subarray(m.offset, m.offset + m.length))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
