// `stowd serve` is the daemon `npm start` runs: a config file, flags, the
// container policy and the download limit apply, SIGTERM stops it cleanly.
// The permission error gives the CLI's exit code 4.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runStowd, startServing, STOWD_COMMAND, type ServingDaemon } from "./stowd-process.js";

let dir: string;
let daemon: ServingDaemon;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stowd-cli-serve-"));
  const config = join(dir, "stowd.yaml");
  await writeFile(
    config,
    ["storage:", "  type: mem", "  container: allowed", "  enable-multicontainer: false", "  limits:", "    maxDownloadMBs: 1", ""].join(
      "\n",
    ),
  );
  daemon = await startServing([
    ...STOWD_COMMAND,
    "serve",
    "--config",
    config,
    "--grpc-address",
    "127.0.0.1:0",
    "--http-address",
    "127.0.0.1:0",
  ]);
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const stowd = (args: string[], stdin?: Buffer) => runStowd(args, { address: daemon.grpc, ...(stdin === undefined ? {} : { stdin }) });

describe("stowd serve", () => {
  it("serves the configured store on both ports", async () => {
    const health = await fetch(`http://${daemon.http}/healthz`);
    expect(health.status).toBe(200);
    const info = await stowd(["info", "--json"]);
    expect(info.code).toBe(0);
    expect(info.json()[0]).toMatchObject({
      backends: [{ scheme: "mem", kind: "memory" }],
      limits: { maxDownloadBytes: 1024 * 1024 },
    });
    expect((await stowd(["put", "-", "mem://allowed/hello.txt"], Buffer.from("hi"))).code).toBe(0);
    expect((await stowd(["cat", "mem://allowed/hello.txt"])).out).toBe("hi");
  });

  it("a container the policy refuses exits 4; a read over the download limit exits 1 with Flyte's message", async () => {
    const denied = await stowd(["put", "-", "mem://other/x"], Buffer.from("x"));
    expect(denied.code).toBe(4);
    expect(denied.stderr).toContain("enable-multicontainer");
    expect((await stowd(["stat", "mem://other/x"])).code).toBe(4);

    expect((await stowd(["put", "-", "mem://allowed/big"], Buffer.alloc(1024 * 1024 + 1))).code).toBe(0);
    const limited = await stowd(["cat", "mem://allowed/big"]);
    expect(limited.code).toBe(1);
    expect(limited.stderr).toContain("limit exceeded");
    expect(limited.stdout.length).toBe(0);
  });

  it("--help shows the daemon's options, the same text npm start prints", async () => {
    const serveHelp = await runStowd(["serve", "--help"]);
    expect(serveHelp.code).toBe(0);
    expect(serveHelp.out).toMatch(/^stowd serve \[options\] runs the daemon that `npm start` runs/);
    const npmStartHelp = await runStowd(["--help"], {
      command: [STOWD_COMMAND[0] ?? "", STOWD_COMMAND[1] ?? "", STOWD_COMMAND[2] ?? "", join(REPO_ROOT, "server/main.ts")],
    });
    expect(npmStartHelp.code).toBe(0);
    expect(npmStartHelp.out).toContain("--grpc-address H:P");
    expect(serveHelp.out.endsWith(npmStartHelp.out)).toBe(true);
  });

  it("a bad daemon flag exits 2 with the daemon's message; options before serve exit 2", async () => {
    const bad = await runStowd(["serve", "--grpc-adress", "x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--grpc-adress");
    expect((await runStowd(["--json", "serve"])).code).toBe(2);
  });

  it("stops on SIGTERM with exit code 0", async () => {
    const other = await startServing([
      ...STOWD_COMMAND,
      "serve",
      "--grpc-address",
      "127.0.0.1:0",
      "--http-address",
      "127.0.0.1:0",
      "--data-dir",
      join(dir, "data"),
    ]);
    expect(await other.stop()).toBe(0);
  });
});
