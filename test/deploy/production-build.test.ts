// The production build the image copies: scripts/build.mjs (npm run build)
// into a fresh directory laid out as the image's /app (dist/ with
// node_modules and healthcheck.mjs beside it, no sources), then the image's
// entry point (`node dist/cli/main.js serve`) with the image's configs and
// its 0.0.0.0 listen addresses (port 0), in the three ways it can start:
// with deploy/container-tls.yaml, test certificates (openssl) and
// STOWD_AUTH_TOKEN it serves TLS: /healthz and /readyz over https, the
// healthcheck script choosing https from the config, a round trip with the
// built CLI using the token and the CA onto the data directory; with
// deploy/container.yaml and no TLS or auth it exits 2 naming --insecure; with
// STOWD_INSECURE=true it serves cleartext and logs a warning. The compiled
// npm start entry (dist/server/main.js) serves too. The test itself talks
// only to 127.0.0.1.
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { get as httpsGet } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCerts, type TestCerts } from "../security/certs.js";
import { REPO_ROOT, runStowd, startServing, type ServingDaemon } from "../cli/stowd-process.js";

const run = promisify(execFile);
const TOKEN = "production-build-token-0123456789";
let app: string;
let data: string;
let certs: TestCerts;
/** deploy/container-tls.yaml with /etc/stowd/tls/ moved to the test certificate's directory. */
let tlsConfig: string;
const plainConfig = join(REPO_ROOT, "deploy/container.yaml");
const daemons: ServingDaemon[] = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "stowd-prod-"));
  app = join(dir, "app");
  data = join(dir, "data");
  await mkdir(data);
  await run(process.execPath, [join(REPO_ROOT, "scripts/build.mjs"), "--out-dir", join(app, "dist")], { cwd: REPO_ROOT, timeout: 240_000 });
  // The image installs production node_modules beside dist/; the test links the repository's.
  await symlink(join(REPO_ROOT, "node_modules"), join(app, "node_modules"), "dir");
  await copyFile(join(REPO_ROOT, "deploy/healthcheck.mjs"), join(app, "healthcheck.mjs"));
  // The mounted certificate, under the names a kubernetes.io/tls Secret gives it.
  certs = makeTestCerts();
  const tlsDir = join(dir, "tls");
  await mkdir(tlsDir);
  await copyFile(certs.serverCert, join(tlsDir, "tls.crt"));
  await copyFile(certs.serverKey, join(tlsDir, "tls.key"));
  const text = await readFile(join(REPO_ROOT, "deploy/container-tls.yaml"), "utf8");
  expect(text.match(/(certFile|keyFile): \/etc\/stowd\/tls\//g)).toHaveLength(2);
  tlsConfig = join(dir, "stowd-tls.yaml");
  await writeFile(tlsConfig, text.replaceAll("/etc/stowd/tls/", `${tlsDir}/`));
}, 300_000);

afterAll(async () => {
  for (const d of daemons) await d.stop();
  if (app) await rm(join(app, ".."), { recursive: true, force: true });
  if (certs) await rm(certs.dir, { recursive: true, force: true });
});

/**
 * The image's environment: one of its configs, its 0.0.0.0 addresses on free
 * ports, the data dir; no token or insecure setting from the test's own env.
 */
function imageEnv(config: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: "production",
    STOWD_CONFIG: config,
    STOWD_GRPC_ADDRESS: "0.0.0.0:0",
    STOWD_HTTP_ADDRESS: "0.0.0.0:0",
    STOWD_DATA_DIR: data,
    STOWD_AUTH_TOKEN: "",
    STOWD_INSECURE: "",
    ...extra,
  };
}

/** The image's ENTRYPOINT + CMD. */
const serveArgv = (): string[] => [process.execPath, join(app, "dist/cli/main.js"), "serve"];
/** A wildcard listen address is reached on loopback. */
const onLoopback = (address: string) => address.replace(/^0\.0\.0\.0:/, "127.0.0.1:");

/** The image's HEALTHCHECK (/app/healthcheck.mjs) with the container's env; its exit code. */
async function healthcheck(env: NodeJS.ProcessEnv): Promise<number> {
  return run(process.execPath, [join(app, "healthcheck.mjs")], {
    env: { ...process.env, STOWD_HEALTHCHECK_URL: "", ...env },
    timeout: 10_000,
  }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
}

function getWithCa(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    }).on("error", reject);
  });
}

