// The in-flight byte budget on its own, the call limits' budget-aware idle
// message, the config check between the two deadlines, and the budget in a
// daemon: a reader waits (receives nothing) while a stalled reader holds the
// whole budget, and proceeds as soon as it is given back.
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { ConfigError, parseConfig } from "../../server/config/load-config.js";
import { createCallLimits, formatMs } from "../../server/services/call-limits.js";
import { createStreamBudget } from "../../server/services/stream-budget.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { listenersOf, MiB, type Listener } from "./clients.js";
import { connectRaw, rawRead } from "./raw-reader.js";

describe("stream budget", () => {
  it("grants in arrival order, makes later takers wait, and wakes them on release", async () => {
    const budget = createStreamBudget(10);
    const signal = new AbortController().signal;
    expect(await budget.acquire(6, signal)).toBe(6);
    const order: string[] = [];
    const big = budget.acquire(8, signal).then((n) => order.push(`big:${n}`));
    // Fits, but must not overtake the waiting 8.
    const small = budget.acquire(2, signal).then((n) => order.push(`small:${n}`));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    expect(budget.waiting).toBe(2);
    budget.release(6);
    await Promise.all([big, small]);
    expect(order).toEqual(["big:8", "small:2"]);
    expect(budget.usedBytes).toBe(10);
  });

  it("grants a request larger than the whole budget once everything is free, and clamps it", async () => {
    const budget = createStreamBudget(4);
    const signal = new AbortController().signal;
    const held = await budget.acquire(3, signal);
    const huge = budget.acquire(100, signal);
    budget.release(held);
    expect(await huge).toBe(4);
    expect(budget.usedBytes).toBe(4);
  });

  it("rejects a waiter with the signal's reason and lets the next one in", async () => {
    const budget = createStreamBudget(4);
    await budget.acquire(4, new AbortController().signal);
    const controller = new AbortController();
    const waiting = budget.acquire(3, controller.signal);
    const next = budget.acquire(1, new AbortController().signal);
    controller.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    budget.release(1);
    expect(await next).toBe(1);
  });

  it("is a no-op when unlimited", async () => {
    const budget = createStreamBudget(0);
    expect(await budget.acquire(1 << 30, new AbortController().signal)).toBe(0);
    expect(budget.usedBytes).toBe(0);
  });
});

describe("call limits", () => {
  const context = () =>
    createHandlerContext({ service: RawStoreService, method: RawStoreService.method.readRaw, protocolName: "test", requestMethod: "POST", url: "/x" });

  it("names the byte budget when a stream timed out waiting for it", async () => {
    const limits = createCallLimits({ maxConcurrentCalls: 0, idleStreamTimeoutMs: 100, defaultDeadlineMs: 0, maxDeadlineMs: 0, budget: createStreamBudget(8 * MiB) });
    const ctx = context();
    const call = limits.admit(ctx, true);
    call.setWaitingForBudget(true);
    await new Promise((r) => setTimeout(r, 250));
    expect(ctx.signal.aborted).toBe(true);
    expect(call.boundReason?.code).toBe(Code.ResourceExhausted);
    expect(call.boundReason?.rawMessage).toMatch(/waited \d+ms for the in-flight byte budget \(server\.maxInFlightMBs = 8; server\.idleStreamTimeout = 100ms\)/);
    call.finish();
    expect(limits.active).toBe(0);
  });

  it("refuses new calls with UNAVAILABLE once stopped, and cancels running ones with the given reason", () => {
    const limits = createCallLimits({ maxConcurrentCalls: 0, idleStreamTimeoutMs: 0, defaultDeadlineMs: 0, maxDeadlineMs: 0, budget: createStreamBudget(0) });
    const ctx = context();
    const call = limits.admit(ctx, false);
    limits.stop();
    expect(() => limits.admit(context(), false)).toThrow(/shutting down/);
    limits.cancelAll(new ConnectError("bye", Code.Unavailable));
    expect(ctx.signal.aborted).toBe(true);
    expect(call.boundReason?.code).toBe(Code.Unavailable);
    call.finish();
  });

  it("formats durations in the config's own syntax", () => {
    expect([250, 1000, 1500, 60_000, 90_000, 3_600_000, 86_400_000].map(formatMs)).toEqual(["250ms", "1s", "1.5s", "1m", "1m30s", "1h", "24h"]);
  });

  it("rejects a default deadline longer than the maximum in the config", () => {
    expect(() => parseConfig("storage:\n  type: mem\nserver:\n  defaultDeadline: 2h\n  maxDeadline: 1h\n")).toThrow(ConfigError);
    expect(() => parseConfig("storage:\n  type: mem\nserver:\n  defaultDeadline: 2h\n  maxDeadline: 1h\n")).toThrow("server.defaultDeadline: 2h is longer than server.maxDeadline (1h)");
    expect(parseConfig("storage:\n  type: mem\nserver:\n  defaultDeadline: 2h\n  maxDeadline: 0\n").server.defaultDeadlineMs).toBe(7_200_000);
  });
});

describe("the budget in a daemon", () => {
  let daemon: TestDaemon;
  let listeners: Listener[];
  beforeAll(async () => {
    // One chunk's worth: a reader that stops reading holds all of it.
    daemon = await startTestDaemon({ bounds: { maxInFlightBytes: MiB, idleStreamTimeoutMs: 0 } });
    listeners = listenersOf(daemon);
    await listeners[0]?.client.write("file://b/big", new Uint8Array(32 * MiB));
    await listeners[0]?.client.write("file://b/small", "small");
  });
  afterAll(async () => {
    for (const l of listeners ?? []) l.close();
    await daemon?.close();
  });

  const gauge = async (name: string) => Number((await (await fetch(`${daemon.httpUrl}/metrics`)).text()).match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1]);

  it("makes a reader wait while a stalled reader holds the budget, then lets it through", async () => {
    // A raw HTTP/2 gRPC reader that stops reading after its first bytes: its
    // 64 KiB window fills, and the daemon holds one chunk for it, the whole budget.
    const session = connectRaw(daemon.grpcAddress);
    const stalled = rawRead(session, "file://b/big", true);
    try {
      await stalled.started;
      await expect.poll(() => gauge("stowd_in_flight_bytes"), { timeout: 10_000 }).toBe(MiB);
      for (const { client } of listeners) {
        let done = false;
        const read = client.readBytes("file://b/small").then((bytes) => {
          done = true;
          return Buffer.from(bytes).toString();
        });
        await expect.poll(() => gauge("stowd_in_flight_waiting_streams")).toBe(1);
        await new Promise((r) => setTimeout(r, 500));
        expect(done).toBe(false);
        // Reading on gives the budget back.
        stalled.stream.resume();
        expect(await read).toBe("small");
        stalled.stream.pause();
        await expect.poll(() => gauge("stowd_in_flight_bytes"), { timeout: 10_000 }).toBe(MiB);
      }
    } finally {
      session.destroy();
    }
  });
});
