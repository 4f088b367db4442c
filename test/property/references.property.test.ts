// Property tests (fast-check) of reference parsing and construction: any
// string either parses or fails with a StowdError whose code is
// INVALID_ARGUMENT (never another error, never a crash); formatted references
// round-trip through parseReference; constructReference agrees with a model
// of Flyte's join; and the same holds through the daemon's SplitReference and
// ConstructReference RPCs.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { StowdError } from "../../common/errors.js";
import { constructReference, formatReference, parsePrefixReference, parseReference } from "../../server/references/reference.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

/** Characters that stress the grammar: delimiters, escapes, dots, controls, non-ASCII. */
const hostileChar = fc.constantFrom(
  ...Array.from("aZ09-_.~/:@?#%[]!$&'()*+,;= \\\t\n\u0000\u007f\u00e9\u0301\u212b\uff0e\u2024\ud83d\ude00"),
  "\ud800", // a lone surrogate
  "%2e",
  "%2E",
  "%2f",
  "%2F",
  "%5c",
  "%00",
  "%zz",
  "%",
  "..",
  "//",
  "://",
  "s3://",
  "file://",
  "%c3%28",
  "%ff",
);
const hostileString = fc.oneof(
  fc.string({ unit: hostileChar, maxLength: 40 }),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
);
const scheme = fc.constantFrom("s3", "S3", "gs", "file", "mem", "redis", "abfs", "abfss", "x+y.z-1");
/** A reference-shaped string: scheme://authority/path with hostile pieces. */
const referenceLike = fc.oneof(
  hostileString,
  fc.tuple(scheme, hostileString, hostileString).map(([s, a, p]) => `${s}://${a}/${p}`),
  fc.tuple(scheme, fc.stringMatching(/^[a-z0-9.-]{0,12}$/), hostileString).map(([s, a, p]) => `${s}://${a}/${p}`),
);

/** Strings a client can send as a proto string (lone surrogates would arrive as U+FFFD). */
function wellFormed(s: string): boolean {
  return Buffer.from(s, "utf8").toString("utf8") === s;
}
const sendableReference = referenceLike.filter(wellFormed);
const sendableString = hostileString.filter(wellFormed);

function expectInvalidArgument(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StowdError);
    const e = err as StowdError;
    expect(e.code).toBe(Code.InvalidArgument);
    expect(["INVALID_REFERENCE", "INVALID_ARGUMENT"]).toContain(e.reason);
    expect(e.message.length).toBeGreaterThan(10);
  }
}

/** A key segment that is legal and survives a round trip: no control characters, not `.` or `..`. */
const segmentChar = fc.constantFrom(...Array.from("abcXYZ019-_.~ +%&=@$,;:!*()'[]\\é\u0301\u212b😀日本"));
const segment = fc.string({ unit: segmentChar, minLength: 1, maxLength: 12 }).filter((s) => s !== "." && s !== "..");
const key = fc.array(segment, { minLength: 0, maxLength: 5 }).map((segments) => segments.join("/"));
const host = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/);

