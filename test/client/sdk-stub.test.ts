// Client-side behaviour a correct daemon never provokes (short or long
// streams, missing headers) and what the SDK sends on the wire, checked
// in-process against stub handlers through connect's router transport.
import { Readable } from "node:stream";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack, DurationSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createStowdClient, ErrorReason, type StowdClient } from "../../client/index.js";
import { ErrorDetailSchema } from "../../gen/stowd/v1/error_pb.js";
import { ObjectInfoSchema } from "../../gen/stowd/v1/object_pb.js";
import { ProtobufStoreService } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { RawStoreService, type ReadRawResponseSchema, type WriteRawRequest } from "../../gen/stowd/v1/raw_store_pb.js";
import { clientRejection } from "../helpers/rejections.js";

type ReadRawInit = MessageInitShape<typeof ReadRawResponseSchema>;

const REF = "mem://bucket/stub";
const info = (size: number) => create(ObjectInfoSchema, { reference: REF, size: BigInt(size), etag: "e1" });

function stubClient(routes: (router: ConnectRouter) => void): StowdClient {
  return createStowdClient({ transport: createRouterTransport(routes) });
}

/** A ReadRaw that announces `length` bytes and then sends `chunks`. */
function readRawSending(length: number, chunks: Uint8Array[]) {
  return stubClient(({ service }) =>
    service(RawStoreService, {
      async *readRaw(): AsyncGenerator<ReadRawInit> {
        yield { body: { case: "header", value: { info: info(length), offset: 0n, length: BigInt(length) } } };
        for (const chunk of chunks) {
          yield { body: { case: "chunk", value: chunk } };
        }
      },
    }),
  );
}

describe("read verification", () => {
  it("fails a stream that ends short instead of returning fewer bytes", async () => {
    const client = readRawSending(10, [new Uint8Array(4)]);
    const error = await clientRejection(client.readBytes(REF));
    expect(error.code).toBe(Code.DataLoss);
    expect(error.message).toContain("4 of the 10");
    expect(error.reference).toBe(REF);
  });

  it("emits the short-stream error on readStream", async () => {
    const stream = readRawSending(10, [new Uint8Array(4)]).readStream(REF);
    const error = await clientRejection(Readable.prototype.toArray.call(stream));
    expect(error.code).toBe(Code.DataLoss);
  });

  it("fails a stream that sends more than announced", async () => {
    const client = readRawSending(3, [new Uint8Array(2), new Uint8Array(2)]);
    expect((await clientRejection(client.readBytes(REF))).code).toBe(Code.DataLoss);
  });

  it("fails a stream without a header before handing out a handle", async () => {
    const client = stubClient(({ service }) =>
      service(RawStoreService, {
        async *readRaw(): AsyncGenerator<ReadRawInit> {
          yield { body: { case: "chunk", value: new Uint8Array(1) } };
        },
      }),
    );
    expect((await clientRejection(client.read(REF))).code).toBe(Code.Internal);
  });

  it("cancels the call when the consumer stops iterating", async () => {
    let serverSignal: AbortSignal | undefined;
    const client = stubClient(({ service }) =>
      service(RawStoreService, {
        async *readRaw(_request, context: HandlerContext): AsyncGenerator<ReadRawInit> {
          serverSignal = context.signal;
          yield { body: { case: "header", value: { info: info(1 << 30), length: BigInt(1 << 30) } } };
          for (;;) {
            yield { body: { case: "chunk", value: new Uint8Array(1024) } };
          }
        },
      }),
    );
    const handle = await client.read(REF);
    for await (const chunk of handle.chunks) {
      expect(chunk.byteLength).toBe(1024);
      break;
    }
    await expect.poll(() => serverSignal?.aborted).toBe(true);
  });

  it("cancels the call when a readStream is destroyed", async () => {
    let serverSignal: AbortSignal | undefined;
    const client = stubClient(({ service }) =>
      service(RawStoreService, {
        async *readRaw(_request, context: HandlerContext): AsyncGenerator<ReadRawInit> {
          serverSignal = context.signal;
          yield { body: { case: "header", value: { info: info(1 << 30), length: BigInt(1 << 30) } } };
          for (;;) {
            yield { body: { case: "chunk", value: new Uint8Array(1024) } };
          }
        },
      }),
    );
    for await (const chunk of client.readStream(REF)) {
      expect(chunk).toBeInstanceOf(Buffer);
      break; // destroys the stream
    }
    await expect.poll(() => serverSignal?.aborted).toBe(true);
  });
});

