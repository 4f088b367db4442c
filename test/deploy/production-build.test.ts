// The production build the image copies: scripts/build.mjs (npm run build)
// into a fresh directory laid out as the image's /app (dist/ with
// node_modules beside it, no sources), then the image's entry point
// (`node dist/cli/main.js serve`, configured as the image is: STOWD_CONFIG =
// deploy/container.yaml, STOWD_* env overrides) starts and serves: /healthz,
// the image's healthcheck script, and a round trip with the built CLI onto
// the data directory. The compiled npm start entry (dist/server/main.js)
// serves too.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runStowd, startServing, type ServingDaemon } from "../cli/stowd-process.js";

const run = promisify(execFile);
let app: string;
let data: string;
const daemons: ServingDaemon[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "stowd-prod-"));
  app = join(dir, "app");
  data = join(dir, "data");
  await mkdir(data);
  await run(process.execPath, [join(REPO_ROOT, "scripts/build.mjs"), "--out-dir", join(app, "dist")], { cwd: REPO_ROOT, timeout: 240_000 });
  // The image installs production node_modules beside dist/; the test links the repository's.
  await symlink(join(REPO_ROOT, "node_modules"), join(app, "node_modules"), "dir");
}, 300_000);

afterAll(async () => {
  for (const d of daemons) await d.stop();
  if (app) await rm(join(app, ".."), { recursive: true, force: true });
});

/** The image's environment: config from deploy/container.yaml, loopback free ports and the data dir through env overrides. */
function imageEnv(): NodeJS.ProcessEnv {
  return {
    NODE_ENV: "production",
    STOWD_CONFIG: join(REPO_ROOT, "deploy/container.yaml"),
    STOWD_GRPC_ADDRESS: "127.0.0.1:0",
    STOWD_HTTP_ADDRESS: "127.0.0.1:0",
    STOWD_DATA_DIR: data,
  };
}

async function healthcheck(httpAddress: string): Promise<number> {
  return run(process.execPath, [join(REPO_ROOT, "deploy/healthcheck.mjs")], { env: { ...process.env, STOWD_HTTP_ADDRESS: httpAddress } }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
}

describe("production build", () => {
  it("holds the compiled daemon, SDK, CLI and gen/ with its own package.json, and no sources or tests", async () => {
    const dist = join(app, "dist");
    expect((await readdir(dist)).sort()).toEqual(["cli", "client", "gen", "package.json", "server"]);
    const pkg = JSON.parse(await readFile(join(dist, "package.json"), "utf8")) as Record<string, unknown>;
    const root = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { version: string; bin: Record<string, string> };
    expect(pkg).toMatchObject({ type: "module", version: root.version });
    expect(root.bin.stowd).toBe("dist/cli/main.js");
    const main = await readFile(join(dist, "cli/main.js"), "utf8");
    expect(main.startsWith("#!/usr/bin/env node\n")).toBe(true);
    const files = await readdir(dist, { recursive: true });
    expect(files.filter((f) => f.endsWith(".ts"))).toEqual([]);
  });

  it("the image's entry point serves: /healthz, the healthcheck script, a round trip with the built CLI", async () => {
    const daemon = await startServing([process.execPath, join(app, "dist/cli/main.js"), "serve"], { cwd: app, env: imageEnv() });
    daemons.push(daemon);
    const health = await fetch(`http://${daemon.http}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok\n");
    expect(await healthcheck(daemon.http)).toBe(0);

    const cli = { command: [process.execPath, join(app, "dist/cli/main.js")], address: daemon.grpc, cwd: app };
    const put = await runStowd(["put", "-", "file://bucket/round/trip.txt"], { ...cli, stdin: "through the production build\n" });
    expect(put).toMatchObject({ code: 0, stderr: "" });
    const cat = await runStowd(["cat", "file://bucket/round/trip.txt"], cli);
    expect(cat).toMatchObject({ code: 0, out: "through the production build\n" });
    // file:// lands in the data directory (the image's /data volume).
    expect(await readFile(join(data, "bucket/round/trip.txt"), "utf8")).toBe("through the production build\n");
    const info = await runStowd(["info", "--json"], cli);
    const root = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    expect(info.json()[0]).toMatchObject({ version: root.version, backends: [{ scheme: "file" }, { scheme: "mem" }] });

    expect(await daemon.stop()).toBe(0);
    expect(await healthcheck(daemon.http)).toBe(1); // nothing answers any more
  });

  it("the compiled npm start entry (dist/server/main.js) serves too", async () => {
    const daemon = await startServing(
      [process.execPath, join(app, "dist/server/main.js"), "--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0", "--data-dir", data],
      { cwd: app, env: { NODE_ENV: "production" } },
    );
    daemons.push(daemon);
    expect((await fetch(`http://${daemon.http}/healthz`)).status).toBe(200);
    const cli = { command: [process.execPath, join(app, "dist/cli/main.js")], address: daemon.grpc };
    expect((await runStowd(["put", "-", "mem://b/npm-start.txt"], { ...cli, stdin: "x" })).code).toBe(0);
    const ls = await runStowd(["ls", "mem://b/"], cli);
    expect(ls.out).toContain("mem://b/npm-start.txt");
    expect(await daemon.stop()).toBe(0);
  });
});