describe("reference parsing (properties)", () => {
  it("parses any string or rejects it with INVALID_ARGUMENT, never anything else", () => {
    fc.assert(
      fc.property(referenceLike, (reference) => {
        expectInvalidArgument(() => parseReference(reference));
        expectInvalidArgument(() => parsePrefixReference(reference));
      }),
      { numRuns: 5000 },
    );
  });

  it("never yields a key with a control character or a dot segment", () => {
    fc.assert(
      fc.property(referenceLike, (reference) => {
        let parsed;
        try {
          parsed = parseReference(reference);
        } catch {
          return;
        }
        // eslint-disable-next-line no-control-regex
        expect(parsed.key).not.toMatch(/[\u0000-\u001f\u007f]/);
        for (const s of parsed.key.split("/")) expect([".", ".."]).not.toContain(s);
        expect(parsed.key.startsWith("/")).toBe(false);
        expect(parsed.key.endsWith("/")).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });

  it("round-trips formatted references: parse(format(scheme, container, key)) gives them back", () => {
    fc.assert(
      fc.property(scheme, host, key, (s, container, k) => {
        const formatted = formatReference({ scheme: s.toLowerCase(), authority: container }, k);
        const parsed = parseReference(formatted);
        expect(parsed).toEqual({ scheme: s.toLowerCase(), container, key: k, authority: container });
        // Formatting the parsed reference again is stable.
        expect(formatReference(parsed, parsed.key)).toBe(formatted);
      }),
      { numRuns: 3000 },
    );
  });

  it("lower-cases the scheme and trims leading and trailing slashes of the key", () => {
    fc.assert(
      fc.property(scheme, host, key, fc.nat(3), fc.nat(3), (s, container, k, lead, trail) => {
        const formatted = formatReference({ scheme: s.toLowerCase(), authority: container }, k);
        const path = formatted.slice(`${s}://${container}/`.length);
        const parsed = parseReference(`${s.toUpperCase()}://${container}/${"/".repeat(lead)}${path}${"/".repeat(trail)}`);
        expect(parsed.scheme).toBe(s.toLowerCase());
        expect(parsed.key).toBe(k);
      }),
      { numRuns: 2000 },
    );
  });
});

/** Nested-key pieces constructReference must accept: no `%`, `?`, `#` or `:` (the model does not decode). */
const plainSegment = fc
  .string({ unit: fc.constantFrom(...Array.from("abcXYZ019-_.~ +&=@$,;!*()'é日😀")), minLength: 1, maxLength: 10 })
  .filter((s) => s !== "." && s !== "..");
const nestedKey = fc
  .tuple(fc.nat(2), fc.array(plainSegment, { minLength: 0, maxLength: 3 }), fc.nat(2))
  .map(([lead, segments, trail]) => `${"/".repeat(lead)}${segments.join("/")}${"/".repeat(trail)}`);

function trimSlashes(s: string): string {
  return s.replace(/^\/+/, "").replace(/\/+$/, "");
}

describe("reference construction (properties)", () => {
  it("constructs from any base and keys or rejects with INVALID_ARGUMENT; what it builds parses", () => {
    fc.assert(
      fc.property(referenceLike, fc.array(hostileString, { maxLength: 4 }), (base, keys) => {
        let built: string | undefined;
        expectInvalidArgument(() => (built = constructReference(base, keys)));
        if (built !== undefined) expectInvalidArgument(() => parseReference(built!));
      }),
      { numRuns: 5000 },
    );
  });

  it("joins nested keys onto the base key like Flyte: base/key1/key2 with each key's outer slashes trimmed", () => {
    fc.assert(
      fc.property(scheme, host, key, fc.array(nestedKey, { minLength: 1, maxLength: 4 }), (s, container, baseKey, keys) => {
        const base = formatReference({ scheme: s.toLowerCase(), authority: container }, baseKey);
        const built = constructReference(base, keys);
        const parsed = parseReference(built);
        const joined = keys.map(trimSlashes).join("/");
        expect(parsed.scheme).toBe(s.toLowerCase());
        expect(parsed.container).toBe(container);
        expect(parsed.key).toBe(trimSlashes(baseKey === "" ? joined : `${baseKey}/${joined}`));
        expect(built.startsWith(base.endsWith("/") ? base : `${base}/`)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("rejects a dot segment anywhere in the nested keys", () => {
    fc.assert(
      fc.property(
        host,
        fc.array(plainSegment, { maxLength: 3 }),
        fc.constantFrom(".", "..", "%2e", "%2E%2e"),
        fc.array(plainSegment, { maxLength: 3 }),
        (container, before, dot, after) => {
          const keys = [[...before, dot, ...after].join("/")];
          expect(() => constructReference(`s3://${container}/base`, keys)).toThrow(StowdError);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("reference RPCs (properties, through the daemon)", () => {
  let daemon: TestDaemon;
  let client: ReturnType<typeof createClient<typeof RawStoreService>>;

  beforeAll(async () => {
    daemon = await startTestDaemon();
    client = createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl }));
  });
  afterAll(async () => {
    await daemon.close();
  });

  it("SplitReference answers like parseReference or with INVALID_ARGUMENT", async () => {
    await fc.assert(
      fc.asyncProperty(sendableReference, async (reference) => {
        let expected: ReturnType<typeof parseReference> | undefined;
        try {
          expected = parseReference(reference);
        } catch {
          expected = undefined;
        }
        try {
          const answer = await client.splitReference({ reference });
          expect(expected).toBeDefined();
          expect({ scheme: answer.scheme, container: answer.container, key: answer.key }).toEqual({
            scheme: expected!.scheme,
            container: expected!.container,
            key: expected!.key,
          });
        } catch (err) {
          expect(err).toBeInstanceOf(ConnectError);
          expect((err as ConnectError).code).toBe(Code.InvalidArgument);
          if (expected !== undefined)
            expect.fail(`SplitReference rejected ${JSON.stringify(reference)}, which parses: ${(err as Error).message}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("ConstructReference answers like constructReference or with INVALID_ARGUMENT", async () => {
    await fc.assert(
      fc.asyncProperty(sendableReference, fc.array(sendableString, { maxLength: 3 }), async (base, keys) => {
        let expected: string | undefined;
        try {
          expected = constructReference(base, keys);
        } catch {
          expected = undefined;
        }
        try {
          const answer = await client.constructReference({ baseReference: base, nestedKeys: keys });
          expect(answer.reference).toBe(expected);
        } catch (err) {
          expect(err).toBeInstanceOf(ConnectError);
          expect((err as ConnectError).code).toBe(Code.InvalidArgument);
          expect(expected).toBeUndefined();
        }
      }),
      { numRuns: 300 },
    );
  });
});
