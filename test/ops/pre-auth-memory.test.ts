// What a caller without credentials can make the daemon hold. A real daemon
// process with token auth; unauthenticated callers start WriteProtobuf calls
// whose 15 MiB bodies they never finish: 30 HTTP/1.1 connections to the HTTP
// port, and 20 HTTP/2 streams over 2 connections to each port. Each call must
// be refused UNAUTHENTICATED at its headers, and the daemon's peak RSS may
// rise by no more than the memory ceiling docs/operations.md states for streams
// (2 x server.maxInFlightMBs + 2 MiB per stream + 96 MiB), with nothing of
// the bodies counted: before the request gate, the daemon read each body
// whole before authenticating (+395 MiB over HTTP, +262 MiB over gRPC).
//
// Authenticated single-message requests are capped far below
// server.maxMessageMBs, except WriteProtobuf, and their bodies are charged to
// the in-flight byte budget.
import * as http2 from "node:http2";
import * as net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack, BytesValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProtobufStoreService } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { HeadRequestSchema, RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { REFUSED_STREAMS_PER_CONNECTION, SMALL_REQUEST_BYTES } from "../../server/transports/request-gate.js";
import { startChildDaemon, type ChildDaemon } from "./child-daemon.js";
import { MiB } from "./clients.js";

const TOKEN = "pre-auth-memory-test-token";
const BUDGET_MIB = 16;
const BODY = 15 * MiB;
const SENT = 14 * MiB;
const SLACK_MIB = 96;

let daemon: ChildDaemon;

beforeAll(async () => {
  daemon = await startChildDaemon([`maxInFlightMBs: ${BUDGET_MIB}`], { STOWD_AUTH_TOKEN: TOKEN });
}, 60_000);
afterAll(async () => {
  await daemon?.cleanup();
});

const port = (url: string) => Number(new URL(url).port);

/** Starts an HTTP/1.1 WriteProtobuf with a 15 MiB body, sends 14 MiB of it, and resolves with the status line it gets. */
function unfinishedHttp1(httpPort: number): { status: Promise<string>; socket: net.Socket } {
  const socket = net.connect(httpPort, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(
    `POST /stowd.v1.ProtobufStoreService/WriteProtobuf HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/proto\r\nContent-Length: ${BODY}\r\n\r\n`,
  );
  socket.write(Buffer.alloc(SENT, 1));
  let text = "";
  const status = new Promise<string>((resolve) => {
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (text.includes("\r\n")) resolve(text.split("\r\n")[0] ?? "");
    });
    socket.on("close", () => resolve(text.split("\r\n")[0] ?? "closed without a response"));
  });
  return { status, socket };
}

/** Starts a gRPC WriteProtobuf on `session` whose 15 MiB message never completes; resolves with its grpc-status. */
function unfinishedGrpc(session: http2.ClientHttp2Session): Promise<string> {
  const stream = session.request({
    ":method": "POST",
    ":path": "/stowd.v1.ProtobufStoreService/WriteProtobuf",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => {});
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(BODY, 1);
  stream.write(prefix);
  stream.write(Buffer.alloc(SENT, 2));
  return new Promise<string>((resolve) => {
    const status = "";
    // A refusal may come as headers only (trailers-only) or as trailers; the
    // daemon need not reset the stream, since it reads nothing more of it.
    stream.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) resolve(String(headers["grpc-status"]));
    });
    stream.on("trailers", (trailers: http2.IncomingHttpHeaders) => resolve(String(trailers["grpc-status"] ?? "")));
    stream.on("close", () => resolve(status || `closed, rst ${stream.rstCode}`));
    stream.resume();
  });
}

