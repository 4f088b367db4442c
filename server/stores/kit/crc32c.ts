// CRC32C (Castagnoli, as GCS and S3 compute it) of stored objects. The
// service computes a WriteRaw or Append body's CRC32C while it checks the
// body (server/services/checked-body.ts) and hands it to the store; a store
// written to by anything else (a streamed copy, a test) computes it here.
// An append extends the object's CRC32C with the appended bytes' by
// combining the two values (zlib's crc32_combine), so no store reads the old
// bytes again. Backends that keep it as text use GCS's and S3's form: the
// big-endian value in base64.
import { crc32c } from "@node-rs/crc32";
import type { BodyCrc32c, ObjectMeta } from "../raw-store.js";

/**
 * The user-metadata key under which S3 and Azure keep the CRC32C (in the
 * reserved `stowd_` namespace, so no caller's key collides); taken out of
 * the metadata callers see.
 */
export const CRC32C_METADATA_KEY = "stowd_crc32c";

/** `metadata` with the CRC32C recorded under CRC32C_METADATA_KEY when known. */
export function withCrc32c(metadata: Record<string, string>, crc32c: number | undefined): Record<string, string> {
  return crc32c === undefined ? { ...metadata } : { ...metadata, [CRC32C_METADATA_KEY]: crc32cToBase64(crc32c) };
}

/** The CRC32C recorded in `metadata`, and the metadata without it. */
export function takeCrc32c(metadata: Record<string, string>): { crc32c: number | undefined; metadata: Record<string, string> } {
  const { [CRC32C_METADATA_KEY]: recorded, ...rest } = metadata;
  return { crc32c: crc32cFromBase64(recorded), metadata: rest };
}

/** `body`, and its CRC32C: `given` when the caller computes it, else computed here as `body` is read. */
export function trackCrc32c(
  body: AsyncIterable<Uint8Array>,
  given: BodyCrc32c | undefined,
): { body: AsyncIterable<Uint8Array>; crc32c: BodyCrc32c } {
  if (given !== undefined) return { body, crc32c: given };
  const running = runningCrc32c(undefined);
  async function* tracked(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body) {
      running.update(chunk);
      yield chunk;
    }
    running.end();
  }
  return { body: tracked(), crc32c: running };
}

/** A CRC32C computed chunk by chunk; `value()` throws until `end()`. */
export function runningCrc32c(declared: number | undefined): BodyCrc32c & { update(chunk: Uint8Array): void; end(): void } {
  let crc = 0;
  let ended = false;
  return {
    declared,
    update(chunk) {
      crc = crc32c(chunk, crc);
    },
    end() {
      ended = true;
    },
    value() {
      if (!ended) throw new Error("the CRC32C of a body was read before the body ended");
      return crc;
    },
  };
}

/** The CRC32C of `data`, continuing from `previous` (the CRC32C of the bytes before it). */
export function crc32cOf(data: Uint8Array, previous = 0): number {
  return crc32c(data, previous);
}

/**
 * The CRC32C of an object after an append: `previous` (the object's, or
 * undefined when unknown) extended by `appended` bytes whose CRC32C is
 * `appendedCrc`. Unknown when the object had bytes but no CRC32C.
 */
export function appendedCrc32c(
  previous: Pick<ObjectMeta, "size" | "crc32c"> | undefined,
  appendedCrc: number,
  appendedBytes: number,
): number | undefined {
  if (previous === undefined || previous.size === 0) return appendedCrc;
  if (previous.crc32c === undefined) return undefined;
  return combineCrc32c(previous.crc32c, appendedCrc, appendedBytes);
}

/** CRC32C(A + B) from CRC32C(A), CRC32C(B) and B's length, in O(log length) (zlib's crc32_combine). */
export function combineCrc32c(first: number, second: number, secondBytes: number): number {
  if (secondBytes <= 0) return first >>> 0;
  // odd: the operator for one zero bit; squared, for 2, 4, 8, ... zero bits.
  let odd = new Uint32Array(32);
  let even = new Uint32Array(32);
  odd[0] = 0x82f63b78;
  for (let n = 1; n < 32; n++) odd[n] = 1 << (n - 1);
  square(even, odd); // 2 zero bits
  square(odd, even); // 4 zero bits
  let crc = first >>> 0;
  let remaining = secondBytes;
  while (remaining > 0) {
    // Apply the operator for this bit of the length (in bytes: 8 zero bits, then 16, ...).
    square(even, odd);
    if (remaining % 2 === 1) crc = times(even, crc);
    remaining = Math.floor(remaining / 2);
    [odd, even] = [even, odd];
  }
  return (crc ^ second) >>> 0;
}

function times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let i = 0, v = vector >>> 0; v !== 0; i++, v >>>= 1) if (v & 1) sum ^= matrix[i] ?? 0;
  return sum >>> 0;
}

function square(out: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) out[n] = times(matrix, matrix[n] ?? 0);
}

/** A CRC32C for messages: 0x and 8 hex digits. */
export function formatCrc32c(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}

/** The big-endian CRC32C in base64 ("AAAAAA=="), as GCS and S3 write it. */
export function crc32cToBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString("base64");
}

/** The CRC32C in its base64 form; undefined when `text` is not one. */
export function crc32cFromBase64(text: unknown): number | undefined {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]{6}==$/.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.length === 4 && bytes.toString("base64") === text ? bytes.readUInt32BE(0) : undefined;
}

/** The CRC32C of a body whose bytes are all known before it is written. */
export function knownCrc32c(value: number): BodyCrc32c {
  return { declared: value, value: () => value };
}
