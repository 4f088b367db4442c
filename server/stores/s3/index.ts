// The S3 store (`s3://bucket/key`), for AWS S3 and S3-compatible servers
// (verified against Ceph RGW 16). Small bodies go up as one PutObject, larger
// or unknown-size bodies as a multipart upload whose parts stream in bounded
// parallel and which is aborted on any failure or cancel. Every idempotent
// call runs under withRetries: a per-attempt timeout inside a total deadline.
//
// Preconditions: PutObject carries If-None-Match / If-Match, which S3 and RGW
// check atomically. CompleteMultipartUpload and CopyObject carry them too
// (atomic on AWS S3), but RGW 16 ignores them there, so those paths also
// check with a HEAD just before committing: on such servers a writer that
// commits between that HEAD and the commit can still be overwritten.
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompleteMultipartUploadCommandOutput,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandOutput,
  type PutObjectCommandOutput,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { StowdError, isStowdError, unsupported } from "../../common/errors.js";
import { log } from "../observability/log.js";
import { formatReference, type Ref } from "../references/reference.js";
import { abortError, abortable, throwIfAborted } from "./kit/abort.js";
import { resolveRange } from "./kit/byte-range.js";
import { contentTypeOrDefault } from "./kit/content-type.js";
import { compareKeys, decodePageToken, pageKeys } from "./kit/list-pages.js";
import { checkEtag, checkPreconditions } from "./kit/preconditions.js";
import type { Capabilities, ObjectMeta, Preconditions, RangeRequest, RawStore, ReadResult, WriteOptions } from "./raw-store.js";
import { containerKeyIdentity } from "./kit/object-identity.js";
import { defaultRetryPolicy, withRetries, type RetryPolicy } from "./kit/retry.js";
import { withoutWhereabouts } from "./kit/backend-error-text.js";
import { S3_KIND, fromS3Error, isRetryableS3Error, noSuchBucket, s3Code, s3Status } from "./s3-errors.js";
import { createPartReader, mapLimit, uploadParts, type BodyPart, type PartReader, type UploadedPart } from "./s3-multipart.js";

const KIND = S3_KIND;
const MiB = 1 << 20;
const GiB = 1 << 30;
/** S3's rules: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10000 of them, keys of at most 1024 bytes. */
export const S3_MIN_PART_BYTES = 5 * MiB;
const S3_MAX_PART_BYTES = 5 * GiB;
const S3_MAX_PARTS = 10_000;
const S3_MAX_KEY_BYTES = 1024;
/** SigV4 presigned URLs live at most 7 days. */
const MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600;
/**
 * The user-metadata key Flyte's stow stores and reads a content MD5 under
 * (`x-amz-meta-flyteContentMD5`, which S3 lower-cases), base64.
 */
export const FLYTE_CONTENT_MD5_KEY = "flytecontentmd5";
const HEAD_CONCURRENCY = 16;
const DELETE_BATCH = 1000;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StoreOptions {
  /** An S3-compatible server, e.g. `http://127.0.0.1:7480`; omit for AWS S3. */
  endpoint?: string;
  /** Default us-east-1. */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`); default: true with an endpoint. */
  forcePathStyle?: boolean;
  /** Static keys; omit to use the SDK's ambient chain (env, profile, web identity, instance role). */
  credentials?: S3Credentials;
  /** Retries and timeouts of backend calls; unset fields take defaultRetryPolicy's. */
  retry?: Partial<RetryPolicy>;
  /** Bodies up to this size go up as one PutObject, larger ones in parts of this size; default 8 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded at once per write; default 4. Memory: (concurrency + 1) × part size. */
  partConcurrency?: number;
  /**
   * The server's minimum part size, checked against partSizeBytes; default 5
   * MiB (S3's rule). Lower only for a server configured so (tests).
   */
  minPartSizeBytes?: number;
  /** Objects larger than this are copied with UploadPartCopy; default 5 GiB (CopyObject's limit). */
  multipartCopyThresholdBytes?: number;
  /** Part size of multipart copies; default 512 MiB. */
  copyPartSizeBytes?: number;
}

const capabilities: Capabilities = {
  rangedReads: true,
  // S3 has no append, and copy-on-write through a multipart upload would not
  // be atomic on servers that ignore conditional CompleteMultipartUpload.
  append: false,
  conditionalWrites: true,
  signedUrls: true,
  delimiterListing: true,
  serverSideCopy: true,
};

/** An object's place: bucket, key and the reference for messages. */
interface Loc {
  bucket: string;
  key: string;
  reference: string;
}

interface CallOptions {
  /** Safe to repeat (see RetryOptions.idempotent). */
  idempotent: boolean;
  /** Overrides which failures are retried. */
  isRetryable?: (err: unknown) => boolean;
}

function stripEtag(etag: string | undefined): string {
  return (etag ?? "").replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

function hasPreconditions(pre: Preconditions): boolean {
  return pre.ifNotExists === true || pre.ifExists === true || pre.ifMatchEtag !== undefined;
}

/**
 * The conditional-request headers for `pre` (If-Match: * = must exist).
 * `quote` puts etags in quotes, as RFC 9110 and AWS S3 want; RGW 16 compares
 * If-Match on PUT against the bare etag and refuses a quoted one.
 */
function conditionalHeaders(pre: Preconditions, quote: boolean): { IfNoneMatch?: string; IfMatch?: string } {
  return {
    ...(pre.ifNotExists ? { IfNoneMatch: "*" } : {}),
    ...(pre.ifMatchEtag !== undefined ? { IfMatch: quote ? quoteEtag(pre.ifMatchEtag) : pre.ifMatchEtag } : pre.ifExists ? { IfMatch: "*" } : {}),
  };
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

function md5(data: Uint8Array): Buffer {
  return createHash("md5").update(data).digest();
}

/** A 16-byte MD5 from base64, or undefined when `value` is not one. */
function md5FromBase64(value: string | undefined): Uint8Array | undefined {
  if (value === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(value)) return undefined;
  return Uint8Array.from(Buffer.from(value, "base64"));
}

/** `x-amz-copy-source`: bucket and key, URL-encoded. */
function copySource(loc: Loc): string {
  return `${loc.bucket}/${loc.key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Keys and prefixes of a listing made with EncodingType=url (AWS encodes spaces as `+`, RGW as %20 and `+` as %2B). */
function decodeListedKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, " "));
  } catch {
    return undefined; // not UTF-8: no reference can name it
  }
}