describe("unauthenticated callers with unfinished bodies", () => {
  it("are refused at their headers on both ports, and the daemon's RSS stays within the stated ceiling", async () => {
    const streams = 30 + 20 + 20;
    const statuses: string[] = [];
    await sleep(300);
    const { before, peak } = await daemon.peakRssDuring(async () => {
      const h1 = Array.from({ length: 30 }, () => unfinishedHttp1(port(daemon.httpUrl)));
      const sessions = [daemon.httpUrl, daemon.httpUrl, daemon.grpcUrl, daemon.grpcUrl].map((url) => {
        const s = http2.connect(url, { maxSessionMemory: 1024 });
        s.on("error", () => {});
        return s;
      });
      const h2 = sessions.flatMap((s) => Array.from({ length: 10 }, () => unfinishedGrpc(s)));
      const settled = Promise.all([...h1.map((c) => c.status), ...h2]);
      // Let the bodies arrive for a while, as the audit's clients did.
      await sleep(3000);
      const labelled = [...h1.map((c) => c.status), ...h2].map((p, i) =>
        Promise.race([p, sleep(10_000).then(() => `call ${i} timed out`)]),
      );
      void settled;
      statuses.push(...(await Promise.all(labelled)));
      for (const c of h1) c.socket.destroy();
      for (const s of sessions) s.destroy();
    });
    const ceiling = 2 * BUDGET_MIB + 2 * streams + SLACK_MIB;
    console.log(
      `pre-auth attack: RSS ${before.toFixed(0)} -> peak ${peak.toFixed(0)} MiB (+${(peak - before).toFixed(0)}, ceiling +${ceiling})`,
    );
    expect(
      statuses.slice(0, 30).every((s) => s.startsWith("HTTP/1.1 401")),
      statuses.slice(0, 30).join(" | "),
    ).toBe(true);
    expect(
      statuses.slice(30).every((s) => s === String(Code.Unauthenticated)),
      statuses.slice(30).join(" | "),
    ).toBe(true);
    expect(peak - before).toBeLessThan(ceiling);
    // The refusals were logged as denials, like any other.
    expect(daemon.logs().filter((l) => l.msg === "call denied").length).toBeGreaterThanOrEqual(streams);
  }, 60_000);
});

describe("a connection that keeps opening refused streams", () => {
  it(`is closed once more than ${REFUSED_STREAMS_PER_CONNECTION} of them are open at once, on either port`, async () => {
    for (const url of [daemon.grpcUrl, daemon.httpUrl]) {
      const session = http2.connect(url, { maxSessionMemory: 1024 });
      session.on("error", () => {});
      const closed = new Promise<boolean>((resolve) => session.once("close", () => resolve(true)));
      const streams = Array.from({ length: REFUSED_STREAMS_PER_CONNECTION + 8 }, () => unfinishedGrpc(session));
      expect(await Promise.race([closed, sleep(10_000).then(() => false)]), url).toBe(true);
      await Promise.all(streams);
      session.destroy();
    }
    // And the daemon serves on.
    const raw = createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl }));
    expect((await raw.head({ reference: "mem://b/after" }, { headers: { authorization: `Bearer ${TOKEN}` } })).exists).toBe(false);
  }, 30_000);
});

describe("authenticated single-message requests", () => {
  const clients = () =>
    [createGrpcTransport({ baseUrl: daemon.grpcUrl }), createConnectTransport({ baseUrl: daemon.httpUrl, httpVersion: "1.1" })].map(
      (transport) => ({
        raw: createClient(RawStoreService, transport),
        pb: createClient(ProtobufStoreService, transport),
      }),
    );
  const headers = { authorization: `Bearer ${TOKEN}` };

  it(`cap a small RPC's request at ${SMALL_REQUEST_BYTES / 1024} KiB on both ports, RESOURCE_EXHAUSTED`, async () => {
    const reference = `mem://b/${"k".repeat(SMALL_REQUEST_BYTES)}`;
    expect(toBinary(HeadRequestSchema, create(HeadRequestSchema, { reference })).length).toBeGreaterThan(SMALL_REQUEST_BYTES);
    for (const { raw } of clients()) {
      const err = await raw.head({ reference }, { headers }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
      // A request below the cap is served.
      expect((await raw.head({ reference: "mem://b/small" }, { headers })).exists).toBe(false);
    }
  });

  it("still take a 4 MiB WriteProtobuf on both ports", async () => {
    const message = anyPack(BytesValueSchema, create(BytesValueSchema, { value: new Uint8Array(4 * MiB).fill(3) }));
    for (const [i, { pb }] of clients().entries()) {
      const written = await pb.writeProtobuf({ reference: `mem://b/big-${i}.pb`, message }, { headers });
      expect(Number(written.info?.size)).toBeGreaterThan(4 * MiB);
    }
  });
});
