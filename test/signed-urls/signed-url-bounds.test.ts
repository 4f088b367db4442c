// Daemon-signed URLs under the daemon's call bounds, as RPCs are: with
// plain node:http clients against a real daemon, a parked download holds a
// slot of server.maxConcurrentCalls (a signed GET and an RPC are refused
// with Retry-After until it ends), the idle-stream timeout cuts off a reader
// that stopped reading and cancels a stalled upload (nothing stored) but not
// a slow reader that keeps reading, the default deadline cuts a long
// download, and a daemon shutting down refuses new signed requests while a
// running download finishes within the grace period.
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import * as http from "node:http";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, ErrorReason, type StowdClient } from "../../client/index.js";
import { clientRejection } from "../helpers/rejections.js";
import { httpRequest, stalledPut, startDownload } from "./plain-http.js";
import { startSignedUrlDaemon, type SignedUrlDaemon } from "./signed-url-daemon.js";

const MiB = 1 << 20;

/** A value of the daemon's /metrics (a plain route: not a call, never refused). */
async function metric(d: SignedUrlDaemon, series: string): Promise<number> {
  const text = (await httpRequest(`${d.httpUrl}/metrics`)).body.toString();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const callsInProgress = (d: SignedUrlDaemon) => metric(d, "stowd_calls_in_progress");

/** stowd_http_requests_total of signed requests of `method` that ended with `reason`, whatever their status. */
async function signedOutcomes(d: SignedUrlDaemon, method: string, reason: string): Promise<number> {
  const text = (await httpRequest(`${d.httpUrl}/metrics`)).body.toString();
  const series = new RegExp(
    `^stowd_http_requests_total\\{handler="signed_url",method="${method}",code="\\d+",reason="${reason}"\\} (\\d+)$`,
    "gm",
  );
  return [...text.matchAll(series)].reduce((sum, [, count]) => sum + Number(count), 0);
}

async function signedGet(client: StowdClient, reference: string): Promise<string> {
  return (await client.createSignedUrl(reference, { method: "GET", expiresInSeconds: 60 })).url;
}

describe("server.maxConcurrentCalls = 1", () => {
  let d: SignedUrlDaemon;
  let client: StowdClient;
  /** No retries: the refusal itself is what is looked at. */
  let once: StowdClient;
  beforeAll(async () => {
    d = await startSignedUrlDaemon({ bounds: { maxConcurrentCalls: 1 } });
    client = d.client();
    once = createStowdClient({ baseUrl: d.grpcUrl, timeoutMs: 30_000, retry: false });
  });
  afterAll(async () => {
    once?.close();
    await d?.close();
  });

  it("a parked signed GET holds the one slot: a second signed GET gets 429 with Retry-After, an RPC RESOURCE_EXHAUSTED; once it ends both work", async () => {
    // Larger than the socket buffers take, so the parked download stays in progress.
    const data = randomBytes(32 * MiB);
    await client.write("mem://b/parked", data);
    const [parkedUrl, otherUrl] = [await signedGet(client, "mem://b/parked"), await signedGet(client, "mem://b/parked")];

    const parked = await startDownload(parkedUrl);
    expect(parked.status).toBe(200);
    expect(await callsInProgress(d)).toBe(1);

    const refused = await httpRequest(otherUrl);
    expect(refused.status).toBe(429);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.headers["x-stowd-reason"]).toBe("LIMIT_EXCEEDED");
    expect(refused.body.toString()).toContain("server.maxConcurrentCalls = 1");
    const rpc = await clientRejection(once.head("mem://b/parked"));
    expect(rpc.code).toBe(Code.ResourceExhausted);
    expect(rpc.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
    expect(rpc.retryDelayMs).toBe(250);
    expect(await signedOutcomes(d, "GET", "LIMIT_EXCEEDED")).toBe(1);

    const first = await parked.read();
    expect(first.complete).toBe(true);
    expect(first.body.equals(data)).toBe(true);
    await expect.poll(() => callsInProgress(d)).toBe(0);
    const second = await httpRequest(otherUrl);
    expect(second.status).toBe(200);
    expect(second.body.equals(data)).toBe(true);
    expect((await once.head("mem://b/parked"))?.size).toBe(data.length);
  });
});

describe("server.idleStreamTimeout = 300ms", () => {
  let d: SignedUrlDaemon;
  let client: StowdClient;
  beforeAll(async () => {
    d = await startSignedUrlDaemon({ bounds: { idleStreamTimeoutMs: 300 } });
    client = d.client();
  });
  afterAll(async () => {
    await d?.close();
  });
  afterEach(async () => {
    // Every request of a test ended: no call is left holding a slot.
    await expect.poll(() => callsInProgress(d)).toBe(0);
  });

  it("cuts off a download whose reader stopped reading", async () => {
    await client.write("mem://b/idle-read", randomBytes(32 * MiB));
    const parked = await startDownload(await signedGet(client, "mem://b/idle-read"));
    expect(parked.status).toBe(200);
    // A reader that reads nothing cannot see the connection go; the daemon's count can.
    await expect.poll(() => signedOutcomes(d, "GET", "LIMIT_EXCEEDED")).toBe(1);
    const end = await parked.read();
    expect(end.complete).toBe(false);
    expect(end.body.length).toBeLessThan(32 * MiB);
  });

  it("does not cut a reader that keeps reading slowly for longer than the timeout", async () => {
    const data = randomBytes(2 * MiB);
    await client.write("mem://b/slow-read", data);
    const slow = await startDownload(await signedGet(client, "mem://b/slow-read"));
    const startedAt = performance.now();
    // At most 64 KiB per socket read: over 32 pauses of 40ms, each far under the timeout.
    const end = await slow.read(40);
    expect(performance.now() - startedAt).toBeGreaterThan(900);
    expect(end.complete).toBe(true);
    expect(end.body.equals(data)).toBe(true);
  });

  it.each(["mem", "file"])("%s://: cancels an upload that stalled after half its body, and stores nothing", async (scheme) => {
    const reference = `${scheme}://b/stalled/upload`;
    const { url } = await client.createSignedUrl(reference, { method: "PUT", expiresInSeconds: 60 });
    const status = await stalledPut(url, {}, 2 * MiB, randomBytes(MiB));
    // 408 when the answer reaches the client before the connection is dropped; either way the upload is over.
    expect([0, 408]).toContain(status);
    await expect.poll(() => signedOutcomes(d, "PUT", "LIMIT_EXCEEDED")).toBe(scheme === "mem" ? 1 : 2);
    expect(await client.head(reference)).toBeUndefined();
    if (scheme === "file") {
      // Neither the object nor a temporary file of the upload is left on disk.
      const files = (await readdir(d.localRoot, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
      expect(files.map((e) => join(e.parentPath, e.name))).toEqual([]);
    }
  });
});

describe("server.defaultDeadline = 500ms", () => {
  let d: SignedUrlDaemon;
  let client: StowdClient;
  beforeAll(async () => {
    d = await startSignedUrlDaemon({ bounds: { defaultDeadlineMs: 500 } });
    // The SDK's own deadline (30 s) is what its calls run under.
    client = d.client();
  });
  afterAll(async () => {
    await d?.close();
  });

  it("cuts off a download that is still running at the deadline, however steadily it is read", async () => {
    await client.write("mem://b/long-read", randomBytes(8 * MiB));
    const long = await startDownload(await signedGet(client, "mem://b/long-read"));
    expect(long.status).toBe(200);
    const end = await long.read(40);
    expect(end.complete).toBe(false);
    expect(end.body.length).toBeLessThan(8 * MiB);
    expect(await signedOutcomes(d, "GET", "DEADLINE_EXCEEDED")).toBe(1);
  });
});

describe("a daemon shutting down", () => {
  it("refuses a new signed request with 503 during the grace period; a running download finishes within it", async () => {
    const d = await startSignedUrlDaemon({ graceMs: 10_000 });
    const client = d.client();
    // Larger than the socket buffers take: the download is still being sent when the shutdown starts.
    const data = randomBytes(32 * MiB);
    await client.write("mem://b/shutdown", data);
    const url = await signedGet(client, "mem://b/shutdown");
    // One connection, kept alive: the next request waits for it, and goes on it once the running one is done; shutdown closes only idle connections.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const running = await startDownload(url, agent);
      expect(running.status).toBe(200);
      const closing = d.close();
      const startedAt = performance.now();
      const refused = startDownload(url, agent);
      const end = await running.read();
      expect(end.complete).toBe(true);
      expect(end.body.equals(data)).toBe(true);
      const refusal = await refused;
      expect(refusal.status).toBe(503);
      expect(refusal.headers["retry-after"]).toBe("1");
      expect(refusal.headers["x-stowd-reason"]).toBe("UNAVAILABLE");
      expect((await refusal.read()).body.toString()).toContain("shutting down");
      agent.destroy();
      await closing;
      expect(performance.now() - startedAt).toBeLessThan(10_000);
    } finally {
      agent.destroy();
    }
  });
});
