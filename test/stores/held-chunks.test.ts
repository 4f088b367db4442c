// Parts and blocks hold a body's chunks instead of joining them
// (server/stores/kit/held-chunks.ts), and the S3 part reader hashes what it
// holds for the signed payload. Tested directly: the bytes, their order, what
// is held by reference and what is copied, and the hashes.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createChunkHolder, streamOfChunks } from "../../server/stores/kit/held-chunks.js";
import { createPartReader } from "../../server/stores/s3/multipart.js";

const KiB = 1024;

async function bytesOf(chunks: readonly Uint8Array[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of streamOfChunks(chunks)) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

describe("createChunkHolder", () => {
  it("holds large chunks of their own buffer as they are", () => {
    const holder = createChunkHolder();
    const a = randomBytes(256 * KiB);
    const b = Buffer.from(randomBytes(64 * KiB));
    holder.add(a);
    holder.add(b);
    const held = holder.take();
    expect(held.size).toBe(a.length + b.length);
    expect(held.chunks[0]).toBe(a);
    expect(held.chunks[1]).toBe(b);
  });

  it("copies small chunks together into runs, keeping every byte in order", async () => {
    const data = randomBytes(300 * KiB + 17);
    const holder = createChunkHolder();
    for (let at = 0; at < data.length; at += 7919) holder.add(Buffer.from(data.subarray(at, at + 7919)));
    const held = holder.take();
    expect(held.size).toBe(data.length);
    expect(held.chunks.length).toBeLessThanOrEqual(Math.ceil(data.length / (64 * KiB)));
    expect((await bytesOf(held.chunks)).equals(data)).toBe(true);
  });

  it("copies a large view of a much larger buffer instead of pinning the buffer", () => {
    const big = randomBytes(4096 * KiB);
    const view = big.subarray(0, 128 * KiB);
    const holder = createChunkHolder();
    holder.add(view);
    const held = holder.take();
    expect(held.chunks.every((c) => c.buffer !== big.buffer)).toBe(true);
    expect(Buffer.concat(held.chunks).equals(view)).toBe(true);
  });

  it("mixes held and copied chunks in order, and starts over after take()", async () => {
    const parts = [randomBytes(10), randomBytes(128 * KiB), randomBytes(3), randomBytes(5), randomBytes(70 * KiB)];
    const holder = createChunkHolder();
    for (const p of parts) holder.add(p);
    expect((await bytesOf(holder.take().chunks)).equals(Buffer.concat(parts))).toBe(true);
    expect(holder.size).toBe(0);
    expect(holder.take()).toEqual({ chunks: [], size: 0 });
  });

  it("gives a fresh stream each time, so a retried request sends the bytes again", async () => {
    const chunks = [randomBytes(100 * KiB), randomBytes(100 * KiB)];
    expect((await bytesOf(chunks)).equals(await bytesOf(chunks))).toBe(true);
  });
});

describe("createPartReader", () => {
  async function* body(data: Buffer, chunkBytes: number) {
    for (let at = 0; at < data.length; at += chunkBytes) yield Buffer.from(data.subarray(at, at + chunkBytes));
  }

  it("cuts parts of exactly the part size, each with the SHA-256 of its bytes", async () => {
    const partSize = 256 * KiB;
    const data = randomBytes(2 * partSize + 12_345);
    const reader = createPartReader(body(data, 100_003), partSize);
    const parts = [];
    for (;;) {
      const part = await reader.next();
      parts.push(part);
      if (part.last) break;
    }
    expect(parts.map((p) => p.size)).toEqual([partSize, partSize, 12_345]);
    let at = 0;
    for (const part of parts) {
      const expected = data.subarray(at, at + part.size);
      expect((await bytesOf(part.chunks)).equals(expected)).toBe(true);
      expect(part.sha256).toBe(createHash("sha256").update(expected).digest("hex"));
      at += part.size;
    }
  });

  it("reads a body of exactly one part as one last part, and an empty body as one empty part", async () => {
    const data = randomBytes(64 * KiB);
    const one = await createPartReader(body(data, 10_000), data.length).next();
    expect(one).toMatchObject({ size: data.length, last: true });
    const empty = await createPartReader(body(Buffer.alloc(0), 1), 64 * KiB).next();
    expect(empty).toMatchObject({ size: 0, last: true, sha256: createHash("sha256").digest("hex") });
  });
});
