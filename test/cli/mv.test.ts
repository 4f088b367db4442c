// stowd mv end to end against a real daemon: one object or file each way,
// -r and wildcards, the source gone only once the destination is complete,
// and the moves it refuses.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freshPrefix, useBulkFixture } from "./bulk-fixture.js";
import { digestsOf, localDigests, remoteDigests, writeTree, type Tree } from "./trees.js";

const bulk = useBulkFixture();

const tree: Tree = { "a.txt": Buffer.from("alpha\n"), "sub/b.log": Buffer.from("bravo\n"), "sub/c.log": Buffer.from("charlie\n") };

describe("stowd mv", () => {
  it("moves one object remote -> remote, remote -> local and local -> remote, deleting each source", async () => {
    const prefix = freshPrefix("mem://mv");
    await bulk.client.write(`${prefix}one.txt`, "moved\n");

    const remote = await bulk.stowd(["--json", "mv", `${prefix}one.txt`, `${prefix}copies/`]);
    expect(remote).toMatchObject({ code: 0, stderr: "" });
    expect(remote.json()).toMatchObject([{ source: `${prefix}one.txt`, destination: `${prefix}copies/one.txt`, bytes: 6 }]);
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf({ "copies/one.txt": Buffer.from("moved\n") }));

    const local = await mkdtemp(join(bulk.dir, "mv-"));
    expect(await bulk.stowd(["mv", `${prefix}copies/one.txt`, local])).toMatchObject({ code: 0, out: "", stderr: "" });
    expect(await readFile(join(local, "one.txt"), "utf8")).toBe("moved\n");
    expect(await remoteDigests(bulk.client, prefix)).toEqual({});

    expect(await bulk.stowd(["mv", join(local, "one.txt"), `file://mv/${prefix.slice("mem://mv/".length)}`])).toMatchObject({
      code: 0,
      stderr: "",
    });
    expect(existsSync(join(local, "one.txt"))).toBe(false);
    expect(await bulk.client.readBytes(`file://mv/${prefix.slice("mem://mv/".length)}one.txt`)).toEqual(
      new Uint8Array(Buffer.from("moved\n")),
    );
  });

  it("-r moves a directory up and a prefix across; a wildcard moves what it matches", async () => {
    const source = await mkdtemp(join(bulk.dir, "mv-r-"));
    await writeTree(source, tree);
    const prefix = freshPrefix("mem://mv");
    expect(await bulk.stowd(["mv", "-r", "-j", "2", source, prefix])).toMatchObject({ code: 0, stderr: "" });
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf(tree));
    expect(await localDigests(source)).toEqual({});

    const moved = freshPrefix("file://mv");
    expect(await bulk.stowd(["mv", "-r", prefix, moved])).toMatchObject({ code: 0, stderr: "" });
    expect(await remoteDigests(bulk.client, moved)).toEqual(digestsOf(tree));
    expect(await remoteDigests(bulk.client, prefix)).toEqual({});

    const logs = freshPrefix("mem://mv");
    expect(await bulk.stowd(["mv", `${moved}sub/*.log`, logs])).toMatchObject({ code: 0, stderr: "" });
    expect(await remoteDigests(bulk.client, logs)).toEqual(
      digestsOf({ "b.log": tree["sub/b.log"] as Buffer, "c.log": tree["sub/c.log"] as Buffer }),
    );
    expect(await remoteDigests(bulk.client, moved)).toEqual(digestsOf({ "a.txt": tree["a.txt"] as Buffer }));
  });

  it("refuses a move onto itself and a directory without -r, keeping the source; a missing source exits 3", async () => {
    const prefix = freshPrefix("mem://mv");
    await bulk.client.write(`${prefix}k`, "keep");
    const itself = await bulk.stowd(["mv", `${prefix}k`, `${prefix}k`]);
    expect(itself.code).toBe(2);
    expect(itself.stderr).toContain(`${prefix}k would be moved onto itself`);
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf({ k: Buffer.from("keep") }));

    const directory = await mkdtemp(join(bulk.dir, "mv-dir-"));
    await writeFile(join(directory, "f"), "f");
    const noR = await bulk.stowd(["mv", directory, prefix]);
    expect(noR.code).toBe(2);
    expect(noR.stderr).toContain("is a directory; move it with mv -r");
    expect(await localDigests(directory)).toEqual(digestsOf({ f: Buffer.from("f") }));

    const missing = await bulk.stowd(["mv", `${prefix}nothing`, `${prefix}elsewhere`]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(`${prefix}nothing does not exist`);
  });
});
