// The SDK against a real daemon: the gRPC port through the default tuned
// transport, and the HTTP port through connect's Connect-protocol transport.
import { randomBytes, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { create, equals } from "@bufbuild/protobuf";
import { DurationSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createStowdClient, createStowdTransport, ErrorReason, type StowdClient, type WriteBody } from "../../client/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { clientRejection } from "../helpers/rejections.js";

const MiB = 1024 * 1024;

let daemon: TestDaemon;
let client: StowdClient;

beforeAll(async () => {
  daemon = await startTestDaemon();
  client = createStowdClient({ baseUrl: daemon.grpcUrl, timeoutMs: 30_000 });
});

afterAll(async () => {
  client?.close();
  await daemon?.close();
});

/** A fresh prefix per test so tests never see each other's objects. */
function fresh(base: string): string {
  return `${base}/${randomUUID()}`;
}

const bodies: Record<string, (bytes: Uint8Array) => WriteBody> = {
  bytes: (bytes) => bytes,
  Readable: (bytes) => Readable.from(split(bytes, 64 * 1024).map((part) => Buffer.from(part))),
  "async iterable": (bytes) =>
    (async function* () {
      yield* split(bytes, 300 * 1024);
    })(),
};

/** Array.fromAsync, which Node 20 lacks. */
async function collectAll<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += size) parts.push(bytes.subarray(at, at + size));
  return parts;
}

