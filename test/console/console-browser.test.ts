// The web console in a real browser: Debian's chromium, headless, driven by
// playwright-core, against daemon processes started from config files: one
// with auth on (a token file: an admin token and one scoped to one prefix)
// and signing keys, so transfers go through daemon-signed URLs; one with
// neither, so they go through the SDK. The console is built from the current
// sources first (scripts/build-console.mjs) and served by the daemon at
// /console/, so every call is the page's own same-origin call. The data the
// page shows is written, and what it did is checked, from Node with the SDK.
// The run takes the screenshots of docs/console.md: into docs/console/ with
// STOWD_UPDATE_SCREENSHOTS=1, else into a temp dir (the same code runs).
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../helpers/chromium.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { REPO_ROOT } from "../helpers/repo-root.js";
import { DAEMON_COMMAND, startServingProcess, type ServingProcess } from "../helpers/serving-daemon.js";
import { writeTokenFile } from "../security/secure-daemon.js";
import { tinyPng } from "./tiny-png.js";

const ADMIN_TOKEN = "console-admin-token-0123456789";
const TEAM_TOKEN = "console-team-token-0123456789";
const TEAM_PREFIX = "mem://console/team/";
/** Objects and sub-prefixes under the paged prefix: more than two pages of 10. */
const PAGED = "mem://console/paged/";
const PAGED_OBJECTS = 23;
const PAGED_PREFIXES = ["sub-a/", "sub-b/"];
const SCREENSHOTS =
  process.env.STOWD_UPDATE_SCREENSHOTS === "1" ? join(REPO_ROOT, "docs/console") : join(tmpdir(), `stowd-console-shots-${process.pid}`);

let dir: string;
const daemons: ServingProcess[] = [];
/** The HTTP port of the daemon with auth and signing keys, and of the one with neither. */
let base: string;
let plainBase: string;
/** SDK clients (gRPC port) of the two daemons; `admin` has the admin token. */
let admin: StowdClient;
let plain: StowdClient;
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];

/** A daemon process on mem:// from a config file whose server: block has `serverLines`. */
async function startDaemon(name: string, serverLines: string[]): Promise<ServingProcess> {
  const config = join(dir, `${name}.yaml`);
  const storage = ["storage:", "  type: mem", "  enable-multicontainer: true", "  limits:", "    maxDownloadMBs: 0"];
  await writeFile(config, [...storage, "server:", ...serverLines, ""].join("\n"));
  const daemon = await startServingProcess(
    [...DAEMON_COMMAND, "--config", config, "--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"],
    { startTimeoutMs: 30_000 },
  );
  daemons.push(daemon);
  return daemon;
}

async function seed(): Promise<void> {
  const names = Array.from({ length: PAGED_OBJECTS }, (_, i) => `object-${String(i).padStart(2, "0")}.txt`);
  await Promise.all([
    ...names.map((name) => admin.write(`${PAGED}${name}`, `${name}\n`, { contentType: "text/plain" })),
    ...PAGED_PREFIXES.map((p) => admin.write(`${PAGED}${p}inside.txt`, "inside\n", { contentType: "text/plain" })),
    admin.write("mem://console/previews/notes.txt", "Hello from stowd.\n<b>not bold</b>\n", { contentType: "text/plain; charset=utf-8" }),
    admin.write("mem://console/previews/quadrants.png", tinyPng(), { contentType: "image/png" }),
    admin.writeProtobuf("mem://console/previews/settings.pb", StructSchema, fromJson(StructSchema, STRUCT_JSON)),
    admin.writeProtobuf(
      "mem://console/previews/request.pb",
      CodeGeneratorRequestSchema,
      create(CodeGeneratorRequestSchema, { fileToGenerate: ["a.proto"], parameter: "target=ts" }),
    ),
    admin.write(`${TEAM_PREFIX}report.txt`, "team report\n", { contentType: "text/plain" }),
  ]);
}

const STRUCT_JSON = { name: "console", replicas: 3, tags: ["a", "b"], nested: { ok: true } };

