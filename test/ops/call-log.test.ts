// One structured log line per call, captured from the daemon's logger:
// request id (the caller's x-request-id, else a fresh one), op, reference,
// bytes in and out, duration and code, on both listeners; credentials in
// headers or references never appear; server.logLevel applies.
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { log, redirectLog, setLogLevel } from "../../server/observability/log.js";
import { maskReference, referencesOf } from "../../server/calls/call-log.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { rawStoreClient } from "../helpers/proto-loader-client.js";
import { listenersOf, MiB, rejection, type Listener } from "./clients.js";

let daemon: TestDaemon;
let listeners: Listener[];
let lines: Array<Record<string, unknown>> = [];
let restore: () => void;

beforeAll(async () => {
  restore = redirectLog({ write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  daemon = await startTestDaemon();
  setLogLevel("info");
  listeners = listenersOf(daemon);
});
afterAll(async () => {
  for (const l of listeners ?? []) l.close();
  await daemon?.close();
  restore?.();
});
afterEach(() => {
  setLogLevel("info");
  lines = [];
});

const calls = () => lines.filter((l) => l.msg === "call");

describe.each(["grpc port", "http port"] as const)("%s", (name) => {
  const client = () => (listeners.find((l) => l.name === name) as Listener).client;
  const tag = name.replace(" ", "-");

  it("logs each call once with op, reference, bytes, duration and code", async () => {
    const data = randomBytes(3 * MiB + 5);
    await client().write(`mem://b/${tag}-logged`, data);
    expect((await client().readBytes(`mem://b/${tag}-logged`, { range: { offset: 0, length: MiB } })).length).toBe(MiB);
    await rejection(client().readBytes(`mem://b/${tag}-absent`));
    await client().copy(`mem://b/${tag}-logged`, `file://b/${tag}-copy`);

    const [write, read, missing, copy] = calls();
    expect(calls()).toHaveLength(4);
    expect(write).toMatchObject({
      level: "info",
      op: "RawStoreService/WriteRaw",
      reference: `mem://b/${tag}-logged`,
      bytesIn: 3 * MiB + 5,
      bytesOut: 0,
      code: "OK",
    });
    expect(read).toMatchObject({
      op: "RawStoreService/ReadRaw",
      reference: `mem://b/${tag}-logged`,
      bytesIn: 0,
      bytesOut: MiB,
      code: "OK",
    });
    expect(missing).toMatchObject({ op: "RawStoreService/ReadRaw", code: "NOT_FOUND", bytesOut: 0 });
    expect(String(missing?.error)).toContain("does not exist");
    expect(copy).toMatchObject({
      op: "RawStoreService/CopyRaw",
      reference: `mem://b/${tag}-logged`,
      destination: `file://b/${tag}-copy`,
      code: "OK",
    });
    for (const line of calls()) {
      expect(typeof line.durationMs).toBe("number");
      expect(line.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(typeof line.time).toBe("string");
    }
    expect(new Set(calls().map((l) => l.requestId)).size).toBe(4);
  });

  it("follows server.logLevel", async () => {
    setLogLevel("warn");
    await client().head(`mem://b/${tag}-quiet`);
    expect(calls()).toEqual([]);
    log("warn", "still shown");
    expect(lines.map((l) => l.msg)).toEqual(["still shown"]);
  });
});

it("takes the caller's x-request-id and never logs credentials", async () => {
  const secret = "s3cr3t-token-value";
  // gRPC metadata, through a plain grpc-js client.
  const raw = rawStoreClient(daemon.grpcAddress);
  try {
    const metadata = new grpc.Metadata();
    metadata.set("x-request-id", "req-42");
    metadata.set("authorization", `Bearer ${secret}`);
    await new Promise<void>((resolve, reject) =>
      (raw.Head as (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void) => void)(
        { reference: `mem://user:${secret}@b/k` },
        metadata,
        (err) => (err ? reject(err) : resolve()),
      ),
    ).catch(() => undefined);
  } finally {
    raw.close();
  }
  // HTTP headers, through Connect JSON.
  await fetch(`${daemon.httpUrl}/stowd.v1.RawStoreService/Head`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-request-id": "req-43",
      authorization: `Bearer ${secret}`,
      cookie: `session=${secret}`,
    },
    body: JSON.stringify({ reference: "mem://b/k" }),
  });
  // An unusable id (too long) is replaced with a fresh one.
  await fetch(`${daemon.httpUrl}/stowd.v1.RawStoreService/Head`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "x".repeat(200) },
    body: JSON.stringify({ reference: "mem://b/k" }),
  });
  const [grpcCall, httpCall, replaced] = calls();
  expect(grpcCall).toMatchObject({ requestId: "req-42", op: "RawStoreService/Head", reference: "mem://user:***@b/k" });
  expect(httpCall).toMatchObject({ requestId: "req-43", op: "RawStoreService/Head", reference: "mem://b/k", code: "OK" });
  expect(replaced?.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(JSON.stringify(lines)).not.toContain(secret);

  // Fields named like credentials are redacted wherever a caller logs them.
  log("info", "config", {
    password: secret,
    stow: { secret_key: secret, access_key_id: secret, region: "us-east-1" },
    headers: { authorization: secret },
  });
  const last = lines.at(-1);
  expect(last).toMatchObject({
    password: "[redacted]",
    stow: { secret_key: "[redacted]", access_key_id: "[redacted]", region: "us-east-1" },
    headers: { authorization: "[redacted]" },
  });
  expect(JSON.stringify(lines)).not.toContain(secret);
});

it("returns the request id on the HTTP port", async () => {
  const res = await fetch(`${daemon.httpUrl}/stowd.v1.RawStoreService/Head`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": "echo-me" },
    body: JSON.stringify({ reference: "mem://b/k" }),
  });
  expect(res.headers.get("x-request-id")).toBe("echo-me");
});

describe("references in the call log", () => {
  it("masks userinfo passwords and bounds a hostile 900 KB reference to 1 KiB, in linear time", () => {
    // Before the lookbehind the masking regex backtracked once per letter of
    // the key: a 900 KB key pinned a core for minutes.
    const long = referencesOf({ reference: `redis://user:hunter2@host/${"x".repeat(900_000)}` });
    expect(long.reference).toMatch(/^redis:\/\/user:\*\*\*@host\/x+ \.\.\. \(\d+ bytes, truncated\)$/);
    expect(Buffer.byteLength(long.reference ?? "")).toBeLessThanOrEqual(1024);
    expect(maskReference(`see s3://a:b@c/d and ${"a://:".repeat(100_000)}`)).toContain("s3://a:***@c/d");
    expect(referencesOf({ sourceReference: "mem://b/k", destinationReference: "redis://:pw@h/k" })).toEqual({
      reference: "mem://b/k",
      destination: "redis://:***@h/k",
    });
  });
});