describe.each(["mem://sdk", "file://sdk"])("%s over gRPC", (base) => {
  describe.each([0, 1, 8 * MiB])("round trip of %i bytes", (size) => {
    const data = new Uint8Array(randomBytes(size));

    it.each(Object.keys(bodies))("written from %s", async (kind) => {
      const ref = `${fresh(base)}/object`;
      const info = await client.write(ref, bodies[kind]!(data), { contentType: "application/octet-stream" });
      expect(info.size).toBe(size);
      expect(info.etag).not.toBe("");
      expect(Buffer.from(await client.readBytes(ref)).equals(data)).toBe(true);
      const streamed = Buffer.concat(await client.readStream(ref).toArray());
      expect(streamed.equals(data)).toBe(true);
      const head = await client.head(ref);
      expect(head?.size).toBe(size);
      expect(head?.contentType).toBe("application/octet-stream");
    });
  });

  it("serves offset, open-ended and suffix ranges", async () => {
    const ref = `${fresh(base)}/digits`;
    await client.write(ref, "0123456789");
    const text = async (range: Parameters<StowdClient["readBytes"]>[1]) => Buffer.from(await client.readBytes(ref, range)).toString();
    expect(await text({ range: { offset: 2, length: 3 } })).toBe("234");
    expect(await text({ range: { offset: 7 } })).toBe("789");
    expect(await text({ range: { offset: 8, length: 100 } })).toBe("89");
    expect(await text({ range: { suffixLength: 4 } })).toBe("6789");
    expect(await text({ range: { suffixLength: 50 } })).toBe("0123456789");
    const handle = await client.read(ref, { range: { offset: 4, length: 2 } });
    expect([handle.offset, handle.length, handle.info.size]).toEqual([4, 2, 10]);
    handle.cancel();
    const error = await clientRejection(client.read(ref, { range: { offset: 10 } }));
    expect(error.code).toBe(Code.OutOfRange);
    expect(error.reason).toBe(ErrorReason.OUT_OF_RANGE);
  });

  it("answers notModified for a matching ifNoneMatchEtag", async () => {
    const ref = `${fresh(base)}/etag`;
    const { etag } = await client.write(ref, "abc");
    const handle = await client.read(ref, { ifNoneMatchEtag: etag });
    expect(handle.notModified).toBe(true);
    expect(handle.length).toBe(0);
    expect(await collectAll(handle.chunks)).toEqual([]);
    const error = await clientRejection(client.readBytes(ref, { ifMatchEtag: "other" }));
    expect(error.code).toBe(Code.FailedPrecondition);
  });

  it("lists every page, with common prefixes for a delimiter", async () => {
    const prefix = fresh(base);
    const keys = ["a/1", "a/2", "b", "c", "d/x", "e"];
    for (const key of keys) await client.write(`${prefix}/${key}`, key);

    const flat: string[] = [];
    for await (const entry of client.list(`${prefix}/`, { pageSize: 2 })) {
      expect(entry.kind).toBe("object");
      if (entry.kind === "object") flat.push(entry.info.reference);
    }
    expect(flat).toEqual(keys.map((key) => `${prefix}/${key}`));

    let pages = 0;
    const objects: string[] = [];
    const prefixes: string[] = [];
    for await (const page of client.listPages(`${prefix}/`, { pageSize: 2, delimiter: "/" })) {
      pages++;
      expect(page.objects.length + page.commonPrefixes.length).toBeLessThanOrEqual(2);
      objects.push(...page.objects.map((info) => info.reference));
      prefixes.push(...page.commonPrefixes);
    }
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(objects).toEqual(["b", "c", "e"].map((key) => `${prefix}/${key}`));
    expect(prefixes).toEqual([`${prefix}/a/`, `${prefix}/d/`]);

    const entries: string[] = [];
    for await (const entry of client.list(`${prefix}/`, { pageSize: 2, delimiter: "/" })) {
      entries.push(entry.kind === "object" ? entry.info.reference : entry.reference);
    }
    expect(entries.sort()).toEqual([...objects, ...prefixes].sort());

    expect(await collectAll(client.list(`${fresh(base)}/`))).toEqual([]);
  });

  it("heads, deletes and deletes by prefix", async () => {
    const prefix = fresh(base);
    expect(await client.head(`${prefix}/missing`)).toBeUndefined();
    await client.write(`${prefix}/empty`, new Uint8Array(0));
    expect((await client.head(`${prefix}/empty`))?.size).toBe(0);

    await client.delete(`${prefix}/empty`);
    expect(await client.head(`${prefix}/empty`)).toBeUndefined();
    const error = await clientRejection(client.delete(`${prefix}/empty`));
    expect(error.code).toBe(Code.NotFound);
    await client.delete(`${prefix}/empty`, { allowMissing: true });

    for (const key of ["x/1", "x/2", "x/3", "y"]) await client.write(`${prefix}/${key}`, key);
    expect(await client.deletePrefix(`${prefix}/x/`)).toBe(3);
    expect(await client.head(`${prefix}/y`)).toBeDefined();
  });

  it("enforces write preconditions and copies", async () => {
    const ref = `${fresh(base)}/once`;
    const first = await client.write(ref, "one", { ifNotExists: true, metadata: { owner: "sdk" } });
    const exists = await clientRejection(client.write(ref, "two", { ifNotExists: true }));
    expect(exists.code).toBe(Code.AlreadyExists);
    expect(exists.reason).toBe(ErrorReason.ALREADY_EXISTS);
    const stale = await clientRejection(client.write(ref, "two", { ifMatchEtag: `${first.etag}x` }));
    expect(stale.code).toBe(Code.FailedPrecondition);
    expect(stale.reason).toBe(ErrorReason.PRECONDITION_FAILED);
    await client.write(ref, "two", { ifMatchEtag: first.etag, metadata: { owner: "sdk" } });

    const copy = await client.copy(ref, `${ref}-copy`);
    expect(copy.metadata.owner).toBe("sdk");
    expect(Buffer.from(await client.readBytes(`${ref}-copy`)).toString()).toBe("two");
  });

  it("rejects a stream longer than its declared size and stores nothing", async () => {
    const ref = `${fresh(base)}/sized`;
    const error = await clientRejection(client.write(ref, Readable.from([Buffer.from("abcd")]), { size: 3 }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.reason).toBe(ErrorReason.SIZE_MISMATCH);
    expect(await client.head(ref)).toBeUndefined();
  });

  it("round-trips a typed message and refuses another type", async () => {
    const ref = `${fresh(base)}/struct.pb`;
    const struct = create(StructSchema, {
      fields: { name: { kind: { case: "stringValue", value: "stowd" } } },
    });
    const info = await client.writeProtobuf(ref, StructSchema, struct);
    expect(info.metadata.stowd_type_url).toBe("type.googleapis.com/google.protobuf.Struct");
    const { message, info: read } = await client.readProtobuf(ref, StructSchema);
    expect(equals(StructSchema, message, struct)).toBe(true);
    expect(read.etag).toBe(info.etag);

    const error = await clientRejection(client.readProtobuf(ref, DurationSchema));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.reason).toBe(ErrorReason.TYPE_MISMATCH);
    expect(error.reference).toBe(ref);
  });

  it("turns a missing object into a typed NOT_FOUND with the reference", async () => {
    const ref = `${fresh(base)}/absent`;
    for (const attempt of [client.read(ref), client.readBytes(ref), client.readProtobuf(ref, StructSchema)]) {
      const error = await clientRejection(attempt);
      expect(error.code).toBe(Code.NotFound);
      expect(error.reason).toBe(ErrorReason.NOT_FOUND);
      expect(error.detail?.reference).toBe(ref);
      expect(error.reference).toBe(ref);
    }
    const streamed = await clientRejection(client.readStream(ref).toArray());
    expect(streamed.code).toBe(Code.NotFound);
  });

  it("rejects a bad reference with INVALID_REFERENCE", async () => {
    const error = await clientRejection(client.head(`${base}/a/../b`));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.reason).toBe(ErrorReason.INVALID_REFERENCE);
  });
});