beforeAll(async () => {
  browser = await launchChromium();
  // The daemon serves console/dist/: build it from the sources under test.
  execFileSync(process.execPath, [join(REPO_ROOT, "scripts/build-console.mjs")], { cwd: REPO_ROOT, stdio: "pipe" });
  dir = await mkdtemp(join(tmpdir(), "stowd-console-"));
  await mkdir(SCREENSHOTS, { recursive: true });
  const tokenFile = writeTokenFile(
    [
      { name: "console-admin", token: ADMIN_TOKEN, grants: [{ operations: ["admin"], prefixes: ["*"] }] },
      { name: "team-a", token: TEAM_TOKEN, grants: [{ operations: ["read", "list", "write", "delete"], prefixes: [TEAM_PREFIX] }] },
    ],
    [],
    join(dir, "tokens.yaml"),
  );
  const [secured, unsigned] = await Promise.all([
    startDaemon("secured", [
      "  auth:",
      `    tokenFile: ${tokenFile}`,
      "  signedUrls:",
      "    keys:",
      "      - id: k1",
      `        secret: ${randomBytes(32).toString("hex")}`,
    ]),
    startDaemon("plain", ["  logLevel: info"]),
  ]);
  base = `http://${secured.http}`;
  plainBase = `http://${unsigned.http}`;
  admin = createStowdClient({ baseUrl: `http://${secured.grpc}`, token: ADMIN_TOKEN });
  plain = createStowdClient({ baseUrl: `http://${unsigned.grpc}` });
  await seed();
}, 120_000);

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  admin?.close();
  plain?.close();
  await Promise.all(daemons.map((d) => d.child.stop(15_000)));
  if (dir) await rm(dir, { recursive: true, force: true });
  if (process.env.STOWD_UPDATE_SCREENSHOTS !== "1") await rm(SCREENSHOTS, { recursive: true, force: true });
});

interface Console {
  page: Page;
  /** Uncaught page errors: any fails the test that opened the page. */
  errors: string[];
}

/**
 * Opens the console of the daemon with auth (or of `at`), logs in with
 * `token` through the form and waits for the header to name the caller; with
 * no token, waits for it to say that authentication is off.
 */
