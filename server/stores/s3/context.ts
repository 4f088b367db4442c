// What the S3 topic files share, built once per store by createS3Context:
// the client, the settings resolved from the options, the buckets seen to
// exist, and the per-store helpers every call goes through (where an object
// lives, which keys S3 accepts, one backend call with retries).
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortError } from "../kit/abort.js";
import { quoteEtag } from "../kit/etag.js";
import { referenceOf, requireKey } from "../kit/object-reference.js";
import { defaultRetryPolicy, withRetries, type RetryPolicy } from "../kit/retry.js";
import type { S3StoreOptions } from "./config.js";
import { S3_KIND, fromS3Error, isRetryableS3Error } from "./errors.js";
import { signPartStreams } from "./part-body.js";
import { propagateTraceContext } from "./trace-context.js";
import { daemonTracer } from "../../observability/tracing.js";
import { MiB } from "../../../common/units.js";

const GiB = 1 << 30;
/** S3's rules: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10000 of them, keys of at most 1024 bytes. */
export const S3_MIN_PART_BYTES = 5 * MiB;
export const S3_MAX_PART_BYTES = 5 * GiB;
export const S3_MAX_PARTS = 10_000;
const S3_MAX_KEY_BYTES = 1024;

export interface S3Context {
  client: S3Client;
  /** The endpoint URL, for the daemon's log (errors strip it from client messages). */
  endpoint: string;
  /** Quoted etags in If-Match for AWS; bare ones for S3-compatible servers (RGW 16 refuses quoted ones, MinIO takes both). */
  quoteConditions: boolean;
  policy: RetryPolicy;
  /** Bodies up to this size go up as one PutObject, larger ones in parts of this size. */
  partSize: number;
  /** Parts uploaded (or copied) at once per write. */
  concurrency: number;
  /** Objects larger than this are copied with UploadPartCopy. */
  copyThreshold: number;
  copyPartSize: number;
  /** Buckets seen to exist, so a missing object costs one HEAD, not two. */
  knownBuckets: Set<string>;
}

/** An object's place: bucket, key and the reference for messages. */
export interface Loc {
  bucket: string;
  key: string;
  reference: string;
}

export interface CallOptions {
  /** Safe to repeat (see RetryOptions.idempotent). */
  idempotent: boolean;
  /** Overrides which failures are retried. */
  isRetryable?: (err: unknown) => boolean;
}

/** Checks the options and builds the client; throws INVALID_ARGUMENT naming a bad option. */
export function createS3Context(options: S3StoreOptions): S3Context {
  const region = options.region ?? "us-east-1";
  const endpoint = options.endpoint ?? `https://s3.${region}.amazonaws.com`;
  const customEndpoint = options.endpoint !== undefined;
  const minPartSize = options.minPartSizeBytes ?? S3_MIN_PART_BYTES;
  const partSize = options.partSizeBytes ?? 8 * MiB;
  const concurrency = options.partConcurrency ?? 4;
  const copyThreshold = options.multipartCopyThresholdBytes ?? S3_MAX_PART_BYTES;
  const copyPartSize = options.copyPartSizeBytes ?? 512 * MiB;
  const invalidOption = (field: string, why: string) =>
    new StowdError("INVALID_ARGUMENT", `s3 store option ${field} ${why}`, { field, backend: S3_KIND });
  for (const [field, value] of [
    ["partSizeBytes", partSize],
    ["copyPartSizeBytes", copyPartSize],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < minPartSize || value > S3_MAX_PART_BYTES) {
      throw invalidOption(
        field,
        `must be an integer from ${minPartSize} (the server's minimum part size) to ${S3_MAX_PART_BYTES}, not ${value}`,
      );
    }
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw invalidOption("partConcurrency", `must be 1..64, not ${concurrency}`);
  if (!Number.isSafeInteger(copyThreshold) || copyThreshold < 1 || copyThreshold > S3_MAX_PART_BYTES) {
    throw invalidOption("multipartCopyThresholdBytes", `must be 1..${S3_MAX_PART_BYTES}, not ${copyThreshold}`);
  }
  return {
    client: createClient(options, region, customEndpoint),
    endpoint,
    quoteConditions: !customEndpoint,
    policy: { ...defaultRetryPolicy, ...options.retry },
    partSize,
    concurrency,
    copyThreshold,
    copyPartSize,
    knownBuckets: new Set<string>(),
  };
}

function createClient(options: S3StoreOptions, region: string, customEndpoint: boolean): S3Client {
  const config: S3ClientConfig = {
    region,
    forcePathStyle: options.forcePathStyle ?? customEndpoint,
    // withRetries retries; the SDK must not multiply attempts inside one.
    maxAttempts: 1,
    // Parts and PutObject bodies are signed with their SHA-256 (part-body.ts). The SDK's
    // default flexible checksums break streamed uploads on Ceph, corrupt them
    // on some other servers, and put an empty-body checksum into presigned PUTs.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Silent, as the SDK's default logger is, except that with it a failed
    // request with a stream body (every part) warns on the console; the
    // failure itself reaches withRetries and the call's error.
    logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  };
  const client = new S3Client(config);
  signPartStreams(client);
  if (daemonTracer() !== undefined) propagateTraceContext(client);
  if (customEndpoint) {
    // RGW 16 reads the copy-source condition only under its old name
    // x-amz-copy-if-match (and ignores it on UploadPartCopy): send both.
    client.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers;
        const condition = headers?.["x-amz-copy-source-if-match"];
        if (headers !== undefined && condition !== undefined) headers["x-amz-copy-if-match"] = condition;
        return next(args);
      },
      { step: "build", name: "stowdLegacyCopyIfMatch" },
    );
  }
  return client;
}

