// resolveRange: the byte-range rules every store shares.
import { describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { resolveRange } from "../../server/stores/kit/byte-range.js";
import { thrown } from "../helpers/rejections.js";

const range = (offset: number, length: number, suffixLength = 0) => ({ offset, length, suffixLength });

describe("resolveRange", () => {
  it.each([
    ["no range", undefined, 100, 0, 100],
    ["offset to the end", range(10, 0), 100, 10, 90],
    ["offset + length", range(10, 5), 100, 10, 5],
    ["length cut at the end", range(95, 50), 100, 95, 5],
    ["suffix", range(0, 0, 10), 100, 90, 10],
    ["suffix longer than the object", range(0, 0, 500), 100, 0, 100],
    ["offset 0 of an empty object", range(0, 0), 0, 0, 0],
    ["offset 0 + length of an empty object", range(0, 10), 0, 0, 0],
    ["suffix of an empty object", range(0, 0, 3), 0, 0, 0],
  ] as const)("%s", (_label, requested, size, offset, length) => {
    expect(resolveRange(requested, size, "mem://b/k")).toEqual({ offset, length });
  });

  it("refuses an offset at or past the end with OUT_OF_RANGE and the facts", () => {
    for (const offset of [100, 101]) {
      const err = thrown(() => resolveRange(range(offset, 0), 100, "mem://b/k"));
      expect(isStowdError(err, "OUT_OF_RANGE")).toBe(true);
      if (isStowdError(err)) expect(err.facts).toMatchObject({ reference: "mem://b/k", size: 100 });
    }
    expect(
      isStowdError(
        thrown(() => resolveRange(range(1, 0), 0, "mem://b/k")),
        "OUT_OF_RANGE",
      ),
    ).toBe(true);
  });
});