describe("errors", () => {
  it("decodes the ErrorDetail into code, reason and reference", async () => {
    const client = stubClient(({ service }) =>
      service(RawStoreService, {
        head() {
          throw new ConnectError("limit exceeded", Code.ResourceExhausted, undefined, [
            {
              desc: ErrorDetailSchema,
              value: { reason: ErrorReason.LIMIT_EXCEEDED, reference: REF, size: 10n, limit: 5n },
            },
          ]);
        },
      }),
    );
    const error = await clientRejection(client.head("mem://bucket/other"));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
    expect(error.reference).toBe(REF);
    expect(error.detail?.limit).toBe(5n);
    expect(error.cause).toBeInstanceOf(ConnectError);
  });

  it("falls back to UNSPECIFIED and the call's reference without a detail", async () => {
    const error = await clientRejection(stubClient(() => {}).head(REF));
    expect(error.code).toBe(Code.Unimplemented);
    expect(error.reason).toBe(ErrorReason.UNSPECIFIED);
    expect(error.detail).toBeUndefined();
    expect(error.reference).toBe(REF);
  });

  it("rejects non-integer sizes before calling", async () => {
    const error = await clientRejection(stubClient(() => {}).readBytes(REF, { range: { offset: 1.5 } }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.reason).toBe(ErrorReason.INVALID_ARGUMENT);
  });
});

describe("write framing", () => {
  async function captureWrite(body: Parameters<StowdClient["write"]>[1], size?: number) {
    const seen: WriteRawRequest[] = [];
    const client = stubClient(({ service }) =>
      service(RawStoreService, {
        async writeRaw(requests: AsyncIterable<WriteRawRequest>) {
          for await (const request of requests) {
            seen.push(request);
          }
          return { info: info(0) };
        },
      }),
    );
    await client.write(REF, body, size === undefined ? {} : { size });
    return seen;
  }

  it("sends a header with the size, then chunks of at most 1 MiB", async () => {
    const seen = await captureWrite(new Uint8Array(3 * 1024 * 1024 + 1));
    const [header, ...chunks] = seen;
    expect(header?.body.case).toBe("header");
    expect(header?.body.case === "header" && header.body.value.size).toBe(3n * 1024n * 1024n + 1n);
    expect(chunks.map((c) => (c.body.case === "chunk" ? c.body.value.byteLength : -1))).toEqual([1024 * 1024, 1024 * 1024, 1024 * 1024, 1]);
  });

  it("encodes strings as UTF-8 and leaves the size of streams unset", async () => {
    const fromString = await captureWrite("hé");
    expect(fromString[0]?.body.case === "header" && fromString[0].body.value.size).toBe(3n);
    const fromStream = await captureWrite(Readable.from([Buffer.from("ab"), "c"]));
    expect(fromStream[0]?.body.case === "header" && fromStream[0].body.value.size).toBeUndefined();
    const declared = await captureWrite(Readable.from([Buffer.from("abc")]), 3);
    expect(declared[0]?.body.case === "header" && declared[0].body.value.size).toBe(3n);
  });

  it("reports the body's own error when its source fails", async () => {
    const client = stubClient(({ service }) =>
      service(RawStoreService, {
        async writeRaw(requests: AsyncIterable<WriteRawRequest>) {
          for await (const request of requests) void request;
          return { info: info(0) };
        },
      }),
    );
    const failing = async function* () {
      yield new Uint8Array(3);
      throw new Error("disk on fire");
    };
    const error = await clientRejection(client.write(REF, failing()));
    expect(error.code).toBe(Code.Unknown);
    expect(error.message).toContain("disk on fire");
    expect(error.cause.cause).toBeInstanceOf(Error);

    // A failed read piped into a write keeps the read's typed error.
    const short = await clientRejection(client.write(REF, readRawSending(5, []).readStream(REF)));
    expect(short.code).toBe(Code.DataLoss);
  });

  it("sends a zero-byte body as a header alone", async () => {
    const seen = await captureWrite(new Uint8Array(0));
    expect(seen).toHaveLength(1);
    expect(seen[0]?.body.case === "header" && seen[0].body.value.size).toBe(0n);
  });
});

describe("protobuf", () => {
  it("asks for the schema's type and rejects another type the server returned", async () => {
    let askedFor = "";
    const client = stubClient(({ service }) =>
      service(ProtobufStoreService, {
        readProtobuf(request) {
          askedFor = request.typeUrl;
          return { message: anyPack(StructSchema, create(StructSchema)), info: info(0) };
        },
      }),
    );
    const error = await clientRejection(client.readProtobuf(REF, DurationSchema));
    expect(askedFor).toBe("type.googleapis.com/google.protobuf.Duration");
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.reason).toBe(ErrorReason.TYPE_MISMATCH);
  });

  it("parses bytes stored without a type as the requested schema", async () => {
    const duration = create(DurationSchema, { seconds: 7n });
    const client = stubClient(({ service }) =>
      service(ProtobufStoreService, {
        readProtobuf() {
          return { message: { typeUrl: "", value: toBinary(DurationSchema, duration) }, info: info(2) };
        },
      }),
    );
    const { message } = await client.readProtobuf(REF, DurationSchema);
    expect(message.seconds).toBe(7n);
  });
});
