// Daemon-signed URLs in a real browser: Debian's chromium, headless, driven by
// playwright-core, on a page served from another origin than the daemon's
// HTTP port (server.cors allows it), so the requests are real cross-origin
// ones: a ranged fetch GET (its Content-Range and ETag readable by the page),
// an XMLHttpRequest PUT with upload progress (preflighted: PUT with a
// Content-Type), and a refusal whose x-stowd-reason the page can read. Bytes
// are compared on both sides. A missing chromium fails the test with the
// install command.
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/chromium.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StowdClient } from "../../client/index.js";
import { startSignedUrlDaemon, type SignedUrlDaemon } from "../signed-urls/signed-url-daemon.js";

/** What the page uses of XMLHttpRequest (this project's types are Node's, without the DOM's). */
interface PageXhr {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  upload: { onprogress: ((e: { loaded: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  status: number;
  responseText: string;
  getResponseHeader(name: string): string | null;
  send(body: Blob): void;
}

let browser: Browser | undefined;
let pageServer: http.Server | undefined;
let pageOrigin: string;
let d: SignedUrlDaemon | undefined;
let client: StowdClient;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  pageServer = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><meta charset="utf-8"><title>signed URLs</title>\n');
  });
  await new Promise<void>((resolve) => pageServer!.listen(0, "127.0.0.1", resolve));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  d = await startSignedUrlDaemon({ cors: { allowedOrigins: [pageOrigin], maxAgeMs: 60_000 } });
  client = d.client();
  page = await (await browser.newContext()).newPage();
  await page.goto(`${pageOrigin}/`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await d?.close();
  await new Promise<void>((resolve) => (pageServer === undefined ? resolve() : pageServer.close(() => resolve())));
});

describe("daemon-signed URLs in chromium", () => {
  it("a page fetches a range of a signed GET URL and reads its headers", async () => {
    const data = randomBytes(300_000);
    const reference = "mem://bucket/browser/get.bin";
    const info = await client.write(reference, data);
    const { url } = await client.createSignedUrl(reference, { method: "GET", expiresInSeconds: 300 });
    const got = await page.evaluate(async (signed) => {
      const res = await fetch(signed, { headers: { Range: "bytes=1000-200999" } });
      return {
        status: res.status,
        contentRange: res.headers.get("content-range"),
        etag: res.headers.get("etag"),
        bytes: Array.from(new Uint8Array(await res.arrayBuffer())),
      };
    }, url);
    expect(got.status).toBe(206);
    expect(got.contentRange).toBe("bytes 1000-200999/300000");
    expect(got.etag).toBe(`"${info.etag}"`);
    expect(Buffer.from(got.bytes).equals(data.subarray(1000, 201_000))).toBe(true);
  });

  it("a page uploads to a signed PUT URL with XMLHttpRequest, with progress, and the bytes land", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 7);
    const reference = "mem://bucket/browser/put.bin";
    const put = await client.createSignedUrl(reference, {
      method: "PUT",
      expiresInSeconds: 300,
      contentType: "application/x-browser",
      contentLength: data.length,
    });
    const sent = await page.evaluate(
      async ({ url, headers, base64 }) => {
        const body = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const progress: number[] = [];
        return new Promise<{ status: number; response: string; progress: number[]; etag: string | null }>((resolve, reject) => {
          const xhr = new (globalThis as unknown as { XMLHttpRequest: new () => PageXhr }).XMLHttpRequest();
          xhr.open("PUT", url);
          for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
          xhr.upload.onprogress = (e) => progress.push(e.loaded);
          xhr.onload = () => resolve({ status: xhr.status, response: xhr.responseText, progress, etag: xhr.getResponseHeader("etag") });
          xhr.onerror = () => reject(new Error("the upload failed"));
          xhr.send(new Blob([body]));
        });
      },
      { url: put.url, headers: put.requiredHeaders, base64: data.toString("base64") },
    );
    expect(sent.status, sent.response).toBe(200);
    expect(sent.progress.length).toBeGreaterThan(0);
    expect(sent.progress.at(-1)).toBe(data.length);
    const info = await client.head(reference);
    expect(info).toMatchObject({ size: data.length, contentType: "application/x-browser" });
    expect(sent.etag).toBe(`"${info!.etag}"`);
    expect((JSON.parse(sent.response) as { etag: string }).etag).toBe(info!.etag);
    expect(Buffer.from(await client.readBytes(reference)).equals(data)).toBe(true);
  });

  it("a page reads why a tampered URL was refused", async () => {
    await client.write("mem://bucket/browser/refused", "x");
    const { url } = await client.createSignedUrl("mem://bucket/browser/refused", { method: "GET", expiresInSeconds: 300 });
    const tampered = url.replace("refused", "other");
    const got = await page.evaluate(async (signed) => {
      const res = await fetch(signed);
      return { status: res.status, reason: res.headers.get("x-stowd-reason"), text: await res.text() };
    }, tampered);
    expect(got).toMatchObject({ status: 403, reason: "BAD_SIGNATURE" });
    expect(got.text).toContain("the signature does not match this URL");
  });
});
