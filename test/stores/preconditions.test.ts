// checkPreconditions: the write/copy preconditions every store shares.
import { describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { checkPreconditions } from "../../server/stores/kit/preconditions.js";
import type { ObjectMeta } from "../../server/stores/raw-store.js";
import { thrown } from "../helpers/rejections.js";

describe("checkPreconditions", () => {
  const meta: ObjectMeta = { key: "k", size: 1, etag: "e1", contentType: "", metadata: {}, updated: new Date(), generation: "" };

  it("passes what holds", () => {
    expect(() => checkPreconditions(undefined, {}, "r")).not.toThrow();
    expect(() => checkPreconditions(undefined, { ifNotExists: true }, "r")).not.toThrow();
    expect(() => checkPreconditions(meta, { ifExists: true, ifMatchEtag: "e1" }, "r")).not.toThrow();
  });

  it.each([
    ["if_not_exists on an existing object", meta, { ifNotExists: true }, "ALREADY_EXISTS", /already exists.*"e1"/],
    ["if_exists on a missing object", undefined, { ifExists: true }, "NOT_FOUND", /does not exist/],
    ["if_match_etag on a missing object", undefined, { ifMatchEtag: "e1" }, "NOT_FOUND", /does not exist.*"e1"/],
    ["if_match_etag mismatch", meta, { ifMatchEtag: "e2" }, "PRECONDITION_FAILED", /etag "e1", not the expected "e2"/],
  ] as const)("refuses %s", (_label, current, pre, reason, message) => {
    const err = thrown(() => checkPreconditions(current, pre, "mem://b/k"));
    expect(isStowdError(err, reason)).toBe(true);
    if (isStowdError(err)) {
      expect(err.message).toMatch(message);
      expect(err.message).toContain("mem://b/k");
    }
  });
});
