// Every vector in ../shared/vectors/references.json: `expect: "flyte"` must
// give exactly Flyte's result, `expect: "error"` must be INVALID_ARGUMENT.
import { readFileSync } from "node:fs";
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

const vectorsUrl = new URL("../../../shared/vectors/references.json", import.meta.url);
const vectors = JSON.parse(readVectors()) as { split: SplitVector[]; construct: ConstructVector[] };

/** The shared vectors live beside the checkout (../shared), as CI lays them out: say so when they are missing. */
function readVectors(): string {
  try {
    return readFileSync(vectorsUrl, "utf8");
  } catch (err) {
    throw new Error(`cannot read the reference vectors at ${fileURLToPath(vectorsUrl)}: the tests expect the project's shared/ folder beside this checkout (../shared)`, { cause: err });
  }
}

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
