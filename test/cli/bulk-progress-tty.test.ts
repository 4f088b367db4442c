// A parallel bulk copy on a real terminal (script(1) gives the CLI a
// pseudo-terminal) draws one bar for all its files: files done / total,
// bytes, rate and ETA, ending at 100% with every object in place.
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startChild } from "../helpers/child-process.js";
import { freshPrefix, useBulkFixture } from "./bulk-fixture.js";
import { STOWD_COMMAND } from "./stowd-process.js";
import { digestsOf, remoteDigests, writeTree, type Tree } from "./trees.js";

const bulk = useBulkFixture();

const quote = (arg: string) => `'${arg.replace(/'/g, "'\\''")}'`;

/** Runs `argv` under script(1) (-q no banner, -e its exit code, -c the command); what the terminal showed. */
async function onTerminal(argv: readonly string[]): Promise<{ code: number | null; screen: string }> {
  // stdin ignored: script forwards its stdin to the terminal and must not wait on a pipe no one closes.
  const script = startChild("script", ["-qec", argv.map(quote).join(" "), "/dev/null"], {
    stdio: ["ignore", "pipe", "pipe"],
    keepStderrLines: 0,
  });
  let screen = "";
  script.proc.stdout?.on("data", (chunk: Buffer) => (screen += chunk.toString()));
  script.proc.stderr?.on("data", (chunk: Buffer) => (screen += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => script.proc.once("close", resolve));
  return { code, screen };
}

describe("cp -r -j on a terminal", () => {
  it("draws one bar for every file: files done / total, bytes, rate and ETA", async () => {
    const source = await mkdtemp(join(bulk.dir, "tty-"));
    const files: Tree = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`f${i}.bin`, randomBytes(512 * 1024)]));
    await writeTree(source, files);
    const prefix = freshPrefix("mem://tty");

    const { code, screen } = await onTerminal([
      ...STOWD_COMMAND,
      "--address",
      bulk.daemon.grpcAddress,
      "cp",
      "-r",
      "-j",
      "2",
      source,
      prefix,
    ]);
    expect(code).toBe(0);
    const frames = screen
      .split(/\r|\x1b\[1G/) // eslint-disable-line no-control-regex
      .map((f) => f.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "").trim()) // eslint-disable-line no-control-regex
      .filter((f) => f !== "");
    expect(frames[0]).toMatch(/^0\/4 files \[-*\] 0% \| 0 B \/ 2\.0 MiB \| 0 B\/s \| ETA /);
    expect(frames.at(-1)).toMatch(/^4\/4 files \[=+\] 100% \| 2\.0 MiB \/ 2\.0 MiB \| [\d.]+ [KMG]?i?B\/s \| ETA 0s$/);
    expect(await remoteDigests(bulk.client, prefix)).toEqual(digestsOf(files));
  });
});
