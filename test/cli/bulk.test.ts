// Bulk commands end to end, the CLI as a child process against a real
// daemon: cp -r / put -r / get -r each way, wildcards in ls, cp and rm (and a
// pattern matching nothing), -j, content types from extensions.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { runStowd, type RunOptions } from "./stowd-process.js";

let daemon: TestDaemon;
let client: StowdClient;
let dir: string;

beforeAll(async () => {
  daemon = await startTestDaemon();
  client = createStowdClient({ baseUrl: daemon.grpcUrl, timeoutMs: 60_000 });
  dir = await mkdtemp(join(tmpdir(), "stowd-cli-bulk-"));
});

afterAll(async () => {
  client?.close();
  await daemon?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function stowd(args: string[], options: RunOptions = {}) {
  return runStowd(args, { address: daemon.grpcAddress, ...options });
}

const fresh = (base: string) => `${base}/${randomUUID()}/`;

/** A local tree: relative path -> content. */
type Tree = Record<string, Buffer>;

async function writeTree(root: string, tree: Tree): Promise<void> {
  for (const [relative, content] of Object.entries(tree)) {
    await mkdir(join(root, relative, ".."), { recursive: true });
    await writeFile(join(root, relative), content);
  }
}

/** Every file under root (temp files included, so a leftover shows), relative path -> content. */
async function readTree(root: string): Promise<Tree> {
  const tree: Tree = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile())
      tree[join(entry.parentPath, entry.name).slice(root.length + 1)] = await readFile(join(entry.parentPath, entry.name));
  }
  return tree;
}

/** Every object under prefix, key relative to it -> content. */
async function remoteTree(prefix: string): Promise<Tree> {
  const tree: Tree = {};
  for await (const entry of client.list(prefix)) {
    if (entry.kind === "object")
      tree[entry.info.reference.slice(prefix.length)] = Buffer.from(await client.readBytes(entry.info.reference));
  }
  return tree;
}

const sample: Tree = {
  "a.txt": Buffer.from("alpha\n"),
  "b.json": Buffer.from('{"b":1}\n'),
  "sub/c.bin": randomBytes(300_000),
  "sub/deeper/d.log": Buffer.from("log line\n"),
  "sub/deeper/e.log": Buffer.from(""),
};

describe("cp -r", () => {
  it("uploads a directory, copies the prefix remote -> remote and downloads it back, byte for byte", async () => {
    const source = await mkdtemp(join(dir, "up-"));
    await writeTree(source, sample);
    const prefix = fresh("mem://bulk");

    const up = await stowd(["--json", "cp", "-r", "-j", "3", source, prefix]);
    expect(up).toMatchObject({ code: 0, stderr: "" });
    const lines = up.json() as { source: string; destination: string; bytes: number; object: { contentType: string; crc32c: string } }[];
    expect(lines.map((l) => l.destination).sort()).toEqual(
      Object.keys(sample)
        .map((k) => `${prefix}${k}`)
        .sort(),
    );
    expect(await remoteTree(prefix)).toEqual(sample);
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
    const copied = fresh("file://bulk");
    const remote = await stowd(["cp", "-r", prefix.slice(0, -1), copied.slice(0, -1)]);
    expect(remote).toMatchObject({ code: 0, out: "", stderr: "" });
    expect(await remoteTree(copied)).toEqual(sample);

    const target = join(dir, `down-${randomUUID()}`);
    const down = await stowd(["cp", "-r", "-j", "8", copied, target]);
    expect(down).toMatchObject({ code: 0, out: "", stderr: "" });
    expect(await readTree(target)).toEqual(sample);
  });

  it("put -r and get -r do the same; get -r defaults to the current directory", async () => {
    const source = await mkdtemp(join(dir, "put-"));
    await writeTree(source, sample);
    const prefix = fresh("mem://bulk");
    expect(await stowd(["put", "-r", source, prefix])).toMatchObject({ code: 0, stderr: "" });
    const cwd = await mkdtemp(join(dir, "get-"));
    expect(await stowd(["get", "-r", prefix], { cwd })).toMatchObject({ code: 0, stderr: "" });
    expect(await readTree(cwd)).toEqual(sample);
  });

  it("a prefix without a trailing / is a directory: run1 never takes run10", async () => {
    const base = fresh("mem://bulk");
    await client.write(`${base}run1/x`, "one");
    await client.write(`${base}run10/x`, "ten");
    const target = join(dir, `runs-${randomUUID()}`);
    expect(await stowd(["cp", "-r", `${base}run1`, target])).toMatchObject({ code: 0 });
    expect(await readTree(target)).toEqual({ x: Buffer.from("one") });
  });

  it("refuses what it cannot do, naming why", async () => {
    const empty = await stowd(["cp", "-r", fresh("mem://bulk"), join(dir, "nothing")]);
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/nothing to copy: mem:\/\/bulk\/.*\/ holds no files/);
    const source = await mkdtemp(join(dir, "flags-"));
    await writeTree(source, { "a.txt": Buffer.from("a") });
    const jobs = await stowd(["cp", "-r", "-j", "0", source, fresh("mem://bulk")]);
    expect(jobs.code).toBe(2);
    expect(jobs.stderr).toContain("--jobs takes a whole number >= 1");
    const dirWithoutR = await stowd(["cp", source, fresh("mem://bulk")]);
    expect(dirWithoutR.code).toBe(2);
    expect(dirWithoutR.stderr).toContain("is a directory; copy it with cp -r");
  });
});

