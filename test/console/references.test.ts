// The console's reference arithmetic for breadcrumbs, "up", names and uploads.
import { describe, expect, it } from "vitest";
import {
  asPrefix,
  breadcrumbs,
  childReference,
  isSchemeRoot,
  lastSegment,
  nameInPrefix,
  parentPrefix,
  schemeOf,
} from "../../console/src/references.js";

describe("references", () => {
  it("splits a prefix into the container and each directory, each listing its own prefix", () => {
    expect(breadcrumbs("mem://bucket/a/b%20c/")).toEqual([
      { label: "bucket", reference: "mem://bucket/" },
      { label: "a", reference: "mem://bucket/a/" },
      { label: "b c", reference: "mem://bucket/a/b%20c/" },
    ]);
  });

  it("goes up one level from a prefix or an object, and nowhere from a container", () => {
    expect(parentPrefix("mem://bucket/a/b/")).toBe("mem://bucket/a/");
    expect(parentPrefix("mem://bucket/a/file.txt")).toBe("mem://bucket/a/");
    expect(parentPrefix("mem://bucket/a/")).toBe("mem://bucket/");
    expect(parentPrefix("mem://bucket/")).toBeUndefined();
    expect(parentPrefix("mem://bucket")).toBeUndefined();
  });

  it("names entries inside the listed prefix, decoding percent-escapes for reading", () => {
    expect(nameInPrefix("mem://b/x/report%20v2.txt", "mem://b/x/")).toBe("report v2.txt");
    expect(nameInPrefix("mem://b/x/sub/", "mem://b/x/")).toBe("sub/");
    expect(nameInPrefix("mem://b/x/bad%zz", "mem://b/x/")).toBe("bad%zz");
    expect(lastSegment("mem://b/x/report%20v2.txt")).toBe("report v2.txt");
  });

  it("builds an uploaded file's reference as one encoded key segment", () => {
    expect(childReference("mem://b/x/", "a b/c?.txt")).toBe("mem://b/x/a%20b%2Fc%3F.txt");
    expect(childReference("mem://b/x", "f")).toBe("mem://b/x/f");
  });

  it("tells schemes, scheme roots and prefixes", () => {
    expect(schemeOf("S3://bucket/key")).toBe("s3");
    expect(schemeOf("no-scheme")).toBe("");
    expect(isSchemeRoot("mem://")).toBe(true);
    expect(isSchemeRoot("mem:///")).toBe(true);
    expect(isSchemeRoot("mem://b/")).toBe(false);
    expect(asPrefix("mem://b")).toBe("mem://b/");
    expect(asPrefix("mem://b/")).toBe("mem://b/");
  });
});
