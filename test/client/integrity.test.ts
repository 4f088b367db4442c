// End-to-end integrity with CRC32C: the SDK sends every body's checksum (in
// the header when it knows it up front, in the trailer after a stream), the
// daemon stores nothing when the bytes that arrived do not match, and a
// whole-object read whose bytes do not match the stored checksum fails with
// DATA_LOSS (CHECKSUM_MISMATCH) instead of handing back corrupted data as a
// success. Corruption is injected where it happens in real life: in flight
// (an interceptor changes a chunk after the SDK computed the checksum) and
// on disk (a byte of the stored file flipped, its size unchanged).
import { randomBytes, randomUUID } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtemp, open, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { crc32c } from "@node-rs/crc32";
import { ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Code,
  createStowdClient,
  createStowdTransport,
  ErrorReason,
  StowdClientError,
  type StowdTransport,
  type WriteBody,
} from "../../client/index.js";
import { RawStoreService, type AppendRequest, type WriteRawRequest } from "../../gen/stowd/v1/raw_store_pb.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { clientRejection } from "../helpers/rejections.js";

const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

let daemon: TestDaemon;
const transports: StowdTransport[] = [];

beforeAll(async () => {
  daemon = await startTestDaemon();
});

afterAll(async () => {
  for (const transport of transports) transport.close();
  await daemon?.close();
});

/** A fresh reference per test so tests never see each other's objects. */
const fresh = (base: string) => `${base}/${randomUUID()}`;

/** What an interceptor may do to each message of a client stream (WriteRaw, Append) on its way out. */
type Rewrite = (message: WriteRawRequest | AppendRequest) => WriteRawRequest | AppendRequest;

/** A transport to the daemon whose client streams pass through `rewrite` (after the SDK built them). */
function transportRewriting(rewrite: Rewrite): StowdTransport {
  const interceptor: Interceptor = (next) => (req) => {
    if (!req.stream || req.method.methodKind !== "client_streaming") return next(req);
    const messages = req.message as AsyncIterable<WriteRawRequest | AppendRequest>;
    async function* rewritten() {
      for await (const message of messages) yield rewrite(message);
    }
    return next({ ...req, message: rewritten() });
  };
  const transport = createStowdTransport({ baseUrl: daemon.grpcUrl, interceptors: [interceptor] });
  transports.push(transport);
  return transport;
}

/** Flips one bit of the first non-empty chunk, in a copy (the caller's buffer stays intact). */
function corruptingFirstChunk(): Rewrite {
  let done = false;
  return (message) => {
    if (done || message.body.case !== "chunk" || message.body.value.byteLength === 0) return message;
    done = true;
    const changed = new Uint8Array(message.body.value);
    changed[changed.byteLength >> 1]! ^= 0x01;
    return { ...message, body: { case: "chunk", value: changed } };
  };
}

/** Records where each write sent its checksum. */
function recordingChecksums(sent: Array<{ header?: number; trailer?: number }>): Rewrite {
  return (message) => {
    if (message.body.case === "header")
      sent.push({ ...(message.body.value.crc32c === undefined ? {} : { header: message.body.value.crc32c }) });
    if (message.body.case === "trailer") {
      const last = sent.at(-1);
      if (last !== undefined && message.body.value.crc32c !== undefined) last.trailer = message.body.value.crc32c;
    }
    return message;
  };
}

const bodies: Record<string, { body: (bytes: Uint8Array) => WriteBody; sentIn: "header" | "trailer" }> = {
  bytes: { body: (bytes) => bytes, sentIn: "header" },
  Blob: { body: (bytes) => new Blob([bytes]), sentIn: "trailer" },
  "web ReadableStream": { body: (bytes) => new Blob([bytes]).stream(), sentIn: "trailer" },
  "async iterable": {
    body: (bytes) =>
      (async function* () {
        for (let at = 0; at < bytes.byteLength; at += 300 * 1024) yield bytes.subarray(at, at + 300 * 1024);
      })(),
    sentIn: "trailer",
  },
};