describe("wildcards", () => {
  it("ls, cp and rm take the objects a pattern matches in the last segments", async () => {
    const prefix = fresh("mem://glob");
    for (const key of ["logs/a.log", "logs/b.log", "logs/c.txt", "logs/old/d.log", "other/e.log"])
      await client.write(`${prefix}${key}`, key);

    const ls = await stowd(["ls", `${prefix}logs/*.log`]);
    expect(ls.code).toBe(0);
    expect(
      ls.out
        .trim()
        .split("\n")
        .map((l) => l.split(/\s+/).at(-1)),
    ).toEqual([`${prefix}logs/a.log`, `${prefix}logs/b.log`]);
    const deep = await stowd(["--json", "ls", `${prefix}logs/**/*.log`]);
    expect((deep.json() as { reference: string }[]).map((o) => o.reference.slice(prefix.length))).toEqual([
      "logs/a.log",
      "logs/b.log",
      "logs/old/d.log",
    ]);

    const target = join(dir, `glob-${randomUUID()}`);
    expect(await stowd(["cp", `${prefix}logs/{a,c}.*`, `${target}/`])).toMatchObject({ code: 0, stderr: "" });
    expect(await readTree(target)).toEqual({ "a.log": Buffer.from("logs/a.log"), "c.txt": Buffer.from("logs/c.txt") });

    const removed = await stowd(["--json", "rm", `${prefix}logs/*.log`]);
    expect(removed.json()).toEqual([{ deleted: `${prefix}logs/a.log` }, { deleted: `${prefix}logs/b.log` }]);
    expect(Object.keys(await remoteTree(prefix)).sort()).toEqual(["logs/c.txt", "logs/old/d.log", "other/e.log"]);
  });

  it("a pattern matching nothing exits 3 naming the pattern, for ls, cp and rm (rm -f: 0)", async () => {
    const pattern = `${fresh("mem://glob")}*.nothing`;
    for (const args of [
      ["ls", pattern],
      ["cp", pattern, dir],
      ["rm", pattern],
    ]) {
      const result = await stowd(args);
      expect(result.code).toBe(3);
      expect(result.stderr).toBe(`stowd ${args[0]}: no object matches ${pattern}\n`);
    }
    expect(await stowd(["rm", "-f", pattern])).toMatchObject({ code: 0, stderr: "" });
  });
});