async function openConsole(token: string | undefined, colorScheme: "light" | "dark" = "light", at = base): Promise<Console> {
  if (browser === undefined) throw new Error("the browser did not start");
  const context = await browser.newContext({ viewport: { width: 1180, height: 760 }, colorScheme, acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${at}/console/`);
  if (token === undefined) {
    await page.getByText("Authentication is off").first().waitFor();
  } else {
    await page.getByLabel("Bearer token").fill(token);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByTestId("caller-name").waitFor();
  }
  // From here on (the first, token-less call answered 401 by design), any error the browser logs is one.
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  return { page, errors };
}

/** Opens a reference through the header's reference box, as a user types it. */
async function openReference(page: Page, reference: string): Promise<void> {
  await page.getByLabel("Open reference").fill(reference);
  await page.getByLabel("Open reference").press("Enter");
}

async function entryNames(page: Page): Promise<string[]> {
  return page.locator("a[data-entry]").allTextContents();
}

/**
 * The listing's entries once the page shows `count` of them. (Waits poll
 * from Node: the console's CSP forbids the string evaluation that
 * page.waitForFunction uses.)
 */
async function waitForEntries(page: Page, count: number): Promise<string[]> {
  await expect.poll(() => page.locator("a[data-entry]").count(), { timeout: 15_000 }).toBe(count);
  return entryNames(page);
}

async function screenshot(page: Page, name: string): Promise<void> {
  // Not the reference box's focus ring in every picture.
  await page.evaluate("document.activeElement?.blur()");
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function focusedText(page: Page): Promise<string> {
  return String(await page.evaluate("document.activeElement?.textContent ?? ''"));
}

describe("the web console in chromium", () => {
  it("asks for a token, refuses a wrong one with the daemon's reason, and names the caller of a good one", async () => {
    if (browser === undefined) throw new Error("the browser did not start");
    const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/console`); // the redirect to /console/
    expect(page.url()).toBe(`${base}/console/`);
    await page.getByLabel("Bearer token").fill("not-a-token-of-this-daemon");
    await page.getByRole("button", { name: "Log in" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("UNAUTHENTICATED");
    await screenshot(page, "login");
    await page.getByLabel("Bearer token").fill(ADMIN_TOKEN);
    await page.getByRole("button", { name: "Log in" }).click();
    expect(await page.getByTestId("caller-name").textContent()).toBe("console-admin");
    // The token lives in this tab's session: a reload stays logged in; logging out forgets it.
    await page.reload();
    expect(await page.getByTestId("caller-name").textContent()).toBe("console-admin");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Bearer token").waitFor();
    await page.reload();
    await page.getByLabel("Bearer token").waitFor();
  });

  it("browses a prefix page by page, and moves through it with the keyboard", async () => {
    const { page, errors } = await openConsole(ADMIN_TOKEN);
    await openReference(page, PAGED);
    await page.getByLabel("Page size").selectOption("10");
    const seen: string[] = [];
    const first = await waitForEntries(page, 10);
    seen.push(...first);
    await screenshot(page, "listing");
    for (;;) {
      const next = page.getByRole("button", { name: "Next page" });
      await expect.poll(() => page.locator("[aria-busy]").count()).toBe(0);
      if (await next.isDisabled()) {
        // The last page: Next stays disabled only once the listing has ended.
        break;
      }
      const before = await entryNames(page);
      await next.click();
      await expect.poll(async () => (await entryNames(page)).join()).not.toBe(before.join());
      seen.push(...(await entryNames(page)));
    }
    const expected = [...Array.from({ length: PAGED_OBJECTS }, (_, i) => `object-${String(i).padStart(2, "0")}.txt`), ...PAGED_PREFIXES];
    expect([...seen].sort()).toEqual([...expected].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(await page.getByText("Page 3").count()).toBe(1);
    await page.getByRole("button", { name: "Previous page" }).click();
    await page.getByText("Page 2").waitFor();

    // Keyboard: ↓ moves between entries, Enter opens a prefix, Backspace goes back up.
    await page.getByLabel("Page size").selectOption("100");
    await waitForEntries(page, PAGED_OBJECTS + PAGED_PREFIXES.length);
    await page.locator("a[data-entry]").first().focus();
    const top = await focusedText(page);
    await page.keyboard.press("ArrowDown");
    expect(await focusedText(page)).not.toBe(top);
    await page.keyboard.press("ArrowUp");
    expect(await focusedText(page)).toBe(top);
    await page.locator("a[data-entry]", { hasText: "sub-a/" }).focus();
    await page.keyboard.press("Enter");
    expect(await waitForEntries(page, 1)).toEqual(["inside.txt"]);
    expect(decodeURIComponent(page.url())).toContain(`#/browse/${PAGED}sub-a/`);
    await page.locator("a[data-entry]").first().focus();
    await page.keyboard.press("Backspace");
    await waitForEntries(page, PAGED_OBJECTS + PAGED_PREFIXES.length);
    expect(decodeURIComponent(page.url())).toContain(`#/browse/${PAGED}`);
    expect(errors).toEqual([]);
  });

  it("uploads two picked files and a dropped one, showing progress, then lists them", async () => {
    const { page, errors } = await openConsole(ADMIN_TOKEN);
    const prefix = "mem://console/uploads/";
    await openReference(page, prefix);
    await page.getByText("No objects under this prefix.").waitFor();
    // Every status the live region announced, in order.
    await page.evaluate(`(() => {
      window.statuses = [];
      new MutationObserver(() => {
        const s = document.querySelector("[data-testid=upload-status]")?.textContent;
        if (s && window.statuses.at(-1) !== s) window.statuses.push(s);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
    const big = randomBytes(6 * 1024 * 1024 + 7);
    const small = Buffer.from("a small text file\n");
    await page.getByLabel("Upload files…").setInputFiles([
      { name: "big.bin", mimeType: "application/octet-stream", buffer: big },
      { name: "small note.txt", mimeType: "text/plain", buffer: small },
    ]);
    await page.getByText("Uploaded 2 of 2 files.").waitFor({ timeout: 30_000 });
    expect(await waitForEntries(page, 2)).toEqual(["big.bin", "small note.txt"]);
    const statuses = await page.evaluate<string[]>("window.statuses");
    expect(statuses.some((s) => s.startsWith("Uploading 1 of 2"))).toBe(true);
    expect(statuses.some((s) => s.startsWith("Uploading 2 of 2"))).toBe(true);
    expect(statuses.at(-1)).toBe("Uploaded 2 of 2 files.");
    const bars = page.locator(".upload-items progress");
    expect(await bars.count()).toBe(2);
    for (const [i, size] of [big.length, small.length].entries()) {
      expect(await bars.nth(i).getAttribute("value")).toBe(String(size));
    }
    expect(await page.locator(".upload-state").allTextContents()).toEqual(["done (signed URL)", "done (signed URL)"]);
    await screenshot(page, "upload");

    const bigInfo = await admin.head(`${prefix}big.bin`);
    expect(bigInfo).toMatchObject({ size: big.length, contentType: "application/octet-stream" });
    expect(Buffer.from(await admin.readBytes(`${prefix}big.bin`)).equals(big)).toBe(true);
    expect(await admin.head(`${prefix}small%20note.txt`)).toMatchObject({ size: small.length, contentType: "text/plain" });

    // Drag and drop onto the listing.
    const dataTransfer = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["dropped\\n"], "dropped.txt", { type: "text/plain" }));
      return dt;
    })()`);
    await page.dispatchEvent("section.listing", "drop", { dataTransfer });
    await page.getByText("Uploaded 1 of 1 file.").waitFor();
    expect(await waitForEntries(page, 3)).toEqual(["big.bin", "dropped.txt", "small note.txt"]);
    expect(Buffer.from(await admin.readBytes(`${prefix}dropped.txt`)).toString()).toBe("dropped\n");
    expect(errors).toEqual([]);
  });

  it("previews text as text, a PNG as an image, and stored protobuf messages as JSON or by field number", async () => {
    const { page, errors } = await openConsole(ADMIN_TOKEN);
    await openReference(page, "mem://console/previews/notes.txt");
    const text = page.getByTestId("text-preview");
    await text.waitFor();
    expect(await text.textContent()).toBe("Hello from stowd.\n<b>not bold</b>\n");
    // Set as text: the markup is shown, not parsed into an element.
    expect(await page.locator(".text-preview b").count()).toBe(0);

    await openReference(page, "mem://console/previews/quadrants.png");
    const image = page.getByTestId("image-preview");
    await image.waitFor();
    expect(await image.getAttribute("src")).toMatch(/^blob:/);
    await expect.poll(() => image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(16);
    await screenshot(page, "object-image");

    await openReference(page, "mem://console/previews/settings.pb");
    const message = page.getByTestId("message-preview");
    await message.waitFor();
    expect(JSON.parse((await message.textContent()) ?? "")).toEqual(toJson(StructSchema, fromJson(StructSchema, STRUCT_JSON)));
    expect(await page.locator(".preview .note").textContent()).toContain("google.protobuf.Struct");
    await page.getByText("stowd_type_url").waitFor();
    await screenshot(page, "object-protobuf");

    // A type the console's bundle does not know: decoded without its schema, and labelled so.
    await openReference(page, "mem://console/previews/request.pb");
    await page.getByText("schema-less decode of the wire format").waitFor();
    expect(JSON.parse((await page.getByTestId("message-preview").textContent()) ?? "")).toEqual({ "1": ["a.proto"], "2": ["target=ts"] });
    expect(errors).toEqual([]);
  });

  it("downloads an object with the same bytes, and copies it to a typed reference", async () => {
    const reference = "mem://console/downloads/random.bin";
    const bytes = randomBytes(300 * 1024 + 3);
    await admin.write(reference, bytes, { contentType: "application/octet-stream" });
    const { page, errors } = await openConsole(ADMIN_TOKEN);
    await openReference(page, reference);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download" }).click()]);
    expect(download.suggestedFilename()).toBe("random.bin");
    const saved = await readFile(await download.path());
    expect(saved.equals(bytes)).toBe(true);
    await page.getByText(`Downloaded ${reference} (signed URL).`).waitFor();

    await page.getByLabel("Copy to reference").fill("mem://console/downloads/copy.bin");
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    await page.getByText("Copied to mem://console/downloads/copy.bin.").waitFor();
    expect(Buffer.from(await admin.readBytes("mem://console/downloads/copy.bin")).equals(bytes)).toBe(true);
    expect(errors).toEqual([]);
  });

  it("deletes a whole prefix after a confirmation that names it", async () => {
    const prefix = "mem://console/doomed/";
    await Promise.all(["a.txt", "b.txt", "nested/c.txt"].map((key) => admin.write(`${prefix}${key}`, key)));
    const { page, errors } = await openConsole(ADMIN_TOKEN);
    await openReference(page, prefix);
    await waitForEntries(page, 3);
    await page.getByRole("button", { name: "Delete this prefix…" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.textContent()).toContain(`This deletes every object whose reference starts with ${prefix}`);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await dialog.count()).toBe(0);
    expect(await admin.head(`${prefix}a.txt`)).toBeDefined();

    await page.getByRole("button", { name: "Delete this prefix…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
    await page.getByText(`Deleted 3 objects under ${prefix}.`).waitFor();
    await page.getByText("No objects under this prefix.").waitFor();
    const left: unknown[] = [];
    for await (const entry of admin.list(prefix)) left.push(entry);
    expect(left).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("shows PERMISSION_DENIED with the daemon's message for a prefix a scoped token may not list", async () => {
    const { page } = await openConsole(TEAM_TOKEN);
    expect(await page.getByTestId("caller-name").textContent()).toBe("team-a");
    // The start page links the prefixes the token's grants name, and says it may not list mem:// itself.
    await page.getByText("Your token may not list mem:// itself.").waitFor();
    await page.getByRole("link", { name: TEAM_PREFIX }).click();
    expect(await waitForEntries(page, 1)).toEqual(["report.txt"]);

    await openReference(page, PAGED);
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const shown = (await alert.textContent()) ?? "";
    expect(shown).toContain("PERMISSION_DENIED");
    expect(shown).toContain("team-a");
    expect(shown).toContain(PAGED);
    await screenshot(page, "error");

    await page.getByRole("link", { name: "Server" }).click();
    expect(await page.locator(".grants").textContent()).toBe(`read, list, write, delete on ${TEAM_PREFIX}`);
  });

  it("shows the server's backends and limits, with live charts of the daemon's rates", async () => {
    const { page, errors } = await openConsole(ADMIN_TOKEN);
    await page.getByRole("link", { name: "Server" }).click();
    await page.getByRole("heading", { name: "Backends" }).waitFor();
    expect(await page.locator(".capabilities tbody th").allTextContents()).toEqual(["mem://"]);
    // Traffic for the charts to show: calls, bytes and errors (NOT_FOUND reads) over a few polls.
    const deadline = Date.now() + 7000;
    while (Date.now() < deadline) {
      await admin.readBytes("mem://console/previews/quadrants.png");
      await admin.readBytes("mem://console/previews/missing.txt").catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const title of ["Calls/s", "Bytes/s", "Errors/s"]) {
      const chart = page.locator("figure.chart", { hasText: title });
      expect(await chart.locator("polyline").count()).toBe(1);
      expect(await chart.locator(".chart-scale").textContent()).not.toMatch(/^peak 0( B\/s)? /);
    }
    await screenshot(page, "server");
    expect(errors).toEqual([]);
  });

  it("uploads with the SDK's write and downloads with its read when the daemon signs no URLs, with auth off", async () => {
    const { page, errors } = await openConsole(undefined, "light", plainBase);
    await page.getByRole("link", { name: "Server" }).click();
    await page.getByText("Authentication is off: every caller may do everything.").waitFor();
    expect(await page.locator(".capabilities td.no").allTextContents()).toEqual(["✘Signed URLs: no"]);
    const prefix = "mem://plain/uploads/";
    await openReference(page, prefix);
    const first = randomBytes(1024 * 1024 + 1);
    await page.getByLabel("Upload files…").setInputFiles([
      { name: "first.bin", mimeType: "application/octet-stream", buffer: first },
      { name: "second.json", mimeType: "application/json", buffer: Buffer.from('{"ok":true}\n') },
    ]);
    await page.getByText("Uploaded 2 of 2 files.").waitFor({ timeout: 30_000 });
    expect(await page.locator(".upload-state").allTextContents()).toEqual(["done (SDK write)", "done (SDK write)"]);
    expect(await waitForEntries(page, 2)).toEqual(["first.bin", "second.json"]);
    expect(await plain.head(`${prefix}second.json`)).toMatchObject({ size: 12, contentType: "application/json" });

    await page.locator("a[data-entry]", { hasText: "first.bin" }).click();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download" }).click()]);
    expect((await readFile(await download.path())).equals(first)).toBe(true);
    await page.getByText(`Downloaded ${prefix}first.bin (SDK stream).`).waitFor();
    expect(errors).toEqual([]);
  });

  it("follows the system's dark mode", async () => {
    const { page, errors } = await openConsole(ADMIN_TOKEN, "dark");
    await openReference(page, PAGED);
    await page.getByLabel("Page size").selectOption("10");
    await waitForEntries(page, 10);
    expect(await page.evaluate("getComputedStyle(document.body).backgroundColor")).toBe("rgb(15, 20, 25)");
    await screenshot(page, "listing-dark");
    expect(errors).toEqual([]);
  });
});