describe("writes send the body's CRC32C", () => {
  it.each(Object.keys(bodies))("from %s, and the daemon stores it", async (kind) => {
    const { body, sentIn } = bodies[kind]!;
    const data = new Uint8Array(randomBytes(3 * MiB + 5));
    const sent: Array<{ header?: number; trailer?: number }> = [];
    const client = createStowdClient({ transport: transportRewriting(recordingChecksums(sent)) });
    const ref = `${fresh("mem://integrity")}/object`;
    const info = await client.write(ref, body(data));
    expect(sent).toEqual([{ [sentIn]: crc32c(data) }]);
    expect(info.size).toBe(data.byteLength);
    expect(info.crc32c).toBe(crc32c(data));
    expect((await client.head(ref))?.crc32c).toBe(crc32c(data));
    expect(Buffer.from(await client.readBytes(ref)).equals(data)).toBe(true);
  });

  it("and none with checksum: false", async () => {
    const sent: Array<{ header?: number; trailer?: number }> = [];
    const client = createStowdClient({ transport: transportRewriting(recordingChecksums(sent)) });
    await client.write(`${fresh("mem://integrity")}/off`, "123456789", { checksum: false });
    await createStowdClient({ transport: transportRewriting(recordingChecksums(sent)), checksum: false }).write(
      `${fresh("mem://integrity")}/off`,
      new Blob(["123456789"]),
    );
    expect(sent).toEqual([{}, {}]);
  });
});

describe.each(["mem://integrity", "file://integrity"])("%s: a body changed in flight stores nothing", (base) => {
  it.each(Object.keys(bodies))("written from %s, over an existing object", async (kind) => {
    const plain = createStowdClient({ baseUrl: daemon.grpcUrl });
    const ref = `${fresh(base)}/object`;
    const before = await plain.write(ref, "the old version");
    const corrupting = createStowdClient({ transport: transportRewriting(corruptingFirstChunk()) });
    const data = new Uint8Array(randomBytes(2 * MiB));

    const error = await clientRejection(corrupting.write(ref, bodies[kind]!.body(data)));
    expect(error.code, error.message).toBe(Code.DataLoss);
    expect(error.reason).toBe(ErrorReason.CHECKSUM_MISMATCH);
    expect((await plain.head(ref))?.etag).toBe(before.etag);
    expect(Buffer.from(await plain.readBytes(ref)).toString()).toBe("the old version");
    plain.close();
  });

  it("for a new object: it does not exist afterwards", async () => {
    const client = createStowdClient({ transport: transportRewriting(corruptingFirstChunk()) });
    const ref = `${fresh(base)}/new`;
    expect((await clientRejection(client.write(ref, new Uint8Array(randomBytes(MiB))))).reason).toBe(ErrorReason.CHECKSUM_MISMATCH);
    expect(await client.head(ref)).toBeUndefined();
  });
});

describe("a wrong declared checksum stores nothing", () => {
  // The generated client, as another language would call the contract, declaring a checksum the bytes do not have.
  const raw = () => {
    const transport = createStowdTransport({ baseUrl: daemon.grpcUrl });
    transports.push(transport);
    return createClient(RawStoreService, transport);
  };
  const body = new TextEncoder().encode("123456789");
  const wrong = (crc32c(body) ^ 0xffff) >>> 0;

  it.each(["header", "trailer"] as const)("in the WriteRaw %s", async (where) => {
    const ref = `${fresh("file://integrity")}/declared`;
    const client = createStowdClient({ baseUrl: daemon.grpcUrl });
    async function* requests() {
      yield { body: { case: "header" as const, value: { reference: ref, ...(where === "header" ? { crc32c: wrong } : {}) } } };
      yield { body: { case: "chunk" as const, value: body } };
      if (where === "trailer") yield { body: { case: "trailer" as const, value: { crc32c: wrong } } };
    }
    const error = await rawRejection(raw().writeRaw(requests()));
    expect(error.code, error.message).toBe(Code.DataLoss);
    expect(error.reason).toBe(ErrorReason.CHECKSUM_MISMATCH);
    expect(await client.head(ref)).toBeUndefined();
    client.close();
  });

  it("in the Append header: nothing is appended", async () => {
    const client = createStowdClient({ baseUrl: daemon.grpcUrl });
    const ref = `${fresh("file://integrity")}/appended`;
    const before = await client.write(ref, "start;");
    async function* requests() {
      yield { body: { case: "header" as const, value: { reference: ref, crc32c: wrong } } };
      yield { body: { case: "chunk" as const, value: body } };
    }
    const error = await rawRejection(raw().append(requests()));
    expect(error.code, error.message).toBe(Code.DataLoss);
    expect(error.reason).toBe(ErrorReason.CHECKSUM_MISMATCH);
    expect((await client.head(ref))?.etag).toBe(before.etag);
    // The SDK's own append declares the right checksum and succeeds.
    const after = await client.append(ref, "more");
    expect(Buffer.from(await client.readBytes(ref)).toString()).toBe("start;more");
    expect(after.size).toBe(10);
    client.close();
  });
});

