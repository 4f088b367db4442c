// Bulk commands end to end, the CLI as a child process against a real
// daemon: cp -r / put -r / get -r each way, wildcards in ls, cp and rm (and a
// pattern matching nothing), -j, content types from extensions.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freshPrefix, useBulkFixture } from "./bulk-fixture.js";
import { digestsOf, localDigests, remoteDigests, writeTree, type Tree } from "./trees.js";

const bulk = useBulkFixture();

const sample: Tree = {
  "a.txt": Buffer.from("alpha\n"),
  "b.json": Buffer.from('{"b":1}\n'),
  "sub/c.bin": randomBytes(300_000),
  "sub/deeper/d.log": Buffer.from("log line\n"),
  "sub/deeper/e.log": Buffer.from(""),
};

describe("cp -r", () => {
  it("uploads a directory, copies the prefix remote -> remote and downloads it back, byte for byte", async () => {
    const source = await mkdtemp(join(bulk.dir, "up-"));
    await writeTree(source, sample);
    const prefix = freshPrefix("mem://bulk");

    const up = await bulk.stowd(["--json", "cp", "-r", "-j", "3", source, prefix]);
    expect(up).toMatchObject({ code: 0, stderr: "" });
    const lines = up.json() as { source: string; destination: string; bytes: number; object: { contentType: string; crc32c: string } }[];
    expect(lines.map((l) => l.destination).sort()).toEqual(
      Object.keys(sample)
        .map((k) => `${prefix}${k}`)
        .sort(),
    );
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf(sample));
    // Content types from the extension; the CRC32C the CLI sent is kept.
    const types = Object.fromEntries(lines.map((l) => [l.destination.slice(prefix.length), l.object.contentType]));
    expect(types).toEqual({
      "a.txt": "text/plain",
      "b.json": "application/json",
      "sub/c.bin": "application/octet-stream",
      "sub/deeper/d.log": "text/plain",
      "sub/deeper/e.log": "text/plain",
    });
    expect(lines.every((l) => /^[0-9a-f]{8}$/.test(l.object.crc32c))).toBe(true);

    // remote -> remote, across schemes, without the trailing "/" on either side.
    const copied = freshPrefix("file://bulk");
    const remote = await bulk.stowd(["cp", "-r", prefix.slice(0, -1), copied.slice(0, -1)]);
    expect(remote).toMatchObject({ code: 0, out: "", stderr: "" });
    expect(await remoteDigests(bulk.client, copied)).toEqual(digestsOf(sample));

    const target = join(bulk.dir, `down-${randomUUID()}`);
    const down = await bulk.stowd(["cp", "-r", "-j", "8", copied, target]);
    expect(down).toMatchObject({ code: 0, out: "", stderr: "" });
    expect(await localDigests(target)).toEqual(digestsOf(sample));
  });

  it("put -r and get -r do the same; get -r defaults to the current directory", async () => {
    const source = await mkdtemp(join(bulk.dir, "put-"));
    await writeTree(source, sample);
    const prefix = freshPrefix("mem://bulk");
    expect(await bulk.stowd(["put", "-r", source, prefix])).toMatchObject({ code: 0, stderr: "" });
    const cwd = await mkdtemp(join(bulk.dir, "get-"));
    expect(await bulk.stowd(["get", "-r", prefix], { cwd })).toMatchObject({ code: 0, stderr: "" });
    expect(await localDigests(cwd)).toEqual(digestsOf(sample));
  });

  it("a prefix without a trailing / is a directory: run1 never takes run10", async () => {
    const base = freshPrefix("mem://bulk");
    await bulk.client.write(`${base}run1/x`, "one");
    await bulk.client.write(`${base}run10/x`, "ten");
    const target = join(bulk.dir, `runs-${randomUUID()}`);
    expect(await bulk.stowd(["cp", "-r", `${base}run1`, target])).toMatchObject({ code: 0 });
    expect(await localDigests(target)).toEqual(digestsOf({ x: Buffer.from("one") }));
  });

  it("refuses what it cannot do, naming why", async () => {
    const empty = await bulk.stowd(["cp", "-r", freshPrefix("mem://bulk"), join(bulk.dir, "nothing")]);
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/nothing to copy: mem:\/\/bulk\/.*\/ holds no files/);
    const source = await mkdtemp(join(bulk.dir, "flags-"));
    await writeTree(source, { "a.txt": Buffer.from("a") });
    const jobs = await bulk.stowd(["cp", "-r", "-j", "0", source, freshPrefix("mem://bulk")]);
    expect(jobs.code).toBe(2);
    expect(jobs.stderr).toContain("--jobs takes a whole number >= 1");
    const dirWithoutR = await bulk.stowd(["cp", source, freshPrefix("mem://bulk")]);
    expect(dirWithoutR.code).toBe(2);
    expect(dirWithoutR.stderr).toContain("is a directory; copy it with cp -r");
  });
});

describe("wildcards", () => {
  it("ls, cp and rm take the objects a pattern matches in the last segments", async () => {
    const prefix = freshPrefix("mem://glob");
    for (const key of ["logs/a.log", "logs/b.log", "logs/c.txt", "logs/old/d.log", "other/e.log"])
      await bulk.client.write(`${prefix}${key}`, key);

    const ls = await bulk.stowd(["ls", `${prefix}logs/*.log`]);
    expect(ls.code).toBe(0);
    expect(
      ls.out
        .trim()
        .split("\n")
        .map((l) => l.split(/\s+/).at(-1)),
    ).toEqual([`${prefix}logs/a.log`, `${prefix}logs/b.log`]);
    const deep = await bulk.stowd(["--json", "ls", `${prefix}logs/**/*.log`]);
    expect((deep.json() as { reference: string }[]).map((o) => o.reference.slice(prefix.length))).toEqual([
      "logs/a.log",
      "logs/b.log",
      "logs/old/d.log",
    ]);

    const target = join(bulk.dir, `glob-${randomUUID()}`);
    expect(await bulk.stowd(["cp", `${prefix}logs/{a,c}.*`, `${target}/`])).toMatchObject({ code: 0, stderr: "" });
    expect(await localDigests(target)).toEqual(digestsOf({ "a.log": Buffer.from("logs/a.log"), "c.txt": Buffer.from("logs/c.txt") }));

    const removed = await bulk.stowd(["--json", "rm", `${prefix}logs/*.log`]);
    expect(removed.json()).toEqual([{ deleted: `${prefix}logs/a.log` }, { deleted: `${prefix}logs/b.log` }]);
    expect(Object.keys(await remoteDigests(bulk.client, prefix)).sort()).toEqual(["logs/c.txt", "logs/old/d.log", "other/e.log"]);
  });

  it("a pattern matching nothing exits 3 naming the pattern, for ls, cp and rm (rm -f: 0)", async () => {
    const pattern = `${freshPrefix("mem://glob")}*.nothing`;
    for (const args of [
      ["ls", pattern],
      ["cp", pattern, bulk.dir],
      ["rm", pattern],
    ]) {
      const result = await bulk.stowd(args);
      expect(result.code).toBe(3);
      expect(result.stderr).toBe(`stowd ${args[0]}: no object matches ${pattern}\n`);
    }
    expect(await bulk.stowd(["rm", "-f", pattern])).toMatchObject({ code: 0, stderr: "" });
  });
});
