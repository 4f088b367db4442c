// The SDK in a real browser: Debian's chromium, headless, driven by
// playwright-core, runs the SDK's browser entry (client/browser.ts, bundled
// here with esbuild for the browser platform, so a node: import fails the
// build) in a page served from another origin than the daemon's HTTP port,
// so every call is a real cross-origin call under CORS. The page uploads a
// Blob and bytes, lists them and downloads them against daemon processes
// started from config files; a daemon with CORS off, and a page from an
// origin the daemon does not list, are refused by the browser and store
// nothing. A missing chromium fails the test with the install command.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/chromium.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "../../gen/stowd/v1/error_pb.js";
import { REPO_ROOT } from "../helpers/repo-root.js";
import { DAEMON_COMMAND, startServingProcess, type ServingProcess } from "../helpers/serving-daemon.js";
import { HELLO, type stowdPage } from "./page/sdk-calls.js";

const TOKEN = "browser-test-token-0123456789";
/** Over 2 MiB and not a multiple of anything, so the upload and the read span several chunks. */
const PAYLOAD = randomBytes(2 * 1024 * 1024 + 12_345);

interface PageServer {
  origin: string;
  close(): Promise<void>;
}

let dir: string;
let browser: Browser | undefined;
const daemons: ServingProcess[] = [];
const pageServers: PageServer[] = [];
/** The page origin daemon `corsOn` allows. */
let allowedPage: PageServer;
/** A page origin no daemon allows. */
let otherPage: PageServer;
/** HTTP port base URLs: CORS allowing `allowedPage` (auth on), and CORS off (the default). */
let corsOn: string;
let corsOff: string;

