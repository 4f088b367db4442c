// An interrupted bulk transfer (Ctrl-C's SIGINT, or SIGKILL: no cleanup runs
// at all) leaves no partial object or file: each is absent or whole and
// byte-identical. Running it again finishes the rest; sync's re-run copies
// only what the first run did not; an interrupted mv loses nothing.
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startChild } from "../helpers/child-process.js";
import { freshPrefix, useBulkFixture } from "./bulk-fixture.js";
import { isPartialDownload } from "../../cli/transfer.js";
import { STOWD_COMMAND } from "./stowd-process.js";
import { digestsOf, entriesNotIn, localDigests, remoteDigests, writeTree, type Tree } from "./trees.js";

const bulk = useBulkFixture();

const FILES = 16;
const files: Tree = Object.fromEntries(
  Array.from({ length: FILES }, (_, i) => [`part-${String(i).padStart(2, "0")}.bin`, randomBytes(256 * 1024)]),
);
const expected = digestsOf(files);

/** Runs the CLI (--json, one at a time), sends `signal` once `done` files are reported on stdout; its exit code and signal. */
async function interruptAfter(
  args: string[],
  done: number,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const [program = "", ...prefix] = STOWD_COMMAND;
  // stdin ignored, stderr ignored, stdout read to the end: no pipe is left undrained or open.
  const cli = startChild(program, [...prefix, "--address", bulk.daemon.grpcAddress, "--json", ...args, "-j", "1"], {
    stdio: ["ignore", "pipe", "ignore"],
    keepStderrLines: 0,
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    cli.proc.once("close", (code, killedBy) => resolve({ code, signal: killedBy })),
  );
  let lines = 0;
  await new Promise<void>((resolve) => {
    cli.proc.stdout?.on("data", (chunk: Buffer) => {
      lines += chunk.toString().split("\n").length - 1;
      if (lines >= done) resolve();
    });
    void cli.exited.then(() => resolve());
  });
  cli.signal(signal);
  return ended;
}

/** The source names a re-run copied (--json lines), relative to `base`. */
const copiedNames = (lines: unknown[], base: string) =>
  lines.map((l) => (l as { destination: string }).destination.slice(base.length)).sort();

describe.each(["SIGINT", "SIGKILL"] as const)("a bulk upload stopped by %s", (signal) => {
  const stopped = signal === "SIGINT" ? { code: 130, signal: null } : { code: null, signal: "SIGKILL" };

  it("cp -r: leaves only whole objects; a re-run completes every byte", async () => {
    const source = await mkdtemp(join(bulk.dir, "int-cp-"));
    await writeTree(source, files);
    const prefix = freshPrefix("file://interrupted");
    expect(await interruptAfter(["cp", "-r", source, prefix], 2, signal)).toEqual(stopped);
    const partial = await remoteDigests(bulk.client, prefix);
    expect(Object.keys(partial).length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(partial).length).toBeLessThan(FILES);
    expect(entriesNotIn(partial, expected)).toEqual([]);

    expect(await bulk.stowd(["cp", "-r", source, prefix])).toMatchObject({ code: 0, stderr: "" });
    expect(await remoteDigests(bulk.client, prefix)).toEqual(expected);
  });

  it("sync: leaves only whole objects; a re-run copies only what is missing", async () => {
    const source = await mkdtemp(join(bulk.dir, "int-sync-"));
    await writeTree(source, files);
    const prefix = freshPrefix("file://interrupted");
    expect(await interruptAfter(["sync", source, prefix], 2, signal)).toEqual(stopped);
    const partial = await remoteDigests(bulk.client, prefix);
    expect(Object.keys(partial).length).toBeLessThan(FILES);
    expect(entriesNotIn(partial, expected)).toEqual([]);

    const rerun = await bulk.stowd(["--json", "sync", source, prefix]);
    expect(rerun).toMatchObject({ code: 0, stderr: "" });
    // A write the daemon committed just after the kill may be in `partial` or not; nothing already there is copied again.
    const copied = copiedNames(rerun.json(), prefix);
    expect(copied.filter((name) => name in partial)).toEqual([]);
    expect([...copied, ...Object.keys(partial)].sort()).toEqual(Object.keys(files).sort());
    expect(await remoteDigests(bulk.client, prefix)).toEqual(expected);
  });

  it("mv -r: each file is at its source or whole at its destination; a re-run moves the rest", async () => {
    const source = await mkdtemp(join(bulk.dir, "int-mv-"));
    await writeTree(source, files);
    const prefix = freshPrefix("file://interrupted");
    expect(await interruptAfter(["mv", "-r", source, prefix], 2, signal)).toEqual(stopped);
    const moved = await remoteDigests(bulk.client, prefix);
    const left = await localDigests(source);
    expect(entriesNotIn(moved, expected)).toEqual([]);
    expect(entriesNotIn(left, expected)).toEqual([]);
    expect(Object.keys(left).length).toBeGreaterThan(0);
    expect(new Set([...Object.keys(moved), ...Object.keys(left)])).toEqual(new Set(Object.keys(files)));

    expect(await bulk.stowd(["mv", "-r", source, prefix])).toMatchObject({ code: 0, stderr: "" });
    expect(await remoteDigests(bulk.client, prefix)).toEqual(expected);
    expect(await localDigests(source)).toEqual({});
  });
});

describe.each(["SIGINT", "SIGKILL"] as const)("a bulk download stopped by %s", (signal) => {
  it("cp -r: leaves only whole files under their names; a re-run completes every byte", async () => {
    const prefix = freshPrefix("mem://interrupted");
    for (const [key, content] of Object.entries(files)) await bulk.client.write(`${prefix}${key}`, content);
    const target = await mkdtemp(join(bulk.dir, "int-down-"));
    const stopped = signal === "SIGINT" ? { code: 130, signal: null } : { code: null, signal: "SIGKILL" };
    expect(await interruptAfter(["cp", "-r", prefix, target], 2, signal)).toEqual(stopped);
    const found = Object.keys(await localDigests(target));
    const temps = found.filter((name) => isPartialDownload(name));
    // Ctrl-C removes the temp file of the download it stopped; SIGKILL leaves it, under its temp name.
    expect(temps.length).toBeLessThanOrEqual(signal === "SIGINT" ? 0 : 1);
    const partial = await localDigests(target);
    for (const temp of temps) delete partial[temp];
    expect(Object.keys(partial).length).toBeLessThan(FILES);
    expect(entriesNotIn(partial, expected)).toEqual([]);

    expect(await bulk.stowd(["cp", "-r", prefix, target])).toMatchObject({ code: 0, stderr: "" });
    const complete = await localDigests(target);
    for (const temp of temps) delete complete[temp];
    expect(complete).toEqual(expected);
    // A leftover temp file is no file of the tree (sync.test.ts): syncing back finds nothing to copy.
    expect(await bulk.stowd(["sync", target, prefix])).toMatchObject({ code: 0, out: "", stderr: "" });
  });
});
