// stowd sync end to end against a real daemon: local dir -> prefix, prefix ->
// local dir and prefix -> prefix copy only what is missing or differs (same
// size, other bytes: found by CRC32C), --delete, --dry-run, refusals.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freshPrefix, useBulkFixture } from "./bulk-fixture.js";
import { digestsOf, localDigests, remoteDigests, writeTree, type Tree } from "./trees.js";

const bulk = useBulkFixture();

const tree: Tree = {
  "a.txt": Buffer.from("alpha\n"),
  "b.bin": randomBytes(100_000),
  "sub/c.txt": Buffer.from("charlie\n"),
};

/** The destinations of sync --json's lines, sorted. */
const destinations = (lines: unknown[]) => lines.map((l) => (l as { destination: string }).destination).sort();

describe("stowd sync", () => {
  it("local dir -> prefix: copies what is missing or differs, --dry-run changes nothing, --delete removes the extra", async () => {
    const source = await mkdtemp(join(bulk.dir, "sync-up-"));
    await writeTree(source, tree);
    // The temp file of a download a killed CLI left: not part of the tree.
    await writeFile(join(source, ".a.txt.stowd-0123abcd.part"), "partial");
    const prefix = freshPrefix("file://sync");

    const first = await bulk.stowd(["--json", "sync", "-j", "2", source, prefix]);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(destinations(first.json())).toEqual(["a.txt", "b.bin", "sub/c.txt"].map((k) => `${prefix}${k}`));
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf(tree));

    // Same size, other bytes (only the CRC32C tells), a new file, a file gone.
    await writeFile(join(source, "a.txt"), "ALPHA\n");
    await writeFile(join(source, "d.txt"), "delta\n");
    await rm(join(source, "sub/c.txt"));
    const changed = { "a.txt": Buffer.from("ALPHA\n"), "b.bin": tree["b.bin"] as Buffer, "d.txt": Buffer.from("delta\n") };

    const dry = await bulk.stowd(["sync", "--dry-run", "--delete", source, prefix]);
    expect(dry).toMatchObject({ code: 0, stderr: "" });
    expect(dry.out.split("\n").sort()).toEqual(
      [
        "",
        `copy ${join(source, "a.txt")} -> ${prefix}a.txt`,
        `copy ${join(source, "d.txt")} -> ${prefix}d.txt`,
        `delete ${prefix}sub/c.txt`,
      ].sort(),
    );
    const dryJson = await bulk.stowd(["--json", "sync", "--dry-run", "--delete", source, prefix]);
    expect(dryJson.json()).toContainEqual({ action: "delete", destination: `${prefix}sub/c.txt` });
    expect(dryJson.json()).toContainEqual({ action: "copy", source: join(source, "d.txt"), destination: `${prefix}d.txt`, bytes: 6 });
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf(tree));

    const second = await bulk.stowd(["--json", "sync", source, prefix]);
    expect(second).toMatchObject({ code: 0, stderr: "" });
    expect(destinations(second.json())).toEqual([`${prefix}a.txt`, `${prefix}d.txt`]);
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf({ ...changed, "sub/c.txt": tree["sub/c.txt"] as Buffer }));

    const withDelete = await bulk.stowd(["--json", "sync", "--delete", source, prefix]);
    expect(withDelete.json()).toEqual([{ deleted: `${prefix}sub/c.txt` }]);
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf(changed));

    expect(await bulk.stowd(["sync", "--delete", source, prefix])).toMatchObject({ code: 0, out: "", stderr: "" });
  });

  it("prefix -> local dir and prefix -> prefix: only what differs goes, --delete removes local extras", async () => {
    const prefix = freshPrefix("mem://sync");
    for (const [key, content] of Object.entries(tree)) await bulk.client.write(`${prefix}${key}`, content);

    const target = join(bulk.dir, `sync-down-${Date.now()}`);
    expect(await bulk.stowd(["sync", prefix, target])).toMatchObject({ code: 0, stderr: "" });
    expect(await localDigests(target)).toEqual(digestsOf(tree));
    await writeFile(join(target, "a.txt"), "ALPHA\n");
    await writeFile(join(target, "extra.txt"), "not in the source");
    const down = await bulk.stowd(["--json", "sync", "--delete", prefix, target]);
    expect(down.json()).toContainEqual({ deleted: join(target, "extra.txt") });
    expect(destinations(down.json().filter((l) => (l as { deleted?: string }).deleted === undefined))).toEqual([join(target, "a.txt")]);
    expect(await localDigests(target)).toEqual(digestsOf(tree));

    const copy = freshPrefix("file://sync");
    expect(await bulk.stowd(["sync", prefix, copy])).toMatchObject({ code: 0, stderr: "" });
    expect(await remoteDigests(bulk.client, copy)).toEqual(digestsOf(tree));
    await bulk.client.write(`${prefix}sub/c.txt`, "CHARLIE\n");
    const again = await bulk.stowd(["--json", "sync", prefix, copy]);
    expect(destinations(again.json())).toEqual([`${copy}sub/c.txt`]);
    expect(await remoteDigests(bulk.client, copy)).toEqual(digestsOf({ ...tree, "sub/c.txt": Buffer.from("CHARLIE\n") }));
  });

  it("refuses --delete with a wildcard source and two local directories; an empty source exits 3", async () => {
    const wildcard = await bulk.stowd(["sync", "--delete", `${freshPrefix("mem://sync")}*.txt`, bulk.dir]);
    expect(wildcard.code).toBe(2);
    expect(wildcard.stderr).toContain("--delete needs a whole directory or prefix as SRC, not a wildcard");
    const local = await bulk.stowd(["sync", bulk.dir, bulk.dir]);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain("for two local directories use rsync");
    const empty = await bulk.stowd(["sync", freshPrefix("mem://sync"), bulk.dir]);
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/nothing to copy: mem:\/\/sync\/.*\/ holds no files/);
  });
});
