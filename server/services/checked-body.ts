// A stream stage between the client's chunks and the store: counts bytes
// against the declared size and the upload limit, computes the CRC32C the
// store records, and verifies the MD5 and CRC32C the client declared. It
// throws *before the store sees the end of the stream*, so a store never
// commits a body that is too long, too short or corrupted.
import { createHash } from "node:crypto";
import { StowdError } from "../../common/errors.js";
import type { RequestEndProof } from "../calls/request-end.js";
import { formatCrc32c, runningCrc32c } from "../stores/kit/crc32c.js";
import type { BodyCrc32c } from "../stores/raw-store.js";

/** A CRC32C the client declared, and the field it came in (for the error). */
export interface DeclaredCrc32c {
  value: number;
  field: string;
}

export interface BodyChecks {
  reference: string;
  /** Exact number of bytes expected, when declared. */
  declaredSize?: number;
  /** Largest allowed body; 0 = unlimited. */
  maxBytes: number;
  /** Expected MD5 digest (16 bytes). */
  md5?: Uint8Array;
  /** Expected CRC32C declared before the body (a header's). */
  crc32c?: DeclaredCrc32c;
  /** Expected CRC32C declared after the body (a trailer's), read once the chunks ended; may throw for a bad trailer. */
  trailerCrc32c?: () => DeclaredCrc32c | undefined;
  /** The call's signal. */
  signal: AbortSignal;
  /** The transport's proof that the stream ended because the client finished it, not because it reset it. */
  end: RequestEndProof;
}

/** The checked body to hand to the store, and its CRC32C (WriteOptions.crc32c). */
export interface CheckedBody {
  body: AsyncIterable<Uint8Array>;
  crc32c: BodyCrc32c;
}

export function checkBody(chunks: AsyncIterable<Uint8Array>, checks: BodyChecks): CheckedBody {
  const crc = runningCrc32c(checks.crc32c?.value);
  return { body: checked(chunks, checks, crc), crc32c: crc };
}

async function* checked(
  chunks: AsyncIterable<Uint8Array>,
  checks: BodyChecks,
  crc: ReturnType<typeof runningCrc32c>,
): AsyncGenerator<Uint8Array> {
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
    crc.update(chunk);
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
  crc.end();
  // The trailer is read even when the header declared a CRC32C: declaring both is an error it reports.
  const fromTrailer = checks.trailerCrc32c?.();
  const expected = checks.crc32c ?? fromTrailer;
  if (expected !== undefined && expected.value !== crc.value()) {
    throw new StowdError(
      "CHECKSUM_MISMATCH",
      `the upload to ${reference} has CRC32C ${formatCrc32c(crc.value())}, not the declared ${formatCrc32c(expected.value)} (${expected.field}); nothing was stored`,
      {
        reference,
        field: expected.field,
      },
    );
  }
  // ...then, when neither a size nor a digest nor a declared CRC32C (a
  // trailer's, sent after the last chunk, or the header's) vouches for the
  // body, one sent along with the client's END_STREAM, before the store
  // commits.
  if (declaredSize === undefined && md5 === undefined && expected === undefined) await end.confirm({ roundTrip: true, reference, signal });
}
