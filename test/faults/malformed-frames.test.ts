// Hostile bytes on both listeners: hand-made gRPC requests over node:http2
// with bad length prefixes, truncated messages, stray compressed flags, a
// prefix claiming 2 GiB, invalid protobuf and random frames (fast-check), an
// upload reset mid-stream, garbage instead of HTTP/2, and messages over
// server.maxMessageMBs. Every call must end with a clear non-OK status (or a
// valid answer), never crash the daemon or leave a partial object; the
// daemon must still answer afterwards.
import net from "node:net";
import { readdir } from "node:fs/promises";
import http2 from "node:http2";
import { once } from "node:events";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeadRequestSchema, RawStoreService, WriteRawRequestSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import { SMALL_REQUEST_BYTES } from "../../server/transports/request-gate.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { grpcFrame, rawGrpcCall, type RawGrpcResult } from "./raw-grpc.js";

const MiB = 1024 * 1024;
const MAX_MESSAGE_BYTES = MiB;
const HEAD = "/stowd.v1.RawStoreService/Head";
const READ = "/stowd.v1.RawStoreService/ReadRaw";
const WRITE = "/stowd.v1.RawStoreService/WriteRaw";

let daemon: TestDaemon;
let ports: Array<{ name: string; url: string }>;

beforeAll(async () => {
  daemon = await startTestDaemon({ limits: { maxMessageBytes: MAX_MESSAGE_BYTES } });
  ports = [
    { name: "gRPC port (grpc-js)", url: daemon.grpcUrl },
    { name: "HTTP port (connect-node)", url: daemon.httpUrl },
  ];
});
afterAll(async () => {
  await daemon.close();
});

function headFrame(reference: string): Buffer {
  return grpcFrame(toBinary(HeadRequestSchema, create(HeadRequestSchema, { reference })));
}

function writeFrames(reference: string, data: Uint8Array): Buffer[] {
  return [
    grpcFrame(toBinary(WriteRawRequestSchema, create(WriteRawRequestSchema, { body: { case: "header", value: { reference } } }))),
    grpcFrame(toBinary(WriteRawRequestSchema, create(WriteRawRequestSchema, { body: { case: "chunk", value: data } }))),
  ];
}

/** A failure the client can act on: a real gRPC status other than OK, with a message. */
function expectCleanFailure(result: RawGrpcResult, code?: Code): void {
  expect(result.error, `the call ended without trailers: ${result.error}`).toBeUndefined();
  expect(result.httpStatus).toBe(200);
  expect(result.grpcStatus).toBeDefined();
  expect(result.grpcStatus).not.toBe(Code.Unknown);
  if (code !== undefined) expect(result.grpcStatus, result.grpcMessage).toBe(code);
  else expect(result.grpcStatus).not.toBe(0);
  expect(result.grpcMessage.length).toBeGreaterThan(5);
  expect(result.messages).toEqual([]);
}

async function expectDaemonAnswers(): Promise<void> {
  for (const { url } of ports) {
    const result = await rawGrpcCall(url, HEAD, headFrame("mem://b/still-there"));
    expect(result.grpcStatus, result.grpcMessage).toBe(0);
    expect(result.messages).toHaveLength(1);
  }
  const health = await fetch(`${daemon.httpUrl}/healthz`);
  expect(health.status).toBe(200);
}