describe("an object corrupted on disk", () => {
  it("fails a whole-object read with DATA_LOSS naming both checksums", async () => {
    const client = createStowdClient({ baseUrl: daemon.grpcUrl });
    const ref = `${fresh("file://integrity")}/rotted`;
    const data = new Uint8Array(randomBytes(MiB + 3));
    const stored = await client.write(ref, data);
    await rotByteInPlace(await fileHolding(daemon.localRoot, data), 12345);
    const rotted = Buffer.from(data);
    rotted[12345]! ^= 0x40;

    const error = await clientRejection(client.readBytes(ref));
    expect(error.code, error.message).toBe(Code.DataLoss);
    expect(error.reason).toBe(ErrorReason.CHECKSUM_MISMATCH);
    expect(error.reference).toBe(ref);
    const hex = (value: number) => `0x${value.toString(16).padStart(8, "0")}`;
    expect(error.message).toContain(hex(crc32c(rotted)));
    expect(error.message).toContain(hex(stored.crc32c ?? -1));

    // The same failure ends a streamed read, after the data.
    const streamed = await clientRejection(new Response(client.readWebStream(ref)).arrayBuffer());
    expect(streamed.reason).toBe(ErrorReason.CHECKSUM_MISMATCH);
    // Turned off, the read hands back what is stored; a range is never verified.
    expect(Buffer.from(await client.readBytes(ref, { checksum: false })).equals(rotted)).toBe(true);
    expect(Buffer.from(await client.readBytes(ref, { range: { offset: 12000, length: 1000 } })).equals(rotted.subarray(12000, 13000))).toBe(
      true,
    );
    client.close();
  });
});

/** The error a generated-client call fails with, read as the SDK reads it (code, reason). */
async function rawRejection(promise: Promise<unknown>): Promise<StowdClientError> {
  const error = await promise.then(
    () => expect.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return new StowdClientError(error as ConnectError);
}

/**
 * Flips a bit of `file` the way bit rot does: in place, with its inode, size
 * and timestamps unchanged (the local store would otherwise see a file
 * changed behind its back and drop the metadata it recorded, checksum included).
 */
async function rotByteInPlace(file: string, at: number): Promise<void> {
  const times = join(await mkdtemp(join(tmpdir(), "stowd-rot-")), "times");
  await execFileAsync("touch", ["-r", file, times]);
  const handle = await open(file, "r+");
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0]! ^= 0x40;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
  // touch -r copies the nanosecond timestamps.
  await execFileAsync("touch", ["-r", times, file]);
  await rm(dirname(times), { recursive: true });
}

/** The one file under `root` whose content is `data`, wherever the local store's layout put it. */
async function fileHolding(root: string, data: Uint8Array): Promise<string> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const content = await readFile(path);
    if (content.byteLength === data.byteLength && content.equals(data)) return path;
  }
  throw new Error(`no file under ${root} holds the ${data.byteLength} bytes written`);
}