/** The Range header for a request; undefined = the whole object. */
function rangeHeader(range: RangeRequest | undefined): string | undefined {
  if (range === undefined) return undefined;
  if (range.suffixLength > 0) return `bytes=-${range.suffixLength}`;
  if (range.offset === 0 && range.length === 0) return undefined;
  return `bytes=${range.offset}-${range.length > 0 ? range.offset + range.length - 1 : ""}`;
}

function parseContentRange(value: string | undefined): { start: number; end: number; size: number } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value ?? "");
  if (match === null) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) };
}

/**
 * Metadata travels as x-amz-meta-* headers: names are lower-cased by S3,
 * values must be printable ASCII. The service allows names of [a-z0-9_-];
 * the store checks the same, since it stores `_` as `.` (see below).
 */
function checkMetadata(metadata: Record<string, string>, reference: string): void {
  for (const [key, value] of Object.entries(metadata)) {
    const bad = (why: string) =>
      new StowdError("INVALID_ARGUMENT", `metadata key ${JSON.stringify(key)} of ${reference} ${why}`, { reference, field: "header.metadata", backend: KIND });
    if (!/^[a-z0-9_-]+$/.test(key)) throw bad("cannot be stored in S3: use lower-case ASCII letters, digits, - and _ (S3 lower-cases metadata names)");
    if (/[^\x20-\x7e]/.test(value)) throw bad("has a value S3 cannot store: only printable ASCII travels in S3 metadata headers");
  }
}

/**
 * RGW turns `_` in metadata names into `-` (it passes headers through
 * CGI-style variable names), so `stowd_type_url` would come back as
 * `stowd-type-url`. Names are stored with `.` for `_` on every S3 server;
 * checked names never contain `.`, so reading maps it back unambiguously.
 */
function toS3Metadata(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key.replace(/_/g, "."), value]));
}

function fromS3Metadata(metadata: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [key.replace(/\./g, "_"), value]));
}