describe("malformed gRPC frames", () => {
  it("answers a prefix claiming 2 GiB (or 4 GiB - 1) with RESOURCE_EXHAUSTED naming the limit, without waiting for the bytes", async () => {
    for (const { url } of ports) {
      // Head's request is a reference: capped far below server.maxMessageMBs; a WriteRaw message may use all of it.
      for (const [path, limit] of [
        [HEAD, SMALL_REQUEST_BYTES],
        [WRITE, MAX_MESSAGE_BYTES],
      ] as const) {
        for (const declaredLength of [2 ** 31, 2 ** 32 - 1, limit + 1]) {
          const result = await rawGrpcCall(url, path, grpcFrame(Buffer.alloc(16), { declaredLength }), { giveUpMs: 10_000 });
          expectCleanFailure(result, Code.ResourceExhausted);
          expect(result.grpcMessage).toContain(String(declaredLength));
          expect(result.grpcMessage).toContain(String(limit));
        }
      }
    }
    await expectDaemonAnswers();
  });

  it("fails truncated messages and prefixes cleanly on unary, server-streaming and client-streaming methods", async () => {
    const truncated = [
      grpcFrame(Buffer.from("abc"), { declaredLength: 10 }), // the stream ends 7 bytes early
      Buffer.from([0, 0, 0]), // 3 of the 5 prefix bytes
      Buffer.concat([headFrame("mem://b/x").subarray(0, 8)]), // a real message cut short
    ];
    for (const { url } of ports) {
      for (const path of [HEAD, READ, WRITE]) {
        for (const body of truncated) expectCleanFailure(await rawGrpcCall(url, path, body));
      }
    }
    await expectDaemonAnswers();
  });

  it("rejects invalid protobuf (gRPC port: INVALID_ARGUMENT naming the message type)", async () => {
    const invalid = [
      Buffer.from([0xff, 0xff, 0xff, 0xff]), // a varint that never ends
      Buffer.from([0x0a, 0x7f, 0x41]), // field 1 claims 127 bytes, has 1
      Buffer.from([0x0a, 0x02, 0xc3, 0x28]), // a string field that is not UTF-8
      Buffer.from([0x0f]), // wire type 7 does not exist
      Buffer.from([0x0b, 0x0a, 0x01, 0x41]), // a group start that never ends
    ];
    for (const payload of invalid) {
      const grpc = await rawGrpcCall(daemon.grpcUrl, HEAD, grpcFrame(payload));
      expectCleanFailure(grpc, Code.InvalidArgument);
      expect(grpc.grpcMessage).toContain("stowd.v1.HeadRequest");
      const stream = await rawGrpcCall(daemon.grpcUrl, READ, grpcFrame(payload));
      expectCleanFailure(stream, Code.InvalidArgument);
      // connect-node parses requests before our code runs and reports a parse
      // failure as INTERNAL ("parse binary: ..."); still a clean failure.
      const connect = await rawGrpcCall(daemon.httpUrl, HEAD, grpcFrame(payload));
      expectCleanFailure(connect);
      expect([Code.InvalidArgument, Code.Internal]).toContain(connect.grpcStatus);
    }
    await expectDaemonAnswers();
  });

  it("handles the compressed flag without a grpc-encoding, unknown flag bits and an unsupported encoding", async () => {
    const body = headFrame("mem://b/flagged").subarray(5);
    // connect-node refuses a compressed message it cannot decompress (INTERNAL, per the gRPC spec).
    expectCleanFailure(await rawGrpcCall(daemon.httpUrl, HEAD, grpcFrame(body, { flag: 1 })), Code.Internal);
    // Bit 1 is Connect's end-of-stream flag, meaningless on a request: refused too.
    expectCleanFailure(await rawGrpcCall(daemon.httpUrl, HEAD, grpcFrame(body, { flag: 0x03 })), Code.Internal);
    expectCleanFailure(
      await rawGrpcCall(daemon.httpUrl, HEAD, grpcFrame(body), { headers: { "grpc-encoding": "snappy" } }),
      Code.Unimplemented,
    );
    // grpc-js decompresses only when grpc-encoding says how; with identity it
    // reads the payload as it is, so the request is served as sent. Both
    // listeners ignore flag bits they do not know (0x80).
    for (const [url, flag] of [
      [daemon.grpcUrl, 1],
      [daemon.grpcUrl, 0x80],
      [daemon.httpUrl, 0x80],
    ] as const) {
      const result = await rawGrpcCall(url, HEAD, grpcFrame(body, { flag }));
      expect(result.error).toBeUndefined();
      expect(result.grpcStatus, result.grpcMessage).toBe(0);
    }
    // A gzip flag on bytes that are not gzip: INTERNAL "Failed to decompress".
    expectCleanFailure(
      await rawGrpcCall(daemon.grpcUrl, HEAD, grpcFrame(body, { flag: 1 }), { headers: { "grpc-encoding": "gzip" } }),
      Code.Internal,
    );
    await expectDaemonAnswers();
  });

  it("rejects a second request message on unary and server-streaming methods", async () => {
    for (const { url } of ports) {
      for (const path of [HEAD, READ]) {
        expectCleanFailure(await rawGrpcCall(url, path, [headFrame("mem://b/a"), headFrame("mem://b/b")]));
      }
    }
  });

  it("survives random frames and random bytes on every method (fast-check), answering each with a status", async () => {
    const paths = [
      HEAD,
      READ,
      WRITE,
      "/stowd.v1.RawStoreService/Append",
      "/stowd.v1.RawStoreService/List",
      "/stowd.v1.RawStoreService/CopyRaw",
      "/stowd.v1.RawStoreService/DeletePrefix",
      "/stowd.v1.ProtobufStoreService/WriteProtobuf",
      "/stowd.v1.RawStoreService/NoSuchMethod",
    ];
    const randomFrame = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((bytes) => grpcFrame(bytes)),
      fc
        .tuple(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }))
        .map(([bytes, declaredLength]) => grpcFrame(bytes, { declaredLength })),
      fc.uint8Array({ maxLength: 48 }).map((bytes) => Buffer.from(bytes)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ports),
        fc.constantFrom(...paths),
        fc.array(randomFrame, { minLength: 0, maxLength: 4 }),
        async (port, path, frames) => {
          const result = await rawGrpcCall(port.url, path, frames, { giveUpMs: 10_000 });
          if (path.endsWith("NoSuchMethod") && port.url === daemon.httpUrl) {
            // connect-node's fallback: a plain 404, which gRPC clients read as UNIMPLEMENTED.
            expect(result.httpStatus).toBe(404);
            return;
          }
          expect(result.error, `${port.name} ${path}: ${result.error}`).toBeUndefined();
          expect(result.grpcStatus, `${port.name} ${path}: no grpc-status`).toBeDefined();
          // UNKNOWN would mean an error escaped our boundary without a code.
          expect(result.grpcStatus).not.toBe(Code.Unknown);
          if (result.grpcStatus === Code.Internal) {
            // Only protocol-level failures may be INTERNAL, never an exception of ours.
            expect(result.grpcMessage).not.toMatch(/internal error; the daemon log/);
          }
          if (result.grpcStatus !== 0) expect(result.grpcMessage.length).toBeGreaterThan(5);
        },
      ),
      { numRuns: 300 },
    );
    await expectDaemonAnswers();
  });
});