describe("cancellation", () => {
  it("rejects a read aborted mid-stream", async () => {
    const ref = `${fresh("mem://sdk")}/big`;
    await client.write(ref, new Uint8Array(16 * MiB));
    const controller = new AbortController();
    const handle = await client.read(ref, { signal: controller.signal });
    const error = await clientRejection(
      (async () => {
        for await (const chunk of handle.chunks) {
          expect(chunk.byteLength).toBeGreaterThan(0);
          controller.abort();
        }
      })(),
    );
    expect(error.code).toBe(Code.Canceled);
  });

  it("rejects a read whose signal is already aborted", async () => {
    const error = await clientRejection(client.readBytes("mem://sdk/any", { signal: AbortSignal.abort() }));
    expect(error.code).toBe(Code.Canceled);
  });

  it("errors a readStream whose signal aborts, and cancels a destroyed one", async () => {
    const ref = `${fresh("mem://sdk")}/big`;
    await client.write(ref, new Uint8Array(16 * MiB));
    const controller = new AbortController();
    const stream = client.readStream(ref, { signal: controller.signal });
    const error = await clientRejection(
      (async () => {
        for await (const chunk of stream) {
          expect(chunk).toBeInstanceOf(Buffer);
          controller.abort();
        }
      })(),
    );
    expect(error.code).toBe(Code.Canceled);

    const destroyed = client.readStream(ref);
    for await (const chunk of destroyed) {
      expect(chunk).toBeInstanceOf(Buffer);
      break; // destroys the stream, which cancels the call
    }
    expect(destroyed.destroyed).toBe(true);
    // The connection is still usable afterwards.
    expect((await client.head(ref))?.size).toBe(16 * MiB);
  });

  async function abortedUpload(options: { size?: number }) {
    const ref = `${fresh("mem://sdk")}/partial`;
    const controller = new AbortController();
    async function* body() {
      yield new Uint8Array(MiB);
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 50));
      yield new Uint8Array(MiB);
    }
    const error = await clientRejection(client.write(ref, body(), { ...options, signal: controller.signal }));
    expect(error.code).toBe(Code.Canceled);
    expect(await client.head(ref)).toBeUndefined();
  }

  it("rejects an upload of declared size aborted mid-stream and stores nothing", async () => {
    await abortedUpload({ size: 2 * MiB });
  });

  // A Node client cancels with END_STREAM followed by RST_STREAM CANCEL; the
  // daemon must not take that half-close for a complete upload (see
  // server/calls/request-end.ts; test/service/cancelled-upload.test.ts
  // cancels at many more points).
  it("rejects an upload of unknown size aborted mid-stream and stores nothing", async () => {
    await abortedUpload({});
  });
});

