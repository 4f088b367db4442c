// Memory stays bounded under many slow readers. A real daemon process
// (server.maxInFlightMBs: 16) holds one 64 MiB object on local disk; 64
// concurrent readers over 8 HTTP/2 connections read it slowly: each stream
// reads for 30 ms every 300 ms and is paused in between, with HTTP/2's
// default 64 KiB windows, so the daemon feels real backpressure (a gRPC
// library would keep reading into its own buffers). After 8 s they cancel.
// The daemon's peak RSS over that time (VmHWM after a clear_refs reset, else
// VmRSS sampled every 20 ms) must stay below
//
//   RSS before the readers + 2 x maxInFlightMBs + 2 MiB per reader + 96 MiB
//
// because what a read stream holds is: the chunks it has taken from the
// budget (at most maxInFlightMBs in total) and their framed copies in the
// transport (as much again); plus, per open stream, the last 1 MiB chunk its
// read pipeline still references while it waits, and up to a window of HTTP/2
// frames; plus slack for 1 MiB buffers already freed that V8 has not
// collected yet. Before the budget and the one-message-at-a-time transport,
// grpc-js queued 16 messages (16 MiB) per slow reader: ~1 GiB here.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createStowdClient } from "../../client/index.js";
import { startChildDaemon, type ChildDaemon } from "./child-daemon.js";
import { MiB } from "./clients.js";
import { connectRaw, rawRead } from "./raw-reader.js";

const BUDGET_MIB = 16;
const READERS = 64;
const CONNECTIONS = 8;
const READ_MS = 8000;
const SLACK_MIB = 96;

let daemon: ChildDaemon;

beforeAll(async () => {
  daemon = await startChildDaemon([`maxInFlightMBs: ${BUDGET_MIB}`]);
}, 60_000);
afterAll(async () => {
  await daemon?.cleanup();
});

it(`keeps daemon RSS below (RSS before) + 2 x ${BUDGET_MIB} MiB + 2 MiB x ${READERS} readers + ${SLACK_MIB} MiB with ${READERS} slow readers of a 64 MiB object`, async () => {
  const writer = createStowdClient({ baseUrl: daemon.grpcUrl });
  try {
    await writer.write("file://b/big", Buffer.alloc(64 * MiB, 7));
  } finally {
    writer.close();
  }
  await sleep(500);
  const before = (await daemon.memory()).rssMiB;
  const exact = await daemon.resetPeak();

  let peak = 0;
  const sampler = setInterval(() => {
    daemon.memory().then(
      (m) => (peak = Math.max(peak, m.rssMiB)),
      () => {},
    );
  }, 20);
  const address = daemon.grpcUrl.replace("http://", "");
  const sessions = Array.from({ length: CONNECTIONS }, () => connectRaw(address));
  const readers = Array.from({ length: READERS }, (_, i) =>
    rawRead(sessions[i % CONNECTIONS] as (typeof sessions)[number], "file://b/big", true),
  );
  await Promise.all(readers.map((r) => r.started));
  const pacer = setInterval(() => {
    for (const r of readers) r.stream.resume();
    setTimeout(() => {
      for (const r of readers) r.stream.pause();
    }, 30);
  }, 300);
  await sleep(READ_MS);
  clearInterval(pacer);
  clearInterval(sampler);
  const after = await daemon.memory();
  for (const s of sessions) s.destroy();

  const measured = exact ? after.hwmMiB : Math.max(peak, after.rssMiB);
  const ceiling = before + 2 * BUDGET_MIB + 2 * READERS + SLACK_MIB;
  const received = readers.reduce((sum, r) => sum + r.received(), 0);
  console.log(
    `RSS before ${before.toFixed(1)} MiB; peak during ${READERS} slow readers ${measured.toFixed(1)} MiB (+${(measured - before).toFixed(1)}; ${exact ? "VmHWM after clear_refs" : "VmRSS sampled every 20 ms"}); ` +
      `ceiling ${ceiling.toFixed(1)} MiB; the readers took ${(received / MiB).toFixed(0)} MiB in ${READ_MS / 1000} s`,
  );
  // Slow reading, not a stall: every reader got well past its first chunk.
  for (const r of readers) expect(r.received()).toBeGreaterThan(2 * MiB);
  expect(measured).toBeLessThan(ceiling);
}, 60_000);

// Parked readers: streams whose clients stopped reading keep what they were
// given until the idle timeout. The budget is granted per stream (its share
// of maxInFlightMBs, at least a 64 KiB reserve each; stream-budget.ts), so
// with more parked streams than the budget has 1 MiB messages, each holds its
// share or its reserve in the transport plus the store chunk its read is
// cutting messages from (up to 1 MiB). Peak RSS must stay below
//
//   RSS before + 2 x (maxInFlightMBs + 64 KiB per stream) + 2 MiB per stream + 96 MiB
//
// and the in-flight gauge below maxInFlightMBs + 64 KiB per stream (+ the
// ReadRaw requests, a few bytes each). A daemon of its own, so the RSS before
// is not the heap the slow readers above left behind.
const PARKED = 128;

it(`keeps daemon RSS below (RSS before) + 2 x (${BUDGET_MIB} MiB + 64 KiB x ${PARKED}) + 2 MiB x ${PARKED} + ${SLACK_MIB} MiB with ${PARKED} parked readers, each on its own connection`, async () => {
  const daemon = await startChildDaemon([`maxInFlightMBs: ${BUDGET_MIB}`]);
  const writer = createStowdClient({ baseUrl: daemon.grpcUrl });
  try {
    await writer.write("file://b/big", Buffer.alloc(64 * MiB, 7));
  } finally {
    writer.close();
  }
  await sleep(500);
  const address = daemon.grpcUrl.replace("http://", "");
  const sessions = Array.from({ length: PARKED }, () => connectRaw(address));
  const gauge = async () => Number((await (await fetch(`${daemon.httpUrl}/metrics`)).text()).match(/^stowd_in_flight_bytes (\d+)$/m)?.[1]);
  try {
    const {
      before,
      peak: measured,
      exact,
      result: held,
    } = await daemon.peakRssDuring(async () => {
      const readers = sessions.map((s) => rawRead(s, "file://b/big", true));
      await Promise.all(readers.map((r) => r.started));
      await sleep(2000);
      return gauge();
    });
    const reserveMiB = (PARKED * 64) / 1024;
    const ceiling = before + 2 * (BUDGET_MIB + reserveMiB) + 2 * PARKED + SLACK_MIB;
    console.log(
      `RSS before ${before.toFixed(1)} MiB; peak with ${PARKED} parked readers ${measured.toFixed(1)} MiB (+${(measured - before).toFixed(1)}; ${exact ? "VmHWM after clear_refs" : "VmRSS sampled every 20 ms"}); ` +
        `ceiling ${ceiling.toFixed(1)} MiB; in flight ${(held / MiB).toFixed(2)} MiB of ${BUDGET_MIB} MiB + ${reserveMiB} MiB of reserves`,
    );
    expect(held).toBeLessThanOrEqual((BUDGET_MIB + reserveMiB) * MiB + PARKED * 64);
    expect(measured).toBeLessThan(ceiling);
  } finally {
    for (const s of sessions) s.destroy();
    await daemon.cleanup();
  }
}, 60_000);