/** Bundles the page's calls with the SDK's browser entry, as a web app's bundler would. */
async function bundlePage(outDir: string): Promise<string> {
  const outfile = join(outDir, "sdk-calls.js");
  await build({
    entryPoints: [join(REPO_ROOT, "test/browser/page/sdk-calls.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outfile,
    logLevel: "silent",
  });
  return readFile(outfile, "utf8");
}

/** A page origin: `/` loads the bundle, `/payload.bin` is the bytes to upload. */
async function startPageServer(bundle: string): Promise<PageServer> {
  const html = '<!doctype html><meta charset="utf-8"><title>stowd SDK</title><script type="module" src="/sdk-calls.js"></script>\n';
  const server = http.createServer((req, res) => {
    const body = { "/": html, "/sdk-calls.js": bundle, "/payload.bin": PAYLOAD }[req.url ?? ""];
    const type = { "/": "text/html", "/sdk-calls.js": "text/javascript", "/payload.bin": "application/octet-stream" }[req.url ?? ""];
    if (body === undefined || type === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": type }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const page = { origin: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  pageServers.push(page);
  return page;
}

async function startDaemon(name: string, server: string, env: NodeJS.ProcessEnv): Promise<string> {
  const config = join(dir, `${name}.yaml`);
  // maxDownloadMBs 0: a config file without it gets Flyte's 2 MiB limit, below the payload.
  await writeFile(config, `storage:\n  type: mem\n  enable-multicontainer: true\n  limits:\n    maxDownloadMBs: 0\nserver:\n${server}`);
  const daemon = await startServingProcess(
    [...DAEMON_COMMAND, "--config", config, "--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"],
    { env, startTimeoutMs: 30_000 },
  );
  daemons.push(daemon);
  return `http://${daemon.http}`;
}

beforeAll(async () => {
  browser = await launchChromium();
  dir = await mkdtemp(join(tmpdir(), "stowd-browser-"));
  const bundle = await bundlePage(dir);
  [allowedPage, otherPage] = await Promise.all([startPageServer(bundle), startPageServer(bundle)]);
  // The daemons' HTTP ports differ from both pages' ports, so each is another origin.
  [corsOn, corsOff] = await Promise.all([
    startDaemon("cors-on", `  cors:\n    allowedOrigins: [${allowedPage.origin}]\n`, { STOWD_AUTH_TOKEN: TOKEN }),
    startDaemon("cors-off", "", {}),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(daemons.map((d) => d.child.stop(15_000)));
  await Promise.all(pageServers.map((p) => p.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface OpenPage {
  page: Page;
  /** The browser console's messages so far (CORS refusals are reported there). */
  console: string[];
}

/** Opens `origin`'s page and waits until the bundle has loaded; a page error fails the test with its message. */
async function openPage(origin: string): Promise<OpenPage> {
  if (browser === undefined) throw new Error("the browser did not start");
  const context = await browser.newContext();
  const page = await context.newPage();
  const messages: string[] = [];
  const errors: string[] = [];
  page.on("console", (m) => messages.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${origin}/`);
  await page
    .waitForFunction(() => "stowdPage" in globalThis, undefined, { timeout: 20_000 })
    .catch((err: unknown) => {
      throw new Error(`the SDK bundle did not load in the page: ${[...errors, ...messages].join("; ") || String(err)}`);
    });
  return { page, console: messages };
}

type PageCalls = typeof stowdPage;

/**
 * Runs one of the page's calls (page/sdk-calls.ts) in the browser. The
 * function below is sent to the page as source, so it uses nothing from this
 * file. A failure comes back as text: a call that rejected inside the page
 * came back from page.evaluate as undefined, not as an error.
 */
async function callInPage<K extends keyof PageCalls>(
  page: Page,
  name: K,
  ...args: Parameters<PageCalls[K]>
): Promise<Awaited<ReturnType<PageCalls[K]>>> {
  const outcome = await page.evaluate(
    async ([n, a]) => {
      const calls = (globalThis as unknown as { stowdPage: Record<string, (...args: unknown[]) => Promise<unknown>> }).stowdPage;
      try {
        return { value: await calls[n]!(...a) };
      } catch (err) {
        return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
    },
    [name, args as unknown[]] as const,
  );
  if ("error" in outcome) throw new Error(`${name} failed in the page: ${outcome.error}`);
  return outcome.value as Awaited<ReturnType<PageCalls[K]>>;
}

/** Head from Node (no browser, no CORS): whether the daemon holds `reference`, and its size. */
async function headFromNode(base: string, reference: string): Promise<{ exists: boolean; size: number }> {
  const res = await fetch(`${base}/stowd.v1.RawStoreService/Head`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ reference }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { exists?: boolean; info?: { size?: string } };
  return { exists: body.exists === true, size: Number(body.info?.size ?? 0) };
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("the SDK in chromium, from another origin, with CORS", () => {
  it("uploads a Blob and bytes, lists them, and downloads the same bytes", async () => {
    const { page, console } = await openPage(allowedPage.origin);
    const prefix = "mem://browser/round-trip/";
    const result = await callInPage(page, "roundTrip", corsOn, TOKEN, prefix);
    expect(result.writtenSizes).toEqual([PAYLOAD.length, HELLO.length]);
    expect(result.listed).toEqual([
      { reference: `${prefix}hello.txt`, size: HELLO.length },
      { reference: `${prefix}payload.bin`, size: PAYLOAD.length },
    ]);
    expect(result.identical).toBe(true);
    expect(result.downloadedBytes).toBe(PAYLOAD.length);
    expect(result.downloadedSha256).toBe(sha256(PAYLOAD));
    expect(result.streamedText).toBe(HELLO);
    // The daemon holds what the page wrote, as a Node caller sees it.
    expect(await headFromNode(corsOn, `${prefix}payload.bin`)).toEqual({ exists: true, size: PAYLOAD.length });
    expect(console.filter((m) => m.includes("CORS"))).toEqual([]);
  });

  it("speaks gRPC-Web too (its own request headers pass the preflight), errors with their details included", async () => {
    const { page } = await openPage(allowedPage.origin);
    const reference = "mem://browser/grpc-web/hello.txt";
    expect(await callInPage(page, "attemptWrite", corsOn, TOKEN, reference)).toEqual({ ok: true });
    const result = await callInPage(page, "grpcWebCalls", corsOn, TOKEN, reference);
    expect(result.headSize).toBe(HELLO.length);
    expect(result.error).toMatchObject({ code: Code.InvalidArgument, reason: ErrorReason.INVALID_REFERENCE });
  });

  it("is refused by the browser when the daemon has CORS off, and nothing is stored", async () => {
    const { page, console } = await openPage(allowedPage.origin);
    const reference = "mem://browser/refused/cors-off.txt";
    const attempt = await callInPage(page, "attemptWrite", corsOff, TOKEN, reference);
    expect(attempt).toMatchObject({ ok: false, name: "StowdClientError" });
    expect(console.some((m) => m.includes("has been blocked by CORS policy"))).toBe(true);
    expect(await headFromNode(corsOff, reference)).toEqual({ exists: false, size: 0 });
  });

  it("is refused by the browser for a page whose origin the daemon does not list, and nothing is stored", async () => {
    const { page, console } = await openPage(otherPage.origin);
    const reference = "mem://browser/refused/other-origin.txt";
    const attempt = await callInPage(page, "attemptWrite", corsOn, TOKEN, reference);
    expect(attempt).toMatchObject({ ok: false, name: "StowdClientError" });
    expect(console.some((m) => m.includes(`from origin '${otherPage.origin}' has been blocked by CORS policy`))).toBe(true);
    expect(await headFromNode(corsOn, reference)).toEqual({ exists: false, size: 0 });
  });
});
