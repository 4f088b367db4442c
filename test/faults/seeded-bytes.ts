// Deterministic pseudo-random content for fault tests: the bytes of object
// version `seed` are an AES-128-CTR keystream keyed by the seed, so a test can
// write many MiB and later check every byte (or tell which version it got)
// without keeping the data around.
import { createCipheriv, createHash } from "node:crypto";

const CHUNK = 1024 * 1024;

function keystream(seed: string) {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  return createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
}

/** The `size` bytes of version `seed`, in chunks of at most `chunkBytes`. */
export function* seededChunks(seed: string, size: number, chunkBytes = CHUNK): Generator<Buffer> {
  const cipher = keystream(seed);
  for (let at = 0; at < size; at += chunkBytes) yield cipher.update(Buffer.alloc(Math.min(chunkBytes, size - at)));
}

/** All of version `seed` at once (for small sizes or one-off comparisons). */
export function seededBytes(seed: string, size: number): Buffer {
  return Buffer.concat([...seededChunks(seed, size)]);
}

/** Compares a stream of chunks against version `seed` as it goes; says where they first differ. */
export function createSeededVerifier(seed: string) {
  const cipher = keystream(seed);
  let offset = 0;
  let firstMismatch = -1;
  return {
    update(chunk: Uint8Array): void {
      const expected = cipher.update(Buffer.alloc(chunk.length));
      if (firstMismatch < 0 && !expected.equals(chunk)) {
        for (let i = 0; i < chunk.length; i++) {
          if (expected[i] !== chunk[i]) {
            firstMismatch = offset + i;
            break;
          }
        }
      }
      offset += chunk.length;
    },
    /** Bytes seen so far. */
    get length(): number {
      return offset;
    },
    /** Offset of the first byte that differs, or -1 when all matched. */
    get firstMismatch(): number {
      return firstMismatch;
    },
  };
}
