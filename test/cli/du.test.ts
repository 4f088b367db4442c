// stowd du against a real daemon: bytes and object count per prefix, each
// object's line unless -s, --human sizes, wildcards, --json.
import { describe, expect, it } from "vitest";
import { freshPrefix, useBulkFixture } from "./bulk-fixture.js";

const bulk = useBulkFixture();

describe("stowd du", () => {
  it("totals each prefix and wildcard, with or without the object lines", async () => {
    const prefix = freshPrefix("mem://du");
    await bulk.client.write(`${prefix}a.txt`, Buffer.alloc(10));
    await bulk.client.write(`${prefix}sub/b.txt`, Buffer.alloc(20));
    await bulk.client.write(`${prefix}sub/c.bin`, Buffer.alloc(2048));
    const other = freshPrefix("mem://du");

    const json = await bulk.stowd(["--json", "du", "-s", prefix, `${prefix}**/*.txt`, other]);
    expect(json).toMatchObject({ code: 0, stderr: "" });
    expect(json.json()).toEqual([
      { prefix, bytes: 2078, objects: 3 },
      { prefix: `${prefix}**/*.txt`, bytes: 30, objects: 2 },
      { prefix: other, bytes: 0, objects: 0 },
    ]);

    const text = await bulk.stowd(["du", `${prefix}sub/`]);
    expect(text.out.split("\n").map((line) => line.trim().split(/\s+/))).toEqual([
      ["20", `${prefix}sub/b.txt`],
      ["2048", `${prefix}sub/c.bin`],
      ["2068", "2", "objects", `${prefix}sub/`],
      [""],
    ]);
    const human = await bulk.stowd(["du", "-s", "--human", prefix]);
    expect(human.out.trim().split(/\s+/)).toEqual(["2.0", "KiB", "3", "objects", prefix]);
  });

  it("a pattern matching nothing exits 3 naming it", async () => {
    const pattern = `${freshPrefix("mem://du")}*.nothing`;
    const result = await bulk.stowd(["du", pattern]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(`stowd du: no object matches ${pattern}\n`);
  });
});