export function locate(ref: Ref): Loc {
  return { bucket: ref.container, key: ref.key, reference: referenceOf(ref) };
}

export function checkBucket(loc: Loc): void {
  if (loc.bucket === "") {
    throw new StowdError("INVALID_REFERENCE", `${loc.reference} names no bucket`, {
      reference: loc.reference,
      field: "reference",
      backend: S3_KIND,
    });
  }
}

/** Objects to be written must have a key S3 accepts. */
export function requireS3Key(ref: Ref, loc: Loc): void {
  checkBucket(loc);
  requireKey(ref, loc.reference);
  const bytes = Buffer.byteLength(loc.key, "utf8");
  if (bytes > S3_MAX_KEY_BYTES) {
    throw new StowdError("INVALID_REFERENCE", `the key of ${loc.reference} has ${bytes} bytes; S3 keys have at most ${S3_MAX_KEY_BYTES}`, {
      reference: loc.reference,
      field: "reference",
      size: bytes,
      limit: S3_MAX_KEY_BYTES,
    });
  }
}

/** Can `loc` name an existing object at all? (No call is made for one that cannot.) */
export function nameable(loc: Loc): boolean {
  checkBucket(loc);
  return loc.key !== "" && Buffer.byteLength(loc.key, "utf8") <= S3_MAX_KEY_BYTES;
}

/** An etag for If-Match, quoted or bare as this server wants it. */
export function ifMatchValue(ctx: S3Context, etag: string): string {
  return ctx.quoteConditions ? quoteEtag(etag) : etag;
}

/** One backend call with retries and timeouts; every failure leaves as a StowdError. */
export async function call<T>(
  ctx: S3Context,
  operation: string,
  loc: Loc,
  signal: AbortSignal,
  options: CallOptions,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  try {
    return await withRetries(attempt, {
      policy: ctx.policy,
      signal,
      idempotent: options.idempotent,
      isRetryable: options.isRetryable ?? isRetryableS3Error,
      backend: S3_KIND,
      operation: `${operation} ${loc.reference} at ${ctx.endpoint}`,
    });
  } catch (err) {
    if (signal.aborted) throw abortError(signal, loc.reference);
    throw fromS3Error(err, { reference: loc.reference, bucket: loc.bucket, endpoint: ctx.endpoint, operation });
  }
}

/** For cleanup that must run even when the caller's signal has fired (withRetries still bounds it). */
export function cleanupSignal(): AbortSignal {
  return new AbortController().signal;
}
