// The in-flight byte budget on its own, the call limits' budget-aware idle
// message, the config check between the two deadlines, and the budget in a
// daemon: while a stalled reader holds the whole budget, reads still go
// through and a write waits (receives nothing more) until the reader reads
// on. test/ops/budget-fairness.test.ts has the audit's parked readers and
// many slow readers.
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { ConfigError, parseConfig } from "../../server/config/load-config.js";
import { createCallLimits, formatMs } from "../../server/calls/call-limits.js";
import { createStreamBudget } from "../../server/calls/stream-budget.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { listenersOf, MiB, type Listener } from "./clients.js";
import { connectRaw, rawRead } from "./raw-reader.js";

describe("stream budget", () => {
  const never = () => new AbortController().signal;
  const settled = () => new Promise((r) => setTimeout(r, 20));

  it("gives a read the whole message when the budget is free, its share (budget / open streams) when others hold it, and at least its reserve", () => {
    const budget = createStreamBudget(100, { reserveBytes: 10 });
    const a = budget.openStream();
    expect(a.takeUpTo(60)).toBe(60);
    const b = budget.openStream();
    // Share 50; what is free of the pool (100 - 50 beyond a's reserve) covers it.
    expect(b.takeUpTo(60)).toBe(50);
    const c = budget.openStream();
    // The pool is used up (50 + 40 beyond the reserves, +10 free): the reserve and what is left.
    expect(c.takeUpTo(60)).toBe(20);
    const d = budget.openStream();
    // Nothing is left of the pool: the reserve is always there.
    expect(d.takeUpTo(60)).toBe(10);
    expect(budget.usedBytes).toBe(140);
    // A stream that holds its reserve gets nothing more from an empty pool.
    expect(d.takeUpTo(60)).toBe(0);
    a.release(60);
    // Share 25 with four streams open; d already holds 10.
    expect(d.takeUpTo(60)).toBe(15);
    for (const s of [a, b, c, d]) s.close();
    expect(budget.usedBytes).toBe(0);
  });

  it("lets a take within the reserve through at once while the pool is used up and others wait, and grants waiters in arrival order", async () => {
    const budget = createStreamBudget(100, { reserveBytes: 10 });
    const parked = Array.from({ length: 3 }, () => budget.openStream());
    for (const p of parked) p.takeUpTo(100);
    const order: string[] = [];
    const big = budget.openStream();
    const bigTake = big.take(80, never()).then((n) => order.push(`big:${n}`));
    const later = budget.openStream();
    // Fits what is left of the pool, but must not overtake the waiting 80.
    const laterTake = later.take(30, never()).then((n) => order.push(`later:${n}`));
    const small = budget.openStream();
    expect(await small.take(10, never())).toBe(10);
    // A read gets only its reserve while a take waits, leaving the pool to it.
    expect(budget.openStream().takeUpTo(100)).toBe(10);
    await settled();
    expect(order).toEqual([]);
    expect(budget.waiting).toBe(2);
    for (const p of parked) p.release(p.heldBytes);
    await Promise.all([bigTake, laterTake]);
    expect(order).toEqual(["big:80", "later:30"]);
  });

  it("counts reserves apart from the pool, so streams holding their reserves do not keep a waiting take out", async () => {
    const budget = createStreamBudget(100, { reserveBytes: 10 });
    const holders = Array.from({ length: 20 }, () => budget.openStream());
    for (const h of holders) expect(h.takeUpTo(10)).toBe(10);
    expect(budget.usedBytes).toBe(200);
    expect(await budget.openStream().take(100, never())).toBe(100);
  });

  it("grants a request larger than the whole budget once the pool is free, and clamps it", async () => {
    const budget = createStreamBudget(40, { reserveBytes: 10 });
    const a = budget.openStream();
    a.takeUpTo(30);
    const huge = budget.openStream().take(100, never());
    a.release(30);
    expect(await huge).toBe(40);
  });

  it("lets a call's single-message request take its first reserve bytes at once, then makes it wait for the pool", async () => {
    const budget = createStreamBudget(100, { reserveBytes: 10 });
    budget.openStream().takeUpTo(100);
    const signal = never();
    expect(await budget.acquire(6, signal)).toBe(6);
    expect(await budget.acquire(4, signal)).toBe(4);
    let more = false;
    const rest = budget.acquire(1, signal).then(() => (more = true));
    // Another call's request has its own reserve.
    expect(await budget.acquire(10, never())).toBe(10);
    await settled();
    expect(more).toBe(false);
    budget.release(21);
    budget.release(100);
    await rest;
  });

  it("rejects a waiter with the signal's reason and lets the next one in", async () => {
    const budget = createStreamBudget(40, { reserveBytes: 10 });
    const holder = budget.openStream();
    holder.takeUpTo(40);
    const controller = new AbortController();
    const waiting = budget.openStream().take(30, controller.signal);
    const next = budget.openStream().take(20, never());
    controller.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    holder.release(10);
    expect(await next).toBe(20);
  });

  it("gives back what a stream holds when it closes, and counts nothing after", async () => {
    const budget = createStreamBudget(100, { reserveBytes: 10 });
    const a = budget.openStream();
    a.takeUpTo(100);
    const waiting = budget.openStream().take(50, never());
    a.close();
    expect(await waiting).toBe(50);
    expect(a.takeUpTo(7)).toBe(7);
    a.release(7);
    expect(budget.usedBytes).toBe(50);
  });

  it("is a no-op when unlimited", async () => {
    const budget = createStreamBudget(0);
    expect(await budget.acquire(1 << 30, never())).toBe(0);
    const s = budget.openStream();
    expect(s.takeUpTo(1 << 30)).toBe(1 << 30);
    expect(await s.take(1 << 30, never())).toBe(1 << 30);
    expect(budget.usedBytes).toBe(0);
  });
});

