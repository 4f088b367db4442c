// Every vector in test/fixtures/reference-vectors.json (a copy of the
// project's shared/vectors/references.json, so a clone alone runs them):
// `expect: "flyte"` must give exactly Flyte's result, `expect: "error"` must
// be INVALID_ARGUMENT.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { constructReference, formatReference, parseReference } from "../../server/references/reference.js";
import { Code } from "@connectrpc/connect";

interface SplitVector {
  ref: string;
  flyte: { scheme: string; container: string; key: string } | { error: string };
  expect: "flyte" | "error";
}
interface ConstructVector {
  base: string;
  keys: string[];
  flyte: { result: string } | { error: string };
  expect: "flyte" | "error";
}

const fixtureUrl = new URL("../fixtures/reference-vectors.json", import.meta.url);
/** The original, where the project's shared/ folder sits beside the checkout (as CI lays it out). */
const sharedPath = fileURLToPath(new URL("../../../shared/vectors/references.json", import.meta.url));
const vectors = JSON.parse(readFileSync(fixtureUrl, "utf8")) as { split: SplitVector[]; construct: ConstructVector[] };

function expectInvalidArgument(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(isStowdError(err)).toBe(true);
    if (isStowdError(err)) expect(err.code).toBe(Code.InvalidArgument);
    return;
  }
  expect.fail("expected INVALID_ARGUMENT, got a result");
}

describe("reference vectors", () => {
  // A drift check, not a test of stowd: it needs ../shared, which a lone clone does not have.
  it.skipIf(!existsSync(sharedPath))(
    "the fixture copy equals ../shared/vectors/references.json (skipped when no ../shared is beside this checkout)",
    () => {
      expect(
        readFileSync(fixtureUrl, "utf8"),
        "test/fixtures/reference-vectors.json differs from shared/vectors/references.json: copy it again",
      ).toBe(readFileSync(sharedPath, "utf8"));
    },
  );

  it("has vectors to run", () => {
    expect(vectors.split.length).toBeGreaterThan(20);
    expect(vectors.construct.length).toBeGreaterThan(20);
  });

  describe.each(vectors.split)("split $ref", (v) => {
    it(`is ${v.expect}`, () => {
      if (v.expect === "error") {
        expectInvalidArgument(() => parseReference(v.ref));
        return;
      }
      const ref = parseReference(v.ref);
      expect({ scheme: ref.scheme, container: ref.container, key: ref.key }).toEqual(v.flyte);
      // The canonical form of a parsed reference parses back to the same parts.
      expect(parseReference(formatReference(ref, ref.key))).toEqual(ref);
    });
  });

  describe.each(vectors.construct)("construct $base + $keys", (v) => {
    it(`is ${v.expect}`, () => {
      if (v.expect === "error") {
        expectInvalidArgument(() => constructReference(v.base, v.keys));
        return;
      }
      expect(constructReference(v.base, v.keys)).toBe((v.flyte as { result: string }).result);
    });
  });
});