describe("references and server info", () => {
  it("constructs and splits references on the daemon", async () => {
    const joined = await client.constructReference("mem://bucket/base", ["a", "b/c.pb"]);
    expect(joined).toBe("mem://bucket/base/a/b/c.pb");
    const parts = await client.splitReference("mem://bucket/x/y");
    expect(parts).toEqual({ scheme: "mem", container: "bucket", key: "x/y" });
    const error = await clientRejection(client.constructReference("mem://bucket", [".."]));
    expect(error.code).toBe(Code.InvalidArgument);
  });

  it("reports the configured schemes", async () => {
    const info = await client.serverInfo();
    expect(info.backends.map((backend) => backend.scheme).sort()).toEqual(["file", "mem"]);
    // Auth is off in this daemon: everyone may do everything, and there is no name.
    expect(info.caller).toEqual({ authEnabled: false, name: "", grants: [] });
  });

  it("appends where the backend can, and says UNIMPLEMENTED where not", async () => {
    const info = await client.serverInfo();
    for (const backend of info.backends) {
      const ref = `${fresh(`${backend.scheme}://sdk`)}/log`;
      const attempt = client.append(ref, "ab", { createIfMissing: true });
      if (!backend.capabilities.append) {
        expect((await clientRejection(attempt)).code).toBe(Code.Unimplemented);
        continue;
      }
      await attempt;
      const after = await client.append(ref, "cd", { expectedOffset: 2 });
      expect(after.size).toBe(4);
      const stale = await clientRejection(client.append(ref, "ef", { expectedOffset: 2 }));
      expect(stale.code).toBe(Code.FailedPrecondition);
      expect(Buffer.from(await client.readBytes(ref)).toString()).toBe("abcd");
    }
  });
});

describe.each(["1.1", "2"] as const)("Connect protocol over HTTP/%s", (httpVersion) => {
  let http: StowdClient;
  let sessions: Http2SessionManager | undefined;

  beforeAll(() => {
    sessions = httpVersion === "2" ? new Http2SessionManager(daemon.httpUrl) : undefined;
    const transport = createConnectTransport({
      baseUrl: daemon.httpUrl,
      acceptCompression: [],
      ...(sessions === undefined ? { httpVersion } : { httpVersion, sessionManager: sessions }),
    });
    http = createStowdClient({ transport });
  });

  afterAll(() => {
    http?.close();
    sessions?.abort();
  });

  it.each(Object.keys(bodies))("round-trips 8 MiB written from %s", async (kind) => {
    const data = new Uint8Array(randomBytes(8 * MiB));
    const ref = `${fresh("mem://sdk")}/over-http`;
    const info = await http.write(ref, bodies[kind]!(data));
    expect(info.size).toBe(data.byteLength);
    expect(Buffer.from(await http.readBytes(ref)).equals(data)).toBe(true);
    const tail = Buffer.concat(await http.readStream(ref, { range: { suffixLength: 5 } }).toArray());
    expect(tail.equals(data.subarray(-5))).toBe(true);
  });

  it("carries code, reason and reference in errors", async () => {
    const ref = `${fresh("mem://sdk")}/absent`;
    const error = await clientRejection(http.readBytes(ref));
    expect(error.code).toBe(Code.NotFound);
    expect(error.reason).toBe(ErrorReason.NOT_FOUND);
    expect(error.detail?.reference).toBe(ref);
    expect(await http.head(ref)).toBeUndefined();
  });

  it("round-trips a typed message", async () => {
    const ref = `${fresh("mem://sdk")}/duration.pb`;
    await http.writeProtobuf(ref, DurationSchema, create(DurationSchema, { seconds: 90n }));
    expect((await http.readProtobuf(ref, DurationSchema)).message.seconds).toBe(90n);
    const error = await clientRejection(http.readProtobuf(ref, StructSchema));
    expect(error.reason).toBe(ErrorReason.TYPE_MISMATCH);
  });
});

describe.each(["connect", "grpc-web"] as const)("createStowdTransport with %s on the HTTP port", (protocol) => {
  it("round-trips and closes", async () => {
    const transport = createStowdTransport({ baseUrl: daemon.httpUrl, protocol });
    const http = createStowdClient({ transport });
    try {
      const ref = `${fresh("mem://sdk")}/tuned`;
      await http.write(ref, new Uint8Array(3 * MiB + 5));
      expect((await http.readBytes(ref)).byteLength).toBe(3 * MiB + 5);
    } finally {
      transport.close();
    }
  });
});
