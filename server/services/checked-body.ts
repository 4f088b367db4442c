// A stream stage between the client's chunks and the store: counts bytes
// against the declared size and the upload limit, and verifies the MD5. It
// throws *before the store sees the end of the stream*, so a store never
// commits a body that is too long, too short or corrupted.
import { createHash } from "node:crypto";
import { StowdError } from "../../common/errors.js";
import type { RequestEndProof } from "../calls/request-end.js";

export interface BodyChecks {
  reference: string;
  /** Exact number of bytes expected, when declared. */
  declaredSize?: number;
  /** Largest allowed body; 0 = unlimited. */
  maxBytes: number;
  /** Expected MD5 digest (16 bytes). */
  md5?: Uint8Array;
  /** The call's signal. */
  signal: AbortSignal;
  /** The transport's proof that the stream ended because the client finished it, not because it reset it. */
  end: RequestEndProof;
}

export async function* checkedBody(chunks: AsyncIterable<Uint8Array>, checks: BodyChecks): AsyncGenerator<Uint8Array> {
  const { reference, declaredSize, maxBytes, md5, signal, end } = checks;
  const hash = md5 === undefined ? undefined : createHash("md5");
  let received = 0;
  for await (const chunk of chunks) {
    received += chunk.length;
    if (declaredSize !== undefined && received > declaredSize) {
      throw new StowdError(
        "SIZE_MISMATCH",
        `the upload to ${reference} sent more than its declared size of ${declaredSize} bytes; nothing was stored`,
        {
          reference,
          size: received,
          limit: declaredSize,
          field: "header.size",
        },
      );
    }
    if (maxBytes > 0 && received > maxBytes) {
      throw new StowdError(
        "LIMIT_EXCEEDED",
        `the upload to ${reference} exceeds the upload limit of ${maxBytes} bytes (server.maxUploadMBs = ${maxBytes / 2 ** 20}); nothing was stored`,
        {
          reference,
          size: received,
          limit: maxBytes,
        },
      );
    }
    hash?.update(chunk);
    yield chunk;
  }
  // The end of the chunks alone does not prove the client finished
  // (server/calls/request-end.ts). First a reset that already arrived...
  await end.confirm({ roundTrip: false, reference, signal });
  signal.throwIfAborted();
  if (declaredSize !== undefined && received !== declaredSize) {
    throw new StowdError(
      "SIZE_MISMATCH",
      `the upload to ${reference} ended after ${received} bytes but declared ${declaredSize}; nothing was stored`,
      {
        reference,
        size: received,
        limit: declaredSize,
        field: "header.size",
      },
    );
  }
  if (hash !== undefined && md5 !== undefined) {
    const actual = hash.digest();
    if (!actual.equals(md5)) {
      throw new StowdError(
        "CHECKSUM_MISMATCH",
        `the upload to ${reference} has MD5 ${actual.toString("base64")}, not the declared ${Buffer.from(md5).toString("base64")}; nothing was stored`,
        {
          reference,
          field: "header.content_md5",
        },
      );
    }
  }
  // ...then, when neither a size nor a digest vouches for the body, one sent
  // along with the client's END_STREAM, before the store commits.
  if (declaredSize === undefined && md5 === undefined) await end.confirm({ roundTrip: true, reference, signal });
}