export function createS3Store(options: S3StoreOptions = {}): RawStore {
  const region = options.region ?? "us-east-1";
  const endpoint = options.endpoint ?? `https://s3.${region}.amazonaws.com`;
  const customEndpoint = options.endpoint !== undefined;
  /** Quoted etags in If-Match for AWS; bare ones for S3-compatible servers (RGW 16 refuses quoted ones, MinIO takes both). */
  const quoteConditions = !customEndpoint;
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const minPartSize = options.minPartSizeBytes ?? S3_MIN_PART_BYTES;
  const partSize = options.partSizeBytes ?? 8 * MiB;
  const concurrency = options.partConcurrency ?? 4;
  const copyThreshold = options.multipartCopyThresholdBytes ?? S3_MAX_PART_BYTES;
  const copyPartSize = options.copyPartSizeBytes ?? 512 * MiB;
  const invalidOption = (field: string, why: string) => new StowdError("INVALID_ARGUMENT", `s3 store option ${field} ${why}`, { field, backend: KIND });
  for (const [field, value] of [
    ["partSizeBytes", partSize],
    ["copyPartSizeBytes", copyPartSize],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < minPartSize || value > S3_MAX_PART_BYTES) {
      throw invalidOption(field, `must be an integer from ${minPartSize} (the server's minimum part size) to ${S3_MAX_PART_BYTES}, not ${value}`);
    }
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) throw invalidOption("partConcurrency", `must be 1..64, not ${concurrency}`);
  if (!Number.isSafeInteger(copyThreshold) || copyThreshold < 1 || copyThreshold > S3_MAX_PART_BYTES) {
    throw invalidOption("multipartCopyThresholdBytes", `must be 1..${S3_MAX_PART_BYTES}, not ${copyThreshold}`);
  }

  const config: S3ClientConfig = {
    region,
    forcePathStyle: options.forcePathStyle ?? customEndpoint,
    // withRetries retries; the SDK must not multiply attempts inside one.
    maxAttempts: 1,
    // We send Content-MD5 on every PutObject and UploadPart. The SDK's
    // default flexible checksums break streamed uploads on Ceph, corrupt them
    // on some other servers, and put an empty-body checksum into presigned PUTs.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  };
  const client = new S3Client(config);
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
  /** Buckets seen to exist, so a missing object costs one HEAD, not two. */
  const knownBuckets = new Set<string>();

  function locate(ref: Ref): Loc {
    return { bucket: ref.container, key: ref.key, reference: formatReference(ref, ref.key) };
  }

  function checkBucket(loc: Loc): void {
    if (loc.bucket === "") {
      throw new StowdError("INVALID_REFERENCE", `${loc.reference} names no bucket`, { reference: loc.reference, field: "reference", backend: KIND });
    }
  }

  /** Objects to be written must have a key S3 accepts. */
  function requireKey(loc: Loc): void {
    checkBucket(loc);
    if (loc.key === "") {
      throw new StowdError("INVALID_REFERENCE", `${loc.reference} names no object: the key is empty`, { reference: loc.reference, field: "reference" });
    }
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
  function nameable(loc: Loc): boolean {
    checkBucket(loc);
    return loc.key !== "" && Buffer.byteLength(loc.key, "utf8") <= S3_MAX_KEY_BYTES;
  }

  /** One backend call with retries and timeouts; every failure leaves as a StowdError. */
  async function call<T>(operation: string, loc: Loc, signal: AbortSignal, callOptions: CallOptions, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withRetries(attempt, {
        policy,
        signal,
        idempotent: callOptions.idempotent,
        isRetryable: callOptions.isRetryable ?? isRetryableS3Error,
        backend: KIND,
        operation: `${operation} ${loc.reference} at ${endpoint}`,
      });
    } catch (err) {
      if (signal.aborted) throw abortError(signal, loc.reference);
      throw fromS3Error(err, { reference: loc.reference, bucket: loc.bucket, endpoint, operation });
    }
  }

  /** For cleanup that must run even when the caller's signal has fired (withRetries still bounds it). */
  function cleanupSignal(): AbortSignal {
    return new AbortController().signal;
  }

  function isPreconditionFailure(err: unknown): boolean {
    return isStowdError(err, "PRECONDITION_FAILED") && s3Status(err.facts.cause) === 412;
  }

  /** Object info from HEAD / GET answers. */
  function metaOf(
    key: string,
    size: number,
    out: Pick<HeadObjectCommandOutput, "ETag" | "ContentType" | "Metadata" | "LastModified" | "VersionId" | "ServerSideEncryption" | "SSECustomerAlgorithm">,
  ): ObjectMeta {
    const etag = stripEtag(out.ETag);
    const metadata = fromS3Metadata(out.Metadata);
    let contentMd5 = md5FromBase64(metadata[FLYTE_CONTENT_MD5_KEY]);
    if (contentMd5 !== undefined) delete metadata[FLYTE_CONTENT_MD5_KEY];
    // A single-part upload's ETag is the content MD5, unless KMS or customer keys encrypt it.
    const encrypted = out.SSECustomerAlgorithm !== undefined || (out.ServerSideEncryption ?? "").startsWith("aws:kms");
    if (contentMd5 === undefined && !encrypted && /^[0-9a-f]{32}$/.test(etag)) contentMd5 = Uint8Array.from(Buffer.from(etag, "hex"));
    return {
      key,
      size,
      etag,
      ...(contentMd5 === undefined ? {} : { contentMd5 }),
      contentType: out.ContentType ?? contentTypeOrDefault(""),
      metadata,
      updated: out.LastModified ?? new Date(),
      generation: out.VersionId === undefined || out.VersionId === "null" ? "" : out.VersionId,
    };
  }

  /** Throws the missing-bucket error if `bucket` does not exist (checked once per bucket). */
  async function ensureBucket(loc: Loc, signal: AbortSignal): Promise<void> {
    if (knownBuckets.has(loc.bucket)) return;
    const exists = await call("HEAD BUCKET", loc, signal, { idempotent: true }, async (s) => {
      try {
        await client.send(new HeadBucketCommand({ Bucket: loc.bucket }), { abortSignal: s });
        return true;
      } catch (err) {
        if (s3Status(err) === 404) return false;
        // Credentials limited to objects may not look at the bucket: assume it exists.
        if (s3Status(err) === 403) return undefined;
        throw err;
      }
    });
    if (exists === false) throw noSuchBucket({ reference: loc.reference, bucket: loc.bucket, endpoint, operation: "HEAD BUCKET" });
    if (exists === true) knownBuckets.add(loc.bucket);
  }

  async function headMeta(loc: Loc, signal: AbortSignal): Promise<ObjectMeta | undefined> {
    if (!nameable(loc)) return undefined;
    const out = await call("HEAD", loc, signal, { idempotent: true }, async (s) => {
      try {
        return await client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { abortSignal: s });
      } catch (err) {
        if (s3Status(err) === 404) return undefined;
        throw err;
      }
    });
    if (out === undefined) {
      await ensureBucket(loc, signal);
      return undefined;
    }
    knownBuckets.add(loc.bucket);
    return metaOf(loc.key, out.ContentLength ?? 0, out);
  }

  /**
   * The error for a 412 on a write to `loc`: what checkPreconditions says
   * about the object now, or, if it changed back since, what the server said.
   */
  async function preconditionError(loc: Loc, pre: Preconditions, signal: AbortSignal, cause: unknown): Promise<StowdError> {
    const current = await headMeta(loc, signal).catch(() => undefined);
    try {
      checkPreconditions(current, pre, loc.reference);
    } catch (err) {
      if (isStowdError(err)) return err;
    }
    const facts = { reference: loc.reference, backend: KIND, cause };
    return pre.ifNotExists
      ? new StowdError("ALREADY_EXISTS", `${loc.reference} already exists and if_not_exists forbids replacing it; nothing was written`, facts)
      : new StowdError("PRECONDITION_FAILED", `${loc.reference} did not meet the write's preconditions when it was committed; nothing was written`, facts);
  }

  /** `configured`, or whole MiB large enough for `size` bytes to fit in 10000 parts. */
  function partSizeFor(size: number | undefined, configured = partSize): number {
    const needed = size === undefined ? 0 : Math.ceil(size / S3_MAX_PARTS);
    return needed <= configured ? configured : Math.min(S3_MAX_PART_BYTES, Math.ceil(needed / MiB) * MiB);
  }

  async function putSingle(loc: Loc, data: Buffer, options: WriteOptions, signal: AbortSignal): Promise<ObjectMeta> {
    const digest = md5(data);
    if (options.contentMd5 !== undefined && !digest.equals(Buffer.from(options.contentMd5))) {
      throw new StowdError("CHECKSUM_MISMATCH", `the body of ${loc.reference} does not have the declared MD5; nothing was written`, { reference: loc.reference });
    }
    const pre = options.preconditions;
    const contentType = contentTypeOrDefault(options.contentType);
    let out: PutObjectCommandOutput;
    try {
      out = await call("PUT", loc, signal, { idempotent: !hasPreconditions(pre) }, (s) =>
        client.send(
          new PutObjectCommand({
            Bucket: loc.bucket,
            Key: loc.key,
            Body: data,
            ContentLength: data.length,
            ContentMD5: base64(digest),
            ContentType: contentType,
            Metadata: { ...toS3Metadata(options.metadata), [FLYTE_CONTENT_MD5_KEY]: base64(digest) },
            ...conditionalHeaders(pre, quoteConditions),
          }),
          { abortSignal: s },
        ),
      );
    } catch (err) {
      if (isPreconditionFailure(err)) throw await preconditionError(loc, pre, signal, err);
      throw err;
    }
    return {
      key: loc.key,
      size: data.length,
      etag: stripEtag(out.ETag),
      contentMd5: Uint8Array.from(digest),
      contentType,
      metadata: { ...options.metadata },
      updated: new Date(),
      generation: out.VersionId ?? "",
    };
  }

  async function createUpload(loc: Loc, contentType: string, metadata: Record<string, string>, signal: AbortSignal): Promise<string> {
    // Not repeated after an answer that might have created an upload we would then never abort.
    const out = await call("CREATE MULTIPART UPLOAD", loc, signal, { idempotent: true, isRetryable: (err) => s3Code(err) === "ECONNREFUSED" || s3Status(err) === 503 }, (s) =>
      client.send(new CreateMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, ContentType: contentType, Metadata: metadata }), { abortSignal: s }),
    );
    if (out.UploadId === undefined) throw new StowdError("INTERNAL", `S3 answered CreateMultipartUpload for ${loc.reference} without an upload id`, { reference: loc.reference, backend: KIND });
    return out.UploadId;
  }

  async function abortUpload(loc: Loc, uploadId: string): Promise<void> {
    try {
      await call("ABORT MULTIPART UPLOAD", loc, cleanupSignal(), { idempotent: true }, (s) =>
        client.send(new AbortMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId }), { abortSignal: s }),
      );
    } catch (err) {
      if (s3Code((err as StowdError).facts?.cause) === "NoSuchUpload") return;
      log("warn", "could not abort an S3 multipart upload; its parts stay until a lifecycle rule removes them", {
        reference: loc.reference,
        uploadId,
        endpoint,
        error: String(err),
      });
    }
  }

  /**
   * Commits uploaded parts under `pre`: checked by HEAD first (servers like
   * RGW 16 ignore conditional CompleteMultipartUpload), then sent with the
   * conditional headers (atomic where honoured). Returns the new object's info.
   */
  async function completeUpload(loc: Loc, uploadId: string, parts: UploadedPart[], pre: Preconditions, signal: AbortSignal, known: Omit<ObjectMeta, "etag" | "updated" | "generation">): Promise<ObjectMeta> {
    if (hasPreconditions(pre)) checkPreconditions(await headMeta(loc, signal), pre, loc.reference);
    throwIfAborted(signal, loc.reference);
    let out: CompleteMultipartUploadCommandOutput;
    try {
      out = await call("COMPLETE MULTIPART UPLOAD", loc, signal, { idempotent: !hasPreconditions(pre) }, (s) =>
        client.send(new CompleteMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId, MultipartUpload: { Parts: parts }, ...conditionalHeaders(pre, quoteConditions) }), {
          abortSignal: s,
        }),
      );
    } catch (err) {
      if (isPreconditionFailure(err)) throw await preconditionError(loc, pre, signal, err);
      throw err;
    }
    // RGW answers some completions with an empty ETag: read the committed object's info.
    const etag = stripEtag(out.ETag);
    const head = await headMeta(loc, cleanupSignal()).catch(() => undefined);
    if (head !== undefined && (etag === "" || head.etag === etag)) {
      return { ...head, ...(known.contentMd5 === undefined ? {} : { contentMd5: known.contentMd5 }) };
    }
    return { ...known, etag, updated: new Date(), generation: out.VersionId ?? "" };
  }

  async function putMultipart(loc: Loc, first: BodyPart, reader: PartReader, partBytes: number, options: WriteOptions, signal: AbortSignal): Promise<ObjectMeta> {
    const contentType = contentTypeOrDefault(options.contentType);
    const metadata = { ...toS3Metadata(options.metadata), ...(options.contentMd5 === undefined ? {} : { [FLYTE_CONTENT_MD5_KEY]: base64(options.contentMd5) }) };
    const uploadId = await createUpload(loc, contentType, metadata, signal);
    let pending: BodyPart | undefined = first;
    let done = false;
    let total = 0;
    try {
      const parts = await uploadParts<Buffer>({
        next: async () => {
          if (done) return undefined;
          const part = pending ?? (await reader.next());
          pending = undefined;
          done = part.last;
          total += part.data.length;
          return part.data;
        },
        upload: async (data, partNumber, partSignal) => {
          const out = await call(`UPLOAD PART ${partNumber}`, loc, partSignal, { idempotent: true }, (s) =>
            client.send(
              new UploadPartCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId, PartNumber: partNumber, Body: data, ContentLength: data.length, ContentMD5: base64(md5(data)) }),
              { abortSignal: s },
            ),
          );
          return { PartNumber: partNumber, ETag: out.ETag ?? "" };
        },
        concurrency,
        maxParts: S3_MAX_PARTS,
        tooManyParts: () =>
          new StowdError("LIMIT_EXCEEDED", `${loc.reference}: a body of unknown size needs more than ${S3_MAX_PARTS} parts of ${partBytes} bytes; declare its size, or raise the part size`, {
            reference: loc.reference,
            limit: S3_MAX_PARTS * partBytes,
            backend: KIND,
          }),
        signal,
      });
      throwIfAborted(signal, loc.reference);
      return await completeUpload(loc, uploadId, parts, options.preconditions, signal, {
        key: loc.key,
        size: total,
        ...(options.contentMd5 === undefined ? {} : { contentMd5: Uint8Array.from(options.contentMd5) }),
        contentType,
        metadata: { ...options.metadata },
      });
    } catch (err) {
      reader.close();
      await abortUpload(loc, uploadId);
      if (signal.aborted && !isStowdError(err)) throw abortError(signal, loc.reference);
      throw err;
    }
  }

  /** Opens a GET; the response body stays attached to `controller`, not to the attempt's timeout. */
  async function openGet(loc: Loc, range: string | undefined, ifMatchEtag: string | undefined, signal: AbortSignal) {
    return call("GET", loc, signal, { idempotent: true }, async (attemptSignal) => {
      const controller = new AbortController();
      const relay = () => controller.abort(attemptSignal.reason);
      attemptSignal.addEventListener("abort", relay, { once: true });
      try {
        const out: GetObjectCommandOutput = await client.send(
          new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, ...(range === undefined ? {} : { Range: range }), ...(ifMatchEtag === undefined ? {} : { IfMatch: quoteConditions ? quoteEtag(ifMatchEtag) : ifMatchEtag }) }),
          { abortSignal: controller.signal },
        );
        return { out, controller };
      } catch (err) {
        if (s3Status(err) === 416) return "unsatisfiable" as const;
        throw err;
      } finally {
        attemptSignal.removeEventListener("abort", relay);
      }
    });
  }

  function emptyRead(meta: ObjectMeta, offset: number): ReadResult {
    return { meta, offset, length: 0, body: (async function* () {})(), close: async () => {} };
  }

  async function readObject(loc: Loc, range: RangeRequest | undefined, ifMatchEtag: string | undefined, signal: AbortSignal): Promise<ReadResult> {
    const header = rangeHeader(range);
    for (let attempt = 1; ; attempt++) {
      let opened;
      try {
        opened = await openGet(loc, header, ifMatchEtag, signal);
      } catch (err) {
        if (isPreconditionFailure(err)) {
          const current = await headMeta(loc, signal);
          if (current === undefined) throw new StowdError("NOT_FOUND", `${loc.reference} does not exist`, { reference: loc.reference, backend: KIND });
          checkEtag(current, ifMatchEtag, loc.reference, "nothing was read");
          if (attempt < 3) continue; // changed back meanwhile
        }
        throw err;
      }
      if (opened === "unsatisfiable") {
        // S3 refuses any range of an empty object and any offset past the
        // end; resolveRange decides what is really out of range.
        const current = await headMeta(loc, signal);
        if (current === undefined) throw new StowdError("NOT_FOUND", `${loc.reference} does not exist`, { reference: loc.reference, backend: KIND });
        checkEtag(current, ifMatchEtag, loc.reference, "nothing was read");
        const resolved = resolveRange(range, current.size, loc.reference);
        if (resolved.length === 0) return emptyRead(current, resolved.offset);
        if (attempt < 3) continue; // the object grew meanwhile
        throw new StowdError("OUT_OF_RANGE", `the range is outside ${loc.reference}`, { reference: loc.reference, size: current.size, field: "range" });
      }
      const { out, controller } = opened;
      const stream = out.Body as Readable | undefined;
      // RGW 16 matches If-Match on GET by prefix: check the served version exactly.
      if (ifMatchEtag !== undefined && stripEtag(out.ETag) !== ifMatchEtag) {
        stream?.destroy();
        controller.abort();
        throw new StowdError("PRECONDITION_FAILED", `${loc.reference} has etag "${stripEtag(out.ETag)}", not the expected "${ifMatchEtag}"; nothing was read`, {
          reference: loc.reference,
          backend: KIND,
        });
      }
      const contentRange = parseContentRange(out.ContentRange);
      const size = contentRange?.size ?? out.ContentLength ?? 0;
      const meta = metaOf(loc.key, size, out);
      let offset: number;
      let length: number;
      let skip = 0;
      if (contentRange !== undefined) {
        offset = contentRange.start;
        length = contentRange.end - contentRange.start + 1;
      } else {
        // A whole-object answer (no range asked, or a server that ignored it): cut it here.
        ({ offset, length } = resolveRange(range, size, loc.reference));
        skip = offset;
      }
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        stream?.destroy();
        controller.abort();
      };
      async function* body(): AsyncGenerator<Uint8Array> {
        let received = 0;
        let toSkip = skip;
        try {
          if (stream === undefined) return;
          for await (const raw of abortable(stream as AsyncIterable<Uint8Array>, signal, loc.reference)) {
            let chunk = raw;
            if (toSkip > 0) {
              const n = Math.min(toSkip, chunk.length);
              toSkip -= n;
              chunk = chunk.subarray(n);
            }
            if (received + chunk.length > length) chunk = chunk.subarray(0, length - received);
            if (chunk.length === 0) continue;
            received += chunk.length;
            yield chunk;
            if (received === length) break;
          }
        } catch (err) {
          if (isStowdError(err)) throw err;
          throw new StowdError("BACKEND_UNAVAILABLE", `reading ${loc.reference} from S3 broke off after ${received} of ${length} bytes: ${withoutWhereabouts(String(err), { backend: KIND, endpoint })}`, {
            reference: loc.reference,
            backend: KIND,
            cause: err,
          });
        } finally {
          await close();
        }
        if (received !== length) {
          throw new StowdError("BACKEND_UNAVAILABLE", `reading ${loc.reference} from S3 ended after ${received} of ${length} bytes`, { reference: loc.reference, backend: KIND });
        }
      }
      return { meta, offset, length, body: body(), close };
    }
  }

  /** The keys (and common prefixes) under `prefix` in byte order, from `startAfter` on, page by page. */
  async function* listedKeys(loc: Loc, delimiter: string, startAfter: string | undefined, pageSize: number, signal: AbortSignal): AsyncGenerator<string> {
    let continuation: string | undefined;
    for (;;) {
      const out: ListObjectsV2CommandOutput = await call("LIST", loc, signal, { idempotent: true }, (s) =>
        client.send(
          new ListObjectsV2Command({
            Bucket: loc.bucket,
            EncodingType: "url",
            MaxKeys: pageSize,
            ...(loc.key === "" ? {} : { Prefix: loc.key }),
            ...(delimiter === "" ? {} : { Delimiter: delimiter }),
            ...(continuation === undefined ? (startAfter === undefined ? {} : { StartAfter: startAfter }) : { ContinuationToken: continuation }),
          }),
          { abortSignal: s },
        ),
      );
      knownBuckets.add(loc.bucket);
      const entries = [
        ...(out.Contents ?? []).map((o) => (o.Key === undefined ? undefined : decodeListedKey(o.Key))),
        ...(out.CommonPrefixes ?? []).map((p) => (p.Prefix === undefined ? undefined : decodeListedKey(p.Prefix))),
      ].filter((key): key is string => key !== undefined);
      // Each list is sorted; pageKeys wants them merged in byte order.
      entries.sort(compareKeys);
      yield* entries;
      if (out.IsTruncated !== true || out.NextContinuationToken === undefined) return;
      continuation = out.NextContinuationToken;
    }
  }

  async function copyObject(from: Loc, to: Loc, options: { preconditions: Preconditions; ifSourceMatchEtag?: string }, signal: AbortSignal): Promise<ObjectMeta> {
    const pre = options.preconditions;
    for (let attempt = 1; ; attempt++) {
      const source = await headMeta(from, signal);
      if (source === undefined) throw new StowdError("NOT_FOUND", `${from.reference} does not exist; nothing was copied`, { reference: from.reference, backend: KIND });
      checkEtag(source, options.ifSourceMatchEtag, from.reference, "nothing was copied");
      // Best effort where the server ignores conditional copies (RGW 16); atomic on AWS S3.
      if (hasPreconditions(pre)) checkPreconditions(await headMeta(to, signal), pre, to.reference);
      throwIfAborted(signal, to.reference);
      const rawMetadata = { ...toS3Metadata(source.metadata), ...(source.contentMd5 === undefined ? {} : { [FLYTE_CONTENT_MD5_KEY]: base64(source.contentMd5) }) };
      try {
        if (source.size > copyThreshold) return await copyInParts(from, to, source, rawMetadata, pre, signal);
        const sameObject = from.bucket === to.bucket && from.key === to.key;
        const out = await call("COPY", to, signal, { idempotent: !hasPreconditions(pre) }, (s) =>
          client.send(
            new CopyObjectCommand({
                Bucket: to.bucket,
                Key: to.key,
                CopySource: copySource(from),
                // The version we just looked at, so the info we return is the copy's.
                CopySourceIfMatch: quoteEtag(source.etag),
                // S3 refuses to copy an object onto itself unless the metadata is replaced (with itself).
                ...(sameObject ? { MetadataDirective: "REPLACE", ContentType: source.contentType, Metadata: rawMetadata } : { MetadataDirective: "COPY" }),
                ...conditionalHeaders(pre, quoteConditions),
              }),
            { abortSignal: s },
          ),
        );
        return {
          ...source,
          key: to.key,
          etag: stripEtag(out.CopyObjectResult?.ETag) || source.etag,
          updated: out.CopyObjectResult?.LastModified ?? new Date(),
          generation: out.VersionId ?? "",
        };
      } catch (err) {
        if (!isPreconditionFailure(err)) throw err;
        // Which condition failed: the source's (it changed since the HEAD) or the destination's?
        const now = await headMeta(from, signal);
        if (now?.etag === source.etag) throw await preconditionError(to, pre, signal, err);
        if (attempt >= 3) throw new StowdError("BACKEND_UNAVAILABLE", `${from.reference} kept changing while it was copied; nothing was copied`, { reference: from.reference, backend: KIND, cause: err });
      }
    }
  }

  /** Copies above CopyObject's 5 GiB limit, part by part on the server. */
  async function copyInParts(from: Loc, to: Loc, source: ObjectMeta, rawMetadata: Record<string, string>, pre: Preconditions, signal: AbortSignal): Promise<ObjectMeta> {
    const size = partSizeFor(source.size, copyPartSize);
    const uploadId = await createUpload(to, source.contentType, rawMetadata, signal);
    try {
      let start = 0;
      const parts = await uploadParts<{ start: number; end: number }>({
        next: async () => {
          if (start >= source.size) return undefined;
          const range = { start, end: Math.min(source.size, start + size) - 1 };
          start = range.end + 1;
          return range;
        },
        upload: async (range, partNumber, partSignal) => {
          const out = await call(`COPY PART ${partNumber}`, to, partSignal, { idempotent: true }, (s) =>
            client.send(
              new UploadPartCopyCommand({
                  Bucket: to.bucket,
                  Key: to.key,
                  UploadId: uploadId,
                  PartNumber: partNumber,
                  CopySource: copySource(from),
                  CopySourceRange: `bytes=${range.start}-${range.end}`,
                  CopySourceIfMatch: quoteEtag(source.etag),
                }),
              { abortSignal: s },
            ),
          );
          return { PartNumber: partNumber, ETag: out.CopyPartResult?.ETag ?? "" };
        },
        concurrency,
        maxParts: S3_MAX_PARTS,
        tooManyParts: () => new StowdError("INTERNAL", `copying ${from.reference} needs more than ${S3_MAX_PARTS} parts`, { reference: to.reference }),
        signal,
      });
      // RGW 16 ignores the source condition on part copies: make sure every part came from one version.
      const after = await headMeta(from, signal);
      if (after?.etag !== source.etag) {
        throw new StowdError("PRECONDITION_FAILED", `${from.reference} changed while it was copied; nothing was copied`, { reference: from.reference, backend: KIND });
      }
      return await completeUpload(to, uploadId, parts, pre, signal, {
        key: to.key,
        size: source.size,
        ...(source.contentMd5 === undefined ? {} : { contentMd5: source.contentMd5 }),
        contentType: source.contentType,
        metadata: source.metadata,
      });
    } catch (err) {
      await abortUpload(to, uploadId);
      throw err;
    }
  }

  return {
    kind: KIND,
    identity: containerKeyIdentity,
    capabilities,

    async head(ref, signal) {
      return headMeta(locate(ref), signal);
    },

    async read(ref, options, signal) {
      const loc = locate(ref);
      throwIfAborted(signal, loc.reference);
      if (!nameable(loc)) throw new StowdError("NOT_FOUND", `${loc.reference} does not exist`, { reference: loc.reference, backend: KIND });
      return readObject(loc, options.range, options.ifMatchEtag, signal);
    },

    async write(ref, body, options, signal) {
      const loc = locate(ref);
      requireKey(loc);
      checkMetadata(options.metadata, loc.reference);
      throwIfAborted(signal, loc.reference);
      const pre = options.preconditions;
      // Fail fast, before taking the body; the commit checks again.
      if (hasPreconditions(pre)) checkPreconditions(await headMeta(loc, signal), pre, loc.reference);
      const size = partSizeFor(options.size);
      const reader = createPartReader(abortable(body, signal, loc.reference), size);
      let first: BodyPart;
      try {
        first = await reader.next();
      } catch (err) {
        reader.close();
        throw err;
      }
      throwIfAborted(signal, loc.reference);
      if (first.last) return putSingle(loc, first.data, options, signal);
      return putMultipart(loc, first, reader, size, options, signal);
    },

    async append() {
      throw unsupported(KIND, "append (S3 objects cannot be appended to, and emulating it is not atomic on every S3 server)");
    },

    async list(prefix, options, signal) {
      const loc = locate(prefix);
      checkBucket(loc);
      const resume = decodePageToken(options.pageToken, prefix.key, options.delimiter, loc.reference);
      const page = await pageKeys(
        listedKeys(loc, options.delimiter, resume?.entry, Math.min(1000, options.pageSize + 1), signal),
        prefix.key,
        options,
        loc.reference,
      );
      // ListObjectsV2 has no content type or metadata: HEAD each listed object.
      const metas = await mapLimit(page.keys, HEAD_CONCURRENCY, (key) => headMeta({ bucket: loc.bucket, key, reference: formatReference(prefix, key) }, signal));
      return {
        // An object deleted since the listing is left out.
        objects: metas.filter((meta): meta is ObjectMeta => meta !== undefined),
        commonPrefixes: page.commonPrefixes,
        nextPageToken: page.nextPageToken,
      };
    },

    async delete(ref, options, signal) {
      const loc = locate(ref);
      // S3 deletes a missing key "successfully": HEAD first to answer false.
      const current = await headMeta(loc, signal);
      if (current === undefined) return false;
      // RGW 16 ignores If-Match on DELETE, so the comparison here is what
      // guards it there (a write between it and the delete is lost); AWS S3
      // checks the If-Match we also send atomically.
      checkEtag(current, options.ifMatchEtag, loc.reference, "nothing was deleted");
      try {
        await call("DELETE", loc, signal, { idempotent: true }, (s) =>
          client.send(new DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key, ...(options.ifMatchEtag === undefined ? {} : { IfMatch: quoteConditions ? quoteEtag(options.ifMatchEtag) : options.ifMatchEtag }) }), {
            abortSignal: s,
          }),
        );
      } catch (err) {
        if (isPreconditionFailure(err)) {
          throw new StowdError("PRECONDITION_FAILED", `${loc.reference} no longer has etag "${options.ifMatchEtag ?? ""}"; nothing was deleted`, { reference: loc.reference, backend: KIND, cause: err });
        }
        throw err;
      }
      return true;
    },

    async deletePrefix(prefix, signal) {
      const loc = locate(prefix);
      checkBucket(loc);
      let count = 0;
      let startAfter: string | undefined;
      for (;;) {
        throwIfAborted(signal, loc.reference);
        const out: ListObjectsV2CommandOutput = await call("LIST", loc, signal, { idempotent: true }, (s) =>
          client.send(
            new ListObjectsV2Command({
              Bucket: loc.bucket,
              EncodingType: "url",
              MaxKeys: DELETE_BATCH,
              ...(loc.key === "" ? {} : { Prefix: loc.key }),
              ...(startAfter === undefined ? {} : { StartAfter: startAfter }),
            }),
            { abortSignal: s },
          ),
        );
        const keys = (out.Contents ?? []).flatMap((o) => {
          const key = o.Key === undefined ? undefined : decodeListedKey(o.Key);
          return key === undefined ? [] : [key];
        });
        if (keys.length > 0) {
          const result = await call("DELETE OBJECTS", loc, signal, { idempotent: true }, (s) =>
            client.send(new DeleteObjectsCommand({ Bucket: loc.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }), { abortSignal: s }),
          );
          const errors = result.Errors ?? [];
          count += keys.length - errors.length;
          const firstError = errors[0];
          if (firstError !== undefined) {
            const reason = firstError.Code === "AccessDenied" ? "PERMISSION_DENIED" : "INTERNAL";
            throw new StowdError(
              reason,
              `deleting under ${loc.reference} failed for ${errors.length} object(s) after ${count} were deleted; first: ${firstError.Key ?? "?"}: ${firstError.Code ?? "?"} ${firstError.Message ?? ""}`,
              { reference: loc.reference, backend: KIND },
            );
          }
          startAfter = keys[keys.length - 1];
        }
        if (out.IsTruncated !== true || keys.length === 0) return count;
      }
    },

    async copy(source, destination, options, signal) {
      const from = locate(source);
      const to = locate(destination);
      requireKey(to);
      throwIfAborted(signal, to.reference);
      if (!nameable(from)) throw new StowdError("NOT_FOUND", `${from.reference} does not exist; nothing was copied`, { reference: from.reference, backend: KIND });
      return copyObject(from, to, options, signal);
    },

    async signUrl(ref, options) {
      const loc = locate(ref);
      requireKey(loc);
      if (!Number.isInteger(options.expiresInSeconds) || options.expiresInSeconds < 1 || options.expiresInSeconds > MAX_SIGNED_URL_SECONDS) {
        throw new StowdError("INVALID_ARGUMENT", `signed URLs for S3 expire in 1 s to 7 days (${MAX_SIGNED_URL_SECONDS} s), not ${options.expiresInSeconds} s`, {
          reference: loc.reference,
          field: "expires_in",
        });
      }
      const expires = new Date(Date.now() + options.expiresInSeconds * 1000);
      if (options.method === "GET") {
        const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }), { expiresIn: options.expiresInSeconds });
        return { url, requiredHeaders: {}, expires };
      }
      // Every header below is signed, so the uploader must send exactly these.
      const requiredHeaders: Record<string, string> = {};
      const md5Base64 = options.contentMd5 === undefined ? undefined : base64(options.contentMd5);
      if (options.contentType !== "") requiredHeaders["Content-Type"] = options.contentType;
      if (md5Base64 !== undefined) {
        requiredHeaders["Content-MD5"] = md5Base64;
        // Flyte reads the MD5 of an object from this metadata key.
        requiredHeaders[`x-amz-meta-${FLYTE_CONTENT_MD5_KEY}`] = md5Base64;
      }
      const url = await getSignedUrl(
        client,
        new PutObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          ...(options.contentType === "" ? {} : { ContentType: options.contentType }),
          ...(md5Base64 === undefined ? {} : { ContentMD5: md5Base64, Metadata: { [FLYTE_CONTENT_MD5_KEY]: md5Base64 } }),
        }),
        {
          expiresIn: options.expiresInSeconds,
          signableHeaders: new Set(["content-type", "content-md5"]),
          unhoistableHeaders: new Set([`x-amz-meta-${FLYTE_CONTENT_MD5_KEY}`]),
        },
      );
      return { url, requiredHeaders, expires };
    },

    async close() {
      client.destroy();
    },
  };
}
