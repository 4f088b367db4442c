// The daemon as a non-TypeScript user sees it: a grpc-js client generated at
// run time from the .proto files only, against a real daemon on a loopback
// port. Covers the foundation's "done when" flow (64 MiB round trip, Head,
// suffix range, delimiter listing, Delete) and hostile or broken input.
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema, ErrorReason } from "../../gen/stowd/v1/error_pb.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { rawStoreClient, statusDetails } from "../helpers/proto-loader-client.js";

type Client = ReturnType<typeof rawStoreClient>;
interface ObjectInfo {
  reference: string;
  size: string;
  etag: string;
  content_type: string;
  metadata: Record<string, string>;
}

let daemon: TestDaemon;
let client: Client;

beforeAll(async () => {
  daemon = await startTestDaemon();
  client = rawStoreClient(daemon.grpcAddress);
});
afterAll(async () => {
  client?.close();
  await daemon?.close();
});

function unary<T>(method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) => {
    (client[method] as (req: object, cb: (err: grpc.ServiceError | null, res: T) => void) => void)(request, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

/** Sends a WriteRaw stream: header, then the body in `chunkSize` pieces. */
function writeRaw(header: object, body: Buffer, chunkSize = 1024 * 1024): Promise<{ info: ObjectInfo }> {
  return new Promise((resolve, reject) => {
    const call = (
      client.WriteRaw as (cb: (err: grpc.ServiceError | null, res: { info: ObjectInfo }) => void) => grpc.ClientWritableStream<object>
    )((err, res) => (err ? reject(err) : resolve(res)));
    call.write({ header });
    for (let offset = 0; offset < body.length; offset += chunkSize) call.write({ chunk: body.subarray(offset, offset + chunkSize) });
    call.end();
  });
}

interface ReadResult {
  header: { info: ObjectInfo; offset: string; length: string; not_modified: boolean };
  data: Buffer;
}

/** A ReadRaw response as proto-loader decodes it (oneofs: true names the set field in `body`). */
interface ReadRawMessage {
  header?: ReadResult["header"];
  chunk?: Buffer;
  body: string;
}

function readRaw(request: object): Promise<ReadResult> {
  return new Promise((resolve, reject) => {
    const call = (client.ReadRaw as (req: object) => grpc.ClientReadableStream<ReadRawMessage>)(request);
    let header: ReadResult["header"] | undefined;
    const chunks: Buffer[] = [];
    call.on("data", (msg: ReadRawMessage) => {
      if (msg.body === "header") header = msg.header;
      else if (msg.chunk) chunks.push(msg.chunk);
    });
    call.on("error", reject);
    call.on("end", () => (header ? resolve({ header, data: Buffer.concat(chunks) }) : reject(new Error("no header"))));
  });
}

async function expectStatus(promise: Promise<unknown>, code: grpc.status, reason?: ErrorReason): Promise<grpc.ServiceError> {
  const err = await promise.then(
    () => expect.fail(`expected status ${grpc.status[code]}`),
    (e: grpc.ServiceError) => e,
  );
  expect(grpc.status[err.code]).toBe(grpc.status[code]);
  if (reason !== undefined) {
    const details = statusDetails(err);
    expect(details.map((d) => d.typeUrl)).toContain("type.googleapis.com/stowd.v1.ErrorDetail");
    const detail = fromBinary(ErrorDetailSchema, details[0]!.value);
    expect(ErrorReason[detail.reason]).toBe(ErrorReason[reason]);
  }
  return err;
}

describe("a proto-loader grpc-js client", () => {
  it("writes 64 MiB, heads it, reads it back byte-identical, reads a suffix, lists with a delimiter and deletes it", async () => {
    const body = randomBytes(64 * 1024 * 1024);
    const ref = "file://bucket/big/object.bin";
    const written = await writeRaw(
      { reference: ref, size: String(body.length), content_type: "application/octet-stream", metadata: { team: "a" } },
      body,
    );
    expect(written.info.size).toBe(String(body.length));
    expect(written.info.etag).not.toBe("");

    const head = await unary<{ exists: boolean; info: ObjectInfo }>("Head", { reference: ref });
    expect(head.exists).toBe(true);
    expect(head.info.size).toBe(String(body.length));
    expect(head.info.etag).toBe(written.info.etag);
    expect(head.info.metadata).toEqual({ team: "a" });

    const full = await readRaw({ reference: ref });
    expect(full.header.length).toBe(String(body.length));
    expect(full.data.equals(body)).toBe(true);

    const suffix = await readRaw({ reference: ref, range: { suffix_length: "1000" } });
    expect(suffix.header.offset).toBe(String(body.length - 1000));
    expect(suffix.data.equals(body.subarray(body.length - 1000))).toBe(true);

    await writeRaw({ reference: "file://bucket/big/nested/x", size: "1" }, Buffer.from("x"));
    const listed = await unary<{ objects: ObjectInfo[]; common_prefixes: string[]; next_page_token: string }>("List", {
      reference: "file://bucket/big/",
      delimiter: "/",
    });
    expect(listed.objects.map((o) => o.reference)).toEqual([ref]);
    expect(listed.common_prefixes).toEqual(["file://bucket/big/nested/"]);
    expect(listed.next_page_token).toBe("");

    await unary("Delete", { reference: ref });
    expect((await unary<{ exists: boolean }>("Head", { reference: ref })).exists).toBe(false);
    await expectStatus(unary("Delete", { reference: ref }), grpc.status.NOT_FOUND, ErrorReason.NOT_FOUND);
  });

  it("answers a missing object's Head with exists=false and its ReadRaw with NOT_FOUND", async () => {
    expect((await unary<{ exists: boolean }>("Head", { reference: "mem://b/missing" })).exists).toBe(false);
    const err = await expectStatus(readRaw({ reference: "mem://b/missing" }), grpc.status.NOT_FOUND, ErrorReason.NOT_FOUND);
    expect(err.details).toContain("mem://b/missing");
  });

  it("rejects bad references with INVALID_ARGUMENT and a detail naming the problem", async () => {
    for (const reference of ["no-scheme", "mem://b/a/../b", "mem://b/x?y", "mem://b/%zz"]) {
      const err = await expectStatus(unary("Head", { reference }), grpc.status.INVALID_ARGUMENT, ErrorReason.INVALID_REFERENCE);
      expect(err.details).toContain("invalid reference");
    }
    const err = await expectStatus(unary("Head", { reference: "ftp://b/k" }), grpc.status.INVALID_ARGUMENT, ErrorReason.UNKNOWN_SCHEME);
    expect(err.details).toContain("mem://");
  });

  it("never touches files outside the local root, whatever the reference", async () => {
    const hostile = [
      "file://../escape/x",
      "file://./x",
      "file:///../../etc/passwd",
      "file://bucket/%2e%2e/%2e%2e/x",
      "file://bucket/a%2F..%2F..%2Fx",
      "file://.stowd/tmp/x",
    ];
    for (const reference of hostile) {
      await expectStatus(writeRaw({ reference, size: "1" }, Buffer.from("x")), grpc.status.INVALID_ARGUMENT);
    }
    const parent = join(daemon.localRoot, "..");
    expect(existsSync(join(parent, "escape"))).toBe(false);
    for (const name of readdirSync(daemon.localRoot)) expect([".stowd", "bucket"]).toContain(name);
  });

  it("rejects a stream longer or shorter than its declared size and stores nothing", async () => {
    const ref = "mem://b/sized";
    await expectStatus(writeRaw({ reference: ref, size: "10" }, Buffer.alloc(11)), grpc.status.INVALID_ARGUMENT, ErrorReason.SIZE_MISMATCH);
    await expectStatus(writeRaw({ reference: ref, size: "10" }, Buffer.alloc(9)), grpc.status.INVALID_ARGUMENT, ErrorReason.SIZE_MISMATCH);
    expect((await unary<{ exists: boolean }>("Head", { reference: ref })).exists).toBe(false);
  });

  it("rejects a stream that does not start with a header", async () => {
    await new Promise<void>((resolve) => {
      const call = (client.WriteRaw as (cb: (err: grpc.ServiceError | null) => void) => grpc.ClientWritableStream<object>)((err) => {
        expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(err?.details).toContain("header");
        resolve();
      });
      call.write({ chunk: Buffer.from("data first") });
      call.end();
    });
  });

  it("leaves nothing behind when the client cancels mid-upload", async () => {
    const ref = "file://bucket/cancelled.bin";
    await new Promise<void>((resolve) => {
      const call = (client.WriteRaw as (cb: (err: grpc.ServiceError | null) => void) => grpc.ClientWritableStream<object>)((err) => {
        expect(err?.code).toBe(grpc.status.CANCELLED);
        resolve();
      });
      call.write({ header: { reference: ref } });
      call.write({ chunk: randomBytes(1024 * 1024) }, () => setTimeout(() => call.cancel(), 50));
    });
    // The daemon sees the cancel asynchronously; give it a moment to clean up.
    await new Promise((r) => setTimeout(r, 200));
    expect((await unary<{ exists: boolean }>("Head", { reference: ref })).exists).toBe(false);
    expect(readdirSync(join(daemon.localRoot, ".stowd", "tmp"))).toEqual([]);
  });

  it("rejects a message over the size limit with RESOURCE_EXHAUSTED and keeps serving", async () => {
    await expectStatus(
      writeRaw({ reference: "mem://b/huge-frame" }, Buffer.alloc(20 * 1024 * 1024), 20 * 1024 * 1024),
      grpc.status.RESOURCE_EXHAUSTED,
    );
    expect((await unary<{ exists: boolean }>("Head", { reference: "mem://b/huge-frame" })).exists).toBe(false);
  });

  it("rejects malformed protobuf with INVALID_ARGUMENT and keeps serving", async () => {
    const raw = new grpc.Client(daemon.grpcAddress, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        raw.makeUnaryRequest(
          "/stowd.v1.RawStoreService/Head",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // field 1, length far past the end
          (e) => resolve(e as grpc.ServiceError),
        );
      });
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toContain("stowd.v1.HeadRequest");
    } finally {
      raw.close();
    }
    expect((await unary<{ exists: boolean }>("Head", { reference: "mem://b/still-serving" })).exists).toBe(false);
  });

  it("serves ranges and reports a range past the end as OUT_OF_RANGE", async () => {
    const ref = "mem://b/ranges";
    await writeRaw({ reference: ref, size: "10" }, Buffer.from("0123456789"));
    expect((await readRaw({ reference: ref, range: { offset: "2", length: "3" } })).data.toString()).toBe("234");
    expect((await readRaw({ reference: ref, range: { offset: "7" } })).data.toString()).toBe("789");
    await expectStatus(readRaw({ reference: ref, range: { offset: "10" } }), grpc.status.OUT_OF_RANGE, ErrorReason.OUT_OF_RANGE);
    await expectStatus(
      readRaw({ reference: ref, range: { offset: "1", suffix_length: "2" } }),
      grpc.status.INVALID_ARGUMENT,
      ErrorReason.INVALID_ARGUMENT,
    );
  });

  it("answers if_none_match with not_modified and no data", async () => {
    const ref = "mem://b/cached";
    const { info } = await writeRaw({ reference: ref, size: "5" }, Buffer.from("hello"));
    const result = await readRaw({ reference: ref, if_none_match_etag: info.etag });
    expect(result.header.not_modified).toBe(true);
    expect(result.data.length).toBe(0);
    await expectStatus(
      readRaw({ reference: ref, if_match_etag: "other" }),
      grpc.status.FAILED_PRECONDITION,
      ErrorReason.PRECONDITION_FAILED,
    );
  });

  it("enforces create-only writes with ALREADY_EXISTS", async () => {
    const ref = "mem://b/create-only";
    await writeRaw({ reference: ref, size: "1", preconditions: { if_not_exists: true } }, Buffer.from("a"));
    await expectStatus(
      writeRaw({ reference: ref, size: "1", preconditions: { if_not_exists: true } }, Buffer.from("b")),
      grpc.status.ALREADY_EXISTS,
      ErrorReason.ALREADY_EXISTS,
    );
    expect((await readRaw({ reference: ref })).data.toString()).toBe("a");
  });

  it("copies across schemes and answers CreateSignedUrl on local disk with UNIMPLEMENTED", async () => {
    await writeRaw({ reference: "mem://b/src", size: "3", content_type: "text/plain" }, Buffer.from("abc"));
    const copied = await unary<{ info: ObjectInfo }>("CopyRaw", {
      source_reference: "mem://b/src",
      destination_reference: "file://bucket/dst",
    });
    expect(copied.info.reference).toBe("file://bucket/dst");
    expect(copied.info.content_type).toBe("text/plain");
    expect((await readRaw({ reference: "file://bucket/dst" })).data.toString()).toBe("abc");
    await expectStatus(
      unary("CreateSignedUrl", { reference: "file://bucket/dst", method: "SIGNED_URL_METHOD_GET", expires_in: { seconds: "60" } }),
      grpc.status.UNIMPLEMENTED,
      ErrorReason.UNSUPPORTED,
    );
  });

  it("constructs and splits references and describes the server", async () => {
    expect(await unary("ConstructReference", { base_reference: "s3://bucket/prefix", nested_keys: ["a", "my file"] })).toEqual({
      reference: "s3://bucket/prefix/a/my%20file",
    });
    expect(await unary("SplitReference", { reference: "abfs://c@acct.dfs.core.windows.net/p/x" })).toEqual({
      scheme: "abfs",
      container: "c",
      key: "p/x",
    });
    const info = await unary<{ version: string; backends: { scheme: string; kind: string; capabilities: Record<string, boolean> }[] }>(
      "GetServerInfo",
      {},
    );
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.backends.map((b) => [b.scheme, b.kind])).toEqual([
      ["mem", "memory"],
      ["file", "local"],
    ]);
    expect(info.backends[0]!.capabilities.signed_urls).toBe(false);
  });
});
