// Connections that send nothing, too little, or nothing more are closed:
// server.headersTimeout (a request's headers must arrive in time) and
// server.idleConnectionTimeout (no call in progress for that long). Before,
// 200 silent connections to the HTTP port, and one that sent a single byte,
// were all still open after 45 s.
import * as http2 from "node:http2";
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

const HEADERS_MS = 1000;
const IDLE_MS = 1500;
let daemon: TestDaemon;

beforeAll(async () => {
  daemon = await startTestDaemon({ bounds: { headersTimeoutMs: HEADERS_MS, idleConnectionTimeoutMs: IDLE_MS } });
});
afterAll(async () => {
  await daemon?.close();
});

const portOf = (url: string) => Number(new URL(url).port);

/** Opens a TCP connection, sends `first` (if any), and resolves with the ms until the daemon closed it (Infinity if it did not within `waitMs`). */
function closedAfter(port: number, first: string | Buffer | undefined, waitMs: number): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => {
      if (first !== undefined) socket.write(first);
    });
    socket.on("error", () => {});
    socket.on("data", () => {}); // e.g. the daemon's HTTP/2 SETTINGS or an HTTP/1.1 408
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Infinity);
    }, waitMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

describe("the HTTP port", () => {
  it("closes 200 silent connections, a one-byte one and half a request line within the headers timeout", async () => {
    const port = portOf(daemon.httpUrl);
    const waits = [
      ...Array.from({ length: 200 }, () => closedAfter(port, undefined, 10_000)),
      closedAfter(port, "P", 10_000),
      closedAfter(port, "GET /healthz HT", 10_000),
      closedAfter(port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 10_000), // an HTTP/2 preface, then nothing
    ];
    const closed = await Promise.all(waits);
    const late = closed.filter((ms) => ms > HEADERS_MS + 2500);
    expect(late, `closed after (ms): ${[...new Set(closed.map((ms) => Math.round(ms / 100) * 100))].join(", ")}`).toEqual([]);
  }, 30_000);

  it("closes an HTTP/2 connection once it has had no open stream for the idle timeout, and not before", async () => {
    const session = http2.connect(daemon.httpUrl);
    session.on("error", () => {});
    const closed = new Promise<number>((resolve) => session.once("close", () => resolve(Date.now())));
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const req = session.request({ ":path": "/healthz" });
        req.on("response", (h) => resolve(Number(h[":status"])));
        req.on("error", reject);
        req.resume();
      });
    expect(await get()).toBe(200);
    await sleep(IDLE_MS / 2);
    expect(await get()).toBe(200); // still open: it was idle for less than the timeout
    const lastCall = Date.now();
    const at = await Promise.race([closed, sleep(IDLE_MS + 3000).then(() => Infinity)]);
    expect(at - lastCall).toBeGreaterThanOrEqual(IDLE_MS - 100);
    expect(at - lastCall).toBeLessThan(IDLE_MS + 3000);
    session.destroy();
  }, 15_000);

  it("closes an idle HTTP/1.1 keep-alive connection after the idle timeout", async () => {
    const port = portOf(daemon.httpUrl);
    const ms = await closedAfter(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 10_000);
    expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 100);
    expect(ms).toBeLessThan(IDLE_MS + 2500);
  });
});

describe("the gRPC port", () => {
  it("closes 50 silent connections and a one-byte one after the idle timeout", async () => {
    const port = portOf(daemon.grpcUrl);
    const closed = await Promise.all([
      ...Array.from({ length: 50 }, () => closedAfter(port, undefined, 15_000)),
      closedAfter(port, "P", 15_000),
    ]);
    const late = closed.filter((ms) => ms > IDLE_MS + 3000);
    expect(late, `closed after (ms): ${[...new Set(closed.map((ms) => Math.round(ms / 100) * 100))].join(", ")}`).toEqual([]);
  }, 30_000);
});
