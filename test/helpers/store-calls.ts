// Calling a RawStore directly in tests: write options, request bodies in
// chosen chunk sizes, reading a body back, and a signal that never aborts.
import { createHash } from "node:crypto";
import type { Ref } from "../../server/references/reference.js";
import type { RawStore, ReadOptions, ReadResult, WriteOptions } from "../../server/stores/raw-store.js";

export const never = new AbortController().signal;

/** Odd chunk sizes, including a 1-byte chunk and one just over 1 MiB. */
export const ODD_CHUNKS: readonly number[] = [7, 65_536, 100_003, 1, (1 << 20) + 7, 4_093];

export function writeOptions(extra: Partial<WriteOptions> = {}): WriteOptions {
  return { contentType: "application/octet-stream", metadata: {}, preconditions: {}, ...extra };
}

/** Yields fresh copies of `data` in chunks of `sizes` (one size, or sizes taken in turn). */
export async function* chunked(data: Uint8Array, sizes: number | readonly number[] = ODD_CHUNKS): AsyncGenerator<Uint8Array> {
  const list = typeof sizes === "number" ? [sizes] : sizes;
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = list[i % list.length] ?? 1;
    yield data.slice(at, at + size);
    at += size;
  }
}

/** Yields `data` up to `failAt`, then throws like a broken client stream. */
export async function* failingAfter(
  data: Uint8Array,
  failAt: number,
  sizes: number | readonly number[] = ODD_CHUNKS,
): AsyncGenerator<Uint8Array> {
  yield* chunked(data.subarray(0, failAt), sizes);
  throw new Error("client stream broke");
}

/** Reads a body to its end. */
export async function drain(result: ReadResult): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of result.body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Reads the object at `ref` whole. */
export async function readAll(store: RawStore, ref: Ref, options: ReadOptions = {}): Promise<Buffer> {
  return drain(await store.read(ref, options, never));
}