describe("production build", () => {
  it("holds the compiled daemon, SDK, CLI and gen/ with its own package.json, and no sources or tests", async () => {
    const dist = join(app, "dist");
    expect((await readdir(dist)).sort()).toEqual(["cli", "client", "common", "console", "gen", "package.json", "server"]);
    // The web console's bundle, where the built daemon (dist/server/console/) serves it from.
    expect(await readdir(join(dist, "console/dist"))).toContain("index.html");
    const pkg = JSON.parse(await readFile(join(dist, "package.json"), "utf8")) as Record<string, unknown>;
    const root = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { version: string; bin: Record<string, string> };
    expect(pkg).toMatchObject({ type: "module", version: root.version });
    expect(root.bin.stowd).toBe("dist/cli/main.js");
    const main = await readFile(join(dist, "cli/main.js"), "utf8");
    expect(main.startsWith("#!/usr/bin/env node\n")).toBe(true);
    const files = await readdir(dist, { recursive: true });
    expect(files.filter((f) => f.endsWith(".ts"))).toEqual([]);
  });

  it("with the TLS config, the certificate and STOWD_AUTH_TOKEN: https /healthz and /readyz, the healthcheck, a round trip with the built CLI", async () => {
    const daemon = await startServing(serveArgv(), { cwd: app, env: imageEnv(tlsConfig, { STOWD_AUTH_TOKEN: TOKEN }) });
    daemons.push(daemon);
    expect(daemon.grpc).toMatch(/^0\.0\.0\.0:\d+$/);
    const serving = JSON.parse(daemon.log.find((l) => l.includes('"stowd serving"'))!) as Record<string, unknown>;
    expect(serving).toMatchObject({ tls: "on", auth: "1 tokens, 0 client identities" });
    const http = onLoopback(daemon.http);
    const ca = certs.read(certs.serverCa);
    expect(await getWithCa(`https://${http}/healthz`, ca)).toEqual({ status: 200, body: "ok\n" });
    expect((await getWithCa(`https://${http}/readyz`, ca)).status).toBe(200);
    // The healthcheck takes https from the config's server.tls; given a config without it, it speaks http and fails.
    expect(await healthcheck({ STOWD_CONFIG: tlsConfig, STOWD_HTTP_ADDRESS: daemon.http })).toBe(0);
    expect(await healthcheck({ STOWD_CONFIG: plainConfig, STOWD_HTTP_ADDRESS: daemon.http })).toBe(1);

    const cli = { command: [process.execPath, join(app, "dist/cli/main.js")], address: onLoopback(daemon.grpc), cwd: app };
    const withCa = ["--ca-file", certs.serverCa];
    const put = await runStowd([...withCa, "put", "-", "file://bucket/round/trip.txt"], {
      ...cli,
      env: { STOWD_TOKEN: TOKEN },
      stdin: "through the production build\n",
    });
    expect(put).toMatchObject({ code: 0, stderr: "" });
    const cat = await runStowd([...withCa, "--token", TOKEN, "cat", "file://bucket/round/trip.txt"], cli);
    expect(cat).toMatchObject({ code: 0, out: "through the production build\n" });
    // file:// lands in the data directory (the image's /data volume).
    expect(await readFile(join(data, "bucket/round/trip.txt"), "utf8")).toBe("through the production build\n");
    const info = await runStowd([...withCa, "info", "--json"], { ...cli, env: { STOWD_TOKEN: TOKEN } });
    const root = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    expect(info.json()[0]).toMatchObject({ version: root.version, backends: [{ scheme: "file" }, { scheme: "mem" }] });
    // Without the token: UNAUTHENTICATED (exit 4), nothing read.
    expect(await runStowd([...withCa, "cat", "file://bucket/round/trip.txt"], cli)).toMatchObject({ code: 4, out: "" });

    expect(await daemon.stop()).toBe(0);
    expect(await healthcheck({ STOWD_CONFIG: tlsConfig, STOWD_HTTP_ADDRESS: daemon.http })).toBe(1); // nothing answers any more
  });

  it("with the default config and no TLS or auth it does not serve: exit 2 naming what is missing and --insecure", async () => {
    const [node = "", ...args] = serveArgv();
    const failed = await run(node, args, { cwd: app, env: { ...process.env, ...imageEnv(plainConfig) }, timeout: 30_000 }).then(
      () => ({ code: 0, stderr: "" }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? "" }),
    );
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain("is not a loopback address and the daemon has no TLS");
    expect(failed.stderr).toContain("no authentication");
    expect(failed.stderr).toContain("--insecure (STOWD_INSECURE=true, server.insecure: true)");
  });

  it("with the default config and STOWD_INSECURE=true it serves cleartext, logs a warning, and the healthcheck speaks http", async () => {
    const daemon = await startServing(serveArgv(), { cwd: app, env: imageEnv(plainConfig, { STOWD_INSECURE: "true" }) });
    daemons.push(daemon);
    expect(daemon.log.some((l) => l.includes('"level":"warn"') && l.includes("serving anyway because of --insecure"))).toBe(true);
    expect((await fetch(`http://${onLoopback(daemon.http)}/healthz`)).status).toBe(200);
    expect(await healthcheck({ STOWD_CONFIG: plainConfig, STOWD_HTTP_ADDRESS: daemon.http })).toBe(0);
    const cli = { command: [process.execPath, join(app, "dist/cli/main.js")], address: onLoopback(daemon.grpc), cwd: app };
    expect(await runStowd(["put", "-", "mem://b/insecure.txt"], { ...cli, stdin: "cleartext" })).toMatchObject({ code: 0 });
    expect(await runStowd(["cat", "mem://b/insecure.txt"], cli)).toMatchObject({ code: 0, out: "cleartext" });
    expect(await daemon.stop()).toBe(0);
  });

  it("the compiled npm start entry (dist/server/main.js) serves too", async () => {
    const daemon = await startServing(
      [
        process.execPath,
        join(app, "dist/server/main.js"),
        "--grpc-address",
        "127.0.0.1:0",
        "--http-address",
        "127.0.0.1:0",
        "--data-dir",
        data,
      ],
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
