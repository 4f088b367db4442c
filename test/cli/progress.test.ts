// A 100 MiB cp each way with a terminal (util-linux script(1) gives the CLI
// a pseudo-terminal): the progress bar is drawn up to 100%, the bytes arrive
// intact. The same copies through pipes print nothing at all.
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { runStowd, STOWD_COMMAND } from "./stowd-process.js";

const MiB = 1024 * 1024;
const SIZE = 100 * MiB;
const run = promisify(execFile);

let daemon: TestDaemon;
let client: StowdClient;
let dir: string;
let source: string;
let sourceSha: string;

beforeAll(async () => {
  daemon = await startTestDaemon();
  client = createStowdClient({ baseUrl: daemon.grpcUrl, timeoutMs: 120_000 });
  dir = await mkdtemp(join(tmpdir(), "stowd-cli-progress-"));
  source = join(dir, "big.bin");
  // Written in 1 MiB pieces: the test never holds the 100 MiB either.
  const hash = createHash("sha256");
  await pipeline(
    (async function* () {
      for (let i = 0; i < SIZE / MiB; i++) {
        const chunk = randomBytes(MiB);
        hash.update(chunk);
        yield chunk;
      }
    })(),
    createWriteStream(source),
  );
  sourceSha = hash.digest("hex");
}, 120_000);

afterAll(async () => {
  client?.close();
  await daemon?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

const quote = (arg: string) => `'${arg.replace(/'/g, "'\\''")}'`;

/** Runs the CLI under script(1): its stdout and stderr are a pseudo-terminal, whose output script copies to ours. */
async function underTerminal(args: string[]): Promise<string> {
  const command = [...STOWD_COMMAND, "--address", daemon.grpcAddress, ...args].map(quote).join(" ");
  // -q no banner, -f flush as it goes, -e the command's exit code, -c the command; the typescript file is discarded.
  const { stdout } = await run("script", ["-qfec", command, "/dev/null"], { maxBuffer: 16 * MiB, timeout: 120_000 });
  return stdout;
}

/** The bar's last frame: cli-progress redraws the line in place, so split on carriage returns and cursor moves. */
function frames(output: string): string[] {
  return output
    .split(/\r|\x1b\[1G/) // eslint-disable-line no-control-regex
    .map((f) => f.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, "").trim()) // eslint-disable-line no-control-regex
    .filter((f) => f !== "");
}

describe("100 MiB cp with a terminal", () => {
  it("draws the upload's progress to 100% on the terminal and stores every byte", async () => {
    const ref = "file://progress/up/big.bin";
    const output = await underTerminal(["cp", source, ref]);
    const drawn = frames(output);
    expect(drawn.length).toBeGreaterThan(1);
    const last = drawn[drawn.length - 1] ?? "";
    expect(last).toMatch(
      /^big\.bin -> file:\/\/progress\/up\/big\.bin \[=+\] 100% \| 100\.0 MiB \/ 100\.0 MiB \| [\d.]+ [KMG]?i?B\/s \| ETA 0s$/,
    );
    expect(drawn[0]).toMatch(/ 0% \| 0 B \/ 100\.0 MiB/);
    const info = await client.head(ref);
    expect(info?.size).toBe(SIZE);
    const copied = join(dir, "check-up.bin");
    await pipeline(client.readStream(ref), createWriteStream(copied));
    expect(await sha256(copied)).toBe(sourceSha);
    await rm(copied);
  });

  it("draws the download's progress to 100% and writes the file intact", async () => {
    const ref = "file://progress/down/big.bin";
    await client.write(ref, createReadStream(source), { size: SIZE });
    const target = join(dir, "down.bin");
    const output = await underTerminal(["cp", ref, target]);
    const last = frames(output).at(-1) ?? "";
    expect(last).toMatch(/^file:\/\/progress\/down\/big\.bin -> .*down\.bin \[=+\] 100% \| 100\.0 MiB \/ 100\.0 MiB \|/);
    expect(await sha256(target)).toBe(sourceSha);
    await rm(target);
  });
});

describe("100 MiB cp without a terminal", () => {
  it("prints nothing on stdout or stderr, either way", async () => {
    const ref = "file://progress/quiet/big.bin";
    const up = await runStowd(["cp", source, ref], { address: daemon.grpcAddress });
    expect(up).toMatchObject({ code: 0, out: "", stderr: "" });
    const target = join(dir, "quiet.bin");
    const down = await runStowd(["cp", ref, target], { address: daemon.grpcAddress });
    expect(down).toMatchObject({ code: 0, out: "", stderr: "" });
    expect(await sha256(target)).toBe(sourceSha);
    expect((await readdir(dir)).sort()).toEqual(["big.bin", "quiet.bin"]); // no temp file left
  });

  it("--no-progress keeps a terminal quiet too", async () => {
    const output = await underTerminal(["--no-progress", "cp", source, "file://progress/noprogress/big.bin"]);
    expect(frames(output)).toEqual([]);
  });
});
