// End-to-end integrity in the daemon (proto/stowd/v1/raw_store.proto,
// WriteRawHeader.crc32c, WriteRawTrailer, AppendHeader.crc32c): the daemon
// computes every WriteRaw and Append body's CRC32C, fails a declared one
// that does not match with DATA_LOSS before anything is committed, records
// it with the object and reports it in ObjectInfo.crc32c; the framing of a
// trailer is enforced. Through a real daemon on both ports; the stores'
// part is in the conformance suite (test/conformance).
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { crc32c } from "@node-rs/crc32";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ObjectInfoSchema } from "../../gen/stowd/v1/object_pb.js";
import { ProtobufStoreService } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { AppendRequestSchema, RawStoreService, type AppendRequest, type WriteRawRequest } from "../../gen/stowd/v1/raw_store_pb.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

type RawClient = Client<typeof RawStoreService>;
type WriteMessage = WriteRawRequest["body"];

let daemon: TestDaemon;
const protocols: { name: string; transport: () => Transport }[] = [
  { name: "gRPC port", transport: () => createGrpcTransport({ baseUrl: daemon.grpcUrl }) },
  { name: "HTTP port (Connect)", transport: () => createConnectTransport({ baseUrl: daemon.httpUrl, httpVersion: "2" }) },
];

beforeAll(async () => {
  daemon = await startTestDaemon();
});
afterAll(async () => {
  await daemon?.close();
});

/** A WriteRaw stream: the header, `data` in 64 KiB chunks, then `after` (a trailer, or anything else). */
async function* writeStream(
  reference: string,
  data: Uint8Array,
  header: { crc32c?: number; size?: bigint } = {},
  after: WriteMessage[] = [],
): AsyncGenerator<{ body: WriteMessage }> {
  yield { body: { case: "header", value: { reference, ...header } as never } };
  for (let at = 0; at < data.length; at += 64 * 1024) yield { body: { case: "chunk", value: data.subarray(at, at + 64 * 1024) } };
  for (const body of after) yield { body };
}

function trailer(value: number | undefined): WriteMessage {
  return { case: "trailer", value: (value === undefined ? {} : { crc32c: value }) as never };
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("the call succeeded; it should have failed");
}

async function readAll(client: RawClient, reference: string) {
  let info;
  const parts: Uint8Array[] = [];
  for await (const message of client.readRaw({ reference })) {
    if (message.body.case === "header") info = message.body.value.info;
    else if (message.body.case === "chunk") parts.push(message.body.value);
  }
  return { info, bytes: Buffer.concat(parts) };
}

/** The CRC32C Head, List and ReadRaw's header report for `reference`. */
async function reported(client: RawClient, reference: string): Promise<Array<number | undefined>> {
  const head = await client.head({ reference });
  const listed = await client.list({ reference });
  const read = await readAll(client, reference);
  return [head.info?.crc32c, listed.objects.find((o) => o.reference === reference)?.crc32c, read.info?.crc32c];
}

