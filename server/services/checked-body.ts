// A stream stage between the client's chunks and the store: counts bytes
// against the declared size and the upload limit, and verifies the MD5. It
// throws *before the store sees the end of the stream*, so a store never
// commits a body that is too long, too short or corrupted.
import { createHash } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import { StowdError } from "../errors.js";

export interface BodyChecks {
  reference: string;
  /** Exact number of bytes expected, when declared. */
  declaredSize?: number;
  /** Largest allowed body; 0 = unlimited. */
  maxBytes: number;
  /** Expected MD5 digest (16 bytes). */
  md5?: Uint8Array;
  /** The call's signal: a stream that ends because the client reset it is not a complete body. */
  signal: AbortSignal;
}

export async function* checkedBody(chunks: AsyncIterable<Uint8Array>, checks: BodyChecks): AsyncGenerator<Uint8Array> {
  const { reference, declaredSize, maxBytes, md5, signal } = checks;
  const hash = md5 === undefined ? undefined : createHash("md5");
  let received = 0;
  for await (const chunk of chunks) {
    received += chunk.length;
    if (declaredSize !== undefined && received > declaredSize) {
      throw new StowdError("SIZE_MISMATCH", `the upload to ${reference} sent more than its declared size of ${declaredSize} bytes; nothing was stored`, {
        reference,
        size: received,
        limit: declaredSize,
        field: "header.size",
      });
    }
    if (maxBytes > 0 && received > maxBytes) {
      throw new StowdError("LIMIT_EXCEEDED", `the upload to ${reference} exceeds the upload limit of ${maxBytes} bytes (server.maxUploadMBs = ${maxBytes / 2 ** 20}); nothing was stored`, {
        reference,
        size: received,
        limit: maxBytes,
      });
    }
    hash?.update(chunk);
    yield chunk;
  }
  // Node's HTTP/2 server ends a request stream that the client reset
  // (RST_STREAM) before it reports the reset, so the end of the chunks alone
  // does not prove the client finished. Let the reset arrive, then check.
  await nextTurn();
  signal.throwIfAborted();
  if (declaredSize !== undefined && received !== declaredSize) {
    throw new StowdError("SIZE_MISMATCH", `the upload to ${reference} ended after ${received} bytes but declared ${declaredSize}; nothing was stored`, {
      reference,
      size: received,
      limit: declaredSize,
      field: "header.size",
    });
  }
  if (hash !== undefined && md5 !== undefined) {
    const actual = hash.digest();
    if (!actual.equals(md5)) {
      throw new StowdError("CHECKSUM_MISMATCH", `the upload to ${reference} has MD5 ${actual.toString("base64")}, not the declared ${Buffer.from(md5).toString("base64")}; nothing was stored`, {
        reference,
        field: "header.content_md5",
      });
    }
  }
}