describe("broken uploads and oversized messages", () => {
  it("stores nothing when a WriteRaw stream is reset mid-upload", async () => {
    for (const { url } of ports) {
      const reference = `file://b/reset-${url.slice(-5)}`;
      const session = http2.connect(url);
      session.on("error", () => {});
      const request = session.request({ ":method": "POST", ":path": WRITE, "content-type": "application/grpc", te: "trailers" });
      request.on("error", () => {});
      const [header, chunk] = writeFrames(reference, Buffer.alloc(256 * 1024, 7));
      request.write(header);
      // Half of the chunk message, then a reset instead of the rest.
      request.write(chunk!.subarray(0, 128 * 1024));
      await new Promise((resolve) => setTimeout(resolve, 100));
      request.close(http2.constants.NGHTTP2_CANCEL);
      await once(request, "close");
      session.destroy();
      const head = await rawGrpcCall(url, HEAD, headFrame(reference));
      expect(head.grpcStatus).toBe(0);
      // HeadResponse { exists = false }: an empty message.
      expect(head.messages).toEqual([Buffer.alloc(0)]);
    }
    // No temp file is left in the bucket directory either.
    const entries = await readdir(`${daemon.localRoot}/b`).catch(() => []);
    expect(entries).toEqual([]);
  });

  it("refuses messages over server.maxMessageMBs with RESOURCE_EXHAUSTED and stores nothing", async () => {
    for (const { url } of ports) {
      const client = createClient(RawStoreService, createGrpcTransport({ baseUrl: url }));
      const reference = `file://b/oversized-${url.slice(-5)}`;
      const write = client.writeRaw(
        (async function* () {
          yield { body: { case: "header" as const, value: { reference } } };
          yield { body: { case: "chunk" as const, value: Buffer.alloc(MAX_MESSAGE_BYTES + 1) } };
        })(),
      );
      const err = await write.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
      const head = await client.head({ reference });
      expect(head.exists).toBe(false);
      // A unary request over the limit: a 2 MiB reference.
      const big = await client.head({ reference: `mem://b/${"k".repeat(2 * MiB)}` }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((big as ConnectError).code).toBe(Code.ResourceExhausted);
      // Exactly at the limit is fine: a chunk of MAX minus the framing.
      const fits = await client.writeRaw(
        (async function* () {
          yield { body: { case: "header" as const, value: { reference } } };
          yield { body: { case: "chunk" as const, value: Buffer.alloc(MAX_MESSAGE_BYTES - 16) } };
        })(),
      );
      expect(Number(fits.info?.size)).toBe(MAX_MESSAGE_BYTES - 16);
    }
    await expectDaemonAnswers();
  });
});

describe("errors about huge requests", () => {
  it("answers an error about a 1 MiB reference with a status whose message and detail are bounded", async () => {
    // Before error-text.ts the whole reference went into the trailers three
    // times: the HTTP port reset the stream, the gRPC port never answered.
    for (const { url } of ports) {
      // A WriteRaw header may be as large as a message (Head's request is capped at 64 KiB).
      for (const key of ["x".repeat(900_000), "é".repeat(300_000), "%41".repeat(100_000)]) {
        const result = await rawGrpcCall(url, WRITE, writeFrames(`file://b/${key}`, Buffer.from("x"))[0]!, { giveUpMs: 10_000 });
        expectCleanFailure(result, Code.InvalidArgument);
        expect(Buffer.byteLength(result.grpcMessage)).toBeLessThanOrEqual(1024);
        expect(result.grpcMessage).toMatch(/bytes, truncated\)$/);
      }
      const client = createClient(RawStoreService, createGrpcTransport({ baseUrl: url }));
      const err = await client.head({ reference: `file://b/${"y".repeat(60_000)}` }, { timeoutMs: 10_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toContain("file://b/yyyy");
      const tooLarge = await client.head({ reference: `file://b/${"y".repeat(200_000)}` }, { timeoutMs: 10_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((tooLarge as ConnectError).code).toBe(Code.ResourceExhausted);
      expect((tooLarge as ConnectError).rawMessage).toContain(String(SMALL_REQUEST_BYTES));
    }
    await expectDaemonAnswers();
  });
});

describe("garbage instead of HTTP/2", () => {
  async function sendRaw(port: number, bytes: Buffer): Promise<Buffer> {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    await once(socket, "connect");
    socket.write(bytes);
    const received: Buffer[] = [];
    socket.on("data", (d: Buffer) => received.push(d));
    // The daemon must close (or answer and close) a connection it cannot speak to.
    await Promise.race([once(socket, "close"), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    const closed = socket.destroyed || socket.readableEnded;
    socket.destroy();
    expect(closed, "the daemon kept a garbage connection open").toBe(true);
    return Buffer.concat(received);
  }

  it("closes connections that send random bytes, a broken preface or garbage frames, and keeps serving", async () => {
    const grpcPort = Number(new URL(daemon.grpcUrl).port);
    const httpPort = Number(new URL(daemon.httpUrl).port);
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    // A frame header claiming a 16 MiB HEADERS frame on stream 0, then noise.
    const badFrame = Buffer.from([0xff, 0xff, 0xff, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 1, 2, 3, 4]);
    const inputs = [
      Buffer.from("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not really TLS"),
      Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"),
      Buffer.concat([preface, badFrame]),
      Buffer.concat([preface, Buffer.alloc(64, 0xee)]),
    ];
    for (const port of [grpcPort, httpPort]) {
      for (const input of inputs) await sendRaw(port, input);
    }
    // The HTTP port also speaks HTTP/1.1: garbage there gets a 400 and a close.
    const answer = await sendRaw(httpPort, Buffer.from("GARBAGE\x00\x01 / HTTP/9.9\r\n\r\n"));
    expect(answer.toString("latin1")).toMatch(/^HTTP\/1\.1 400/);
    await expectDaemonAnswers();
  });
});