describe.each(protocols)("$name", ({ name, transport }) => {
  let client: RawClient;
  const base = `mem://integrity/${name.replace(/\W+/g, "-")}`;
  beforeAll(() => {
    client = createClient(RawStoreService, transport());
  });

  it("computes and reports the CRC32C of a body that declared none", async () => {
    const data = randomBytes(300_000);
    const written = await client.writeRaw(writeStream(`${base}/plain`, data));
    expect(written.info?.crc32c).toBe(crc32c(data));
    expect(await reported(client, `${base}/plain`)).toEqual([crc32c(data), crc32c(data), crc32c(data)]);
  });

  it("stores a body whose CRC32C is declared right, in the header or the trailer", async () => {
    const data = randomBytes(200_000);
    await client.writeRaw(writeStream(`${base}/header`, data, { crc32c: crc32c(data), size: BigInt(data.length) }));
    await client.writeRaw(writeStream(`${base}/trailer`, data, {}, [trailer(crc32c(data))]));
    // A trailer without a checksum is allowed and declares nothing.
    await client.writeRaw(writeStream(`${base}/empty-trailer`, data, {}, [trailer(undefined)]));
    for (const key of ["header", "trailer", "empty-trailer"]) {
      expect(await reported(client, `${base}/${key}`), key).toEqual([crc32c(data), crc32c(data), crc32c(data)]);
    }
  });

  it("fails a wrong header or trailer CRC32C with DATA_LOSS naming both values and the field, keeping the old object", async () => {
    const old = randomBytes(1000);
    const before = await client.writeRaw(writeStream(`${base}/kept`, old));
    const data = randomBytes(150_000);
    const wrong = (crc32c(data) ^ 0x10) >>> 0;
    const hex = (n: number) => n.toString(16).padStart(8, "0");
    for (const [field, stream] of [
      ["header.crc32c", (ref: string) => writeStream(ref, data, { crc32c: wrong })],
      ["trailer.crc32c", (ref: string) => writeStream(ref, data, {}, [trailer(wrong)])],
    ] as const) {
      for (const ref of [`${base}/kept`, `${base}/never`]) {
        const err = await failure(client.writeRaw(stream(ref)));
        expect(err.code, field).toBe(Code.DataLoss);
        expect(err.rawMessage).toContain(field);
        expect(err.rawMessage).toContain(hex(wrong));
        expect(err.rawMessage).toContain(hex(crc32c(data)));
        expect(err.rawMessage).toContain("nothing was stored");
      }
    }
    expect((await client.head({ reference: `${base}/never` })).exists).toBe(false);
    const got = await readAll(client, `${base}/kept`);
    expect(got.info?.etag).toBe(before.info?.etag);
    expect(got.bytes.equals(old)).toBe(true);
  });

  it("refuses a CRC32C in both header and trailer, and any message after the trailer, with INVALID_ARGUMENT", async () => {
    const data = randomBytes(10_000);
    const both = await failure(client.writeRaw(writeStream(`${base}/both`, data, { crc32c: crc32c(data) }, [trailer(crc32c(data))])));
    expect(both.code).toBe(Code.InvalidArgument);
    expect(both.rawMessage).toContain("both the header and the trailer");
    for (const after of [
      [trailer(crc32c(data)), { case: "chunk", value: new Uint8Array([1]) }],
      [trailer(undefined), trailer(undefined)],
    ]) {
      const late = await failure(client.writeRaw(writeStream(`${base}/late`, data, {}, after as WriteMessage[])));
      expect(late.code).toBe(Code.InvalidArgument);
      expect(late.rawMessage).toContain("trailer (body.trailer) must be the last message");
    }
    for (const key of ["both", "late"]) expect((await client.head({ reference: `${base}/${key}` })).exists, key).toBe(false);
  });

  it("refuses a trailer in an Append stream with INVALID_ARGUMENT, appending nothing", async () => {
    await client.writeRaw(writeStream(`${base}/log`, Buffer.from("hello")));
    // AppendRequest has no trailer: a WriteRawTrailer's field number arrives as an unknown field.
    const stray = create(AppendRequestSchema, {});
    stray.$unknown = [{ no: 3, wireType: WireType.LengthDelimited, data: Uint8Array.of(0) }];
    async function* stream(): AsyncGenerator<AppendRequest> {
      yield create(AppendRequestSchema, { body: { case: "header", value: { reference: `${base}/log` } } });
      yield create(AppendRequestSchema, { body: { case: "chunk", value: Buffer.from(" world") } });
      yield stray;
    }
    const err = await failure(client.append(stream()));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("a body.trailer exists only in WriteRaw");
    expect((await readAll(client, `${base}/log`)).bytes.toString()).toBe("hello");
  });

  it("extends the CRC32C over appended bytes, checks AppendHeader.crc32c, and CopyRaw keeps the source's", async () => {
    await client.writeRaw(writeStream(`${base}/grow`, Buffer.from("hello")));
    const appendOf = (data: Uint8Array, header: { crc32c?: number } = {}) =>
      client.append(
        (async function* (): AsyncGenerator<AppendRequest> {
          yield create(AppendRequestSchema, { body: { case: "header", value: { reference: `${base}/grow`, ...header } } });
          yield create(AppendRequestSchema, { body: { case: "chunk", value: data } });
        })(),
      );
    const appended = await appendOf(Buffer.from(" world"), { crc32c: crc32c(Buffer.from(" world")) });
    expect(appended.info?.crc32c).toBe(crc32c(Buffer.from("hello world")));
    const err = await failure(appendOf(Buffer.from("!"), { crc32c: 7 }));
    expect(err.code).toBe(Code.DataLoss);
    expect(err.rawMessage).toContain("header.crc32c");
    expect(await reported(client, `${base}/grow`)).toEqual(Array(3).fill(crc32c(Buffer.from("hello world"))));
    const copied = await client.copyRaw({ sourceReference: `${base}/grow`, destinationReference: `${base}/copy` });
    expect(copied.info?.crc32c).toBe(crc32c(Buffer.from("hello world")));
  });

  it("records the CRC32C of WriteProtobuf's encoded bytes", async () => {
    const protobuf = createClient(ProtobufStoreService, transport());
    const message = anyPack(ObjectInfoSchema, create(ObjectInfoSchema, { reference: "mem://x/y", etag: "e" }));
    const written = await protobuf.writeProtobuf({ reference: `${base}/message.pb`, message });
    const encoded = toBinary(ObjectInfoSchema, create(ObjectInfoSchema, { reference: "mem://x/y", etag: "e" }));
    expect(written.info?.crc32c).toBe(crc32c(encoded));
    expect((await client.head({ reference: `${base}/message.pb` })).info?.crc32c).toBe(crc32c(encoded));
  });
});