describe("call limits", () => {
  const context = () =>
    createHandlerContext({
      service: RawStoreService,
      method: RawStoreService.method.readRaw,
      protocolName: "test",
      requestMethod: "POST",
      url: "/x",
    });

  it("names the byte budget when a stream timed out waiting for it", async () => {
    const limits = createCallLimits({
      maxConcurrentCalls: 0,
      idleStreamTimeoutMs: 100,
      defaultDeadlineMs: 0,
      maxDeadlineMs: 0,
      budget: createStreamBudget(8 * MiB),
    });
    const ctx = context();
    const call = limits.admit(ctx, true);
    call.setWaitingForBudget(true);
    await new Promise((r) => setTimeout(r, 250));
    expect(ctx.signal.aborted).toBe(true);
    expect(call.boundReason?.code).toBe(Code.ResourceExhausted);
    expect(call.boundReason?.rawMessage).toMatch(
      /waited \d+ms for the in-flight byte budget \(server\.maxInFlightMBs = 8; server\.idleStreamTimeout = 100ms\)/,
    );
    call.finish();
    expect(limits.active).toBe(0);
  });

  it("refuses new calls with UNAVAILABLE once stopped, and cancels running ones with the given reason", () => {
    const limits = createCallLimits({
      maxConcurrentCalls: 0,
      idleStreamTimeoutMs: 0,
      defaultDeadlineMs: 0,
      maxDeadlineMs: 0,
      budget: createStreamBudget(0),
    });
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
    expect([250, 1000, 1500, 60_000, 90_000, 3_600_000, 86_400_000].map(formatMs)).toEqual([
      "250ms",
      "1s",
      "1.5s",
      "1m",
      "1m30s",
      "1h",
      "24h",
    ]);
  });

  it("rejects a default deadline longer than the maximum in the config", () => {
    expect(() => parseConfig("storage:\n  type: mem\nserver:\n  defaultDeadline: 2h\n  maxDeadline: 1h\n")).toThrow(ConfigError);
    expect(() => parseConfig("storage:\n  type: mem\nserver:\n  defaultDeadline: 2h\n  maxDeadline: 1h\n")).toThrow(
      "server.defaultDeadline: 2h is longer than server.maxDeadline (1h)",
    );
    expect(parseConfig("storage:\n  type: mem\nserver:\n  defaultDeadline: 2h\n  maxDeadline: 0\n").server.defaultDeadlineMs).toBe(
      7_200_000,
    );
  });
});

describe("the budget in a daemon", () => {
  let daemon: TestDaemon;
  let listeners: Listener[];
  beforeAll(async () => {
    // One chunk's worth: a reader that stops reading holds all of it.
    daemon = await startTestDaemon({ bounds: { maxInFlightBytes: MiB, idleStreamTimeoutMs: 0 } });
    listeners = listenersOf(daemon);
    // mem:// reads in 1 MiB chunks (file:// in 256 KiB ones), so the stalled reader holds the whole budget.
    await listeners[0]?.client.write("mem://b/big", new Uint8Array(32 * MiB));
    await listeners[0]?.client.write("file://b/small", "small");
  });
  afterAll(async () => {
    for (const l of listeners ?? []) l.close();
    await daemon?.close();
  });

  const gauge = async (name: string) =>
    Number((await (await fetch(`${daemon.httpUrl}/metrics`)).text()).match(new RegExp(`^${name} (\\d+)$`, "m"))?.[1]);

  it("lets other reads through at once while a stalled reader holds the budget, and makes a write chunk beyond the reserve wait until it reads on", async () => {
    for (const { name, client } of listeners) {
      // A raw HTTP/2 gRPC reader that stops reading after its first bytes: its
      // 64 KiB window fills, and the daemon holds one message for it: being
      // alone, its share is the whole budget.
      const session = connectRaw(daemon.grpcAddress);
      const stalled = rawRead(session, "mem://b/big", true);
      try {
        await stalled.started;
        await expect.poll(() => gauge("stowd_in_flight_bytes"), { timeout: 10_000 }).toBeGreaterThanOrEqual(MiB);
        // Reads are not kept waiting: a small one fits a stream's reserve, a
        // large one moves in messages of what it may take.
        expect(Buffer.from(await client.readBytes("file://b/small", { timeoutMs: 2000 })).toString(), name).toBe("small");
        expect((await client.readBytes("mem://b/big", { timeoutMs: 10_000 })).length, name).toBe(32 * MiB);
        // A write's 1 MiB chunks have arrived and cannot be cut: beyond the
        // reserve, they wait for the pool, and the client is held back.
        let done = false;
        const write = client.write(`file://b/written-${name.replace(" ", "-")}`, Buffer.alloc(2 * MiB, 1)).then(() => (done = true));
        await expect.poll(() => gauge("stowd_in_flight_waiting_streams")).toBe(1);
        await new Promise((r) => setTimeout(r, 500));
        expect(done).toBe(false);
        // Reading on gives the budget back; the reader then gets only its
        // reserve while the write waits, so the write gets through.
        stalled.stream.resume();
        await write;
      } finally {
        session.destroy();
      }
      await expect.poll(() => gauge("stowd_in_flight_bytes"), { timeout: 10_000 }).toBe(0);
    }
  });
});
