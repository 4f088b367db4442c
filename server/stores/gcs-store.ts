// The GCS store (`gs://bucket/key`) over @google-cloud/storage (JSON API).
//
// - Writes: a body of known size up to `singleRequestMaxBytes`, or one of
//   unknown size that ends before that, goes in one multipart request (with
//   its MD5, which GCS verifies); anything larger is a resumable upload in
//   `resumableChunkBytes` chunks. Either way nothing is visible until GCS
//   commits, and a failed upload's session is cancelled.
// - Conditions map to generations: create-only = ifGenerationMatch=0,
//   must-exist = ifGenerationNotMatch=0, if-match-etag = read the object,
//   compare its etag, then ifGenerationMatch + ifMetagenerationMatch of that
//   version (a GCS etag changes exactly when one of the two does), so the
//   check is atomic with the commit.
// - Append is emulated with compose: the appended bytes go to a staging
//   object under `tempPrefix`, then [object@generation, staging] is composed
//   into the object with ifGenerationMatch; a lost race is retried while the
//   caller's expected offset / etag still hold.
// - Retries are withRetries' (per-attempt timeout inside a total deadline);
//   the SDK's own are off so the two never multiply.
import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { Storage, type File, type FileMetadata, type GetSignedUrlConfig, type PreconditionOptions, type StorageOptions } from "@google-cloud/storage";
import { StowdError, unsupported } from "../../common/errors.js";
import { formatReference, type Ref } from "../references/reference.js";
import { abortable, abortError, throwIfAborted } from "./kit/abort.js";
import { resolveRange } from "./kit/byte-range.js";
import { contentTypeOrDefault } from "./kit/content-type.js";
import { gcsError, gcsStatus, isRetryableGcsError } from "./gcs-errors.js";
import { compareKeys, decodePageToken, pageKeys } from "./kit/list-pages.js";
import { checkEtag, checkPreconditions } from "./kit/preconditions.js";
import type { Capabilities, ObjectMeta, Preconditions, RawStore, ReadResult } from "./raw-store.js";
import { containerKeyIdentity } from "./kit/object-identity.js";
import { defaultRetryPolicy, withRetries, type RetryPolicy } from "./kit/retry.js";

/** A service-account key file's contents (the fields signing and auth need). */
export interface GcsServiceAccountKey {
  type?: string;
  project_id?: string;
  private_key_id?: string;
  private_key: string;
  client_email: string;
  client_id?: string;
  token_uri?: string;
}

export interface GcsStoreOptions {
  /** JSON API endpoint; default https://storage.googleapis.com. Tests point it at the GCS test server. */
  apiEndpoint?: string;
  /** Project for the SDK; default: from the credentials or the environment. */
  projectId?: string;
  /** Path of a service-account key file. */
  keyFilename?: string;
  /** A service-account key's contents (Flyte's `stow.config.json`). Without this and keyFilename: Application Default Credentials. */
  credentials?: GcsServiceAccountKey;
  /** OAuth scopes; default devstorage.read_write (stow's default). */
  scopes?: string[];
  /** Authenticate requests to a custom apiEndpoint too; default false (the SDK's default: test servers take no tokens). */
  useAuthWithCustomEndpoint?: boolean;
  /** Attempts and timeouts for backend calls; defaults: defaultRetryPolicy. */
  retry?: Partial<RetryPolicy>;
  /** Chunk size of resumable uploads, a multiple of 256 KiB; default 8 MiB (each upload holds one chunk in memory). */
  resumableChunkBytes?: number;
  /** Bodies up to this size go in one multipart request; default 5 MiB (the SDK's own threshold). */
  singleRequestMaxBytes?: number;
  /** Where append stages its bytes, per bucket; hidden from listings; default ".stowd-tmp/". */
  tempPrefix?: string;
}

const KIND = "gcs";
const MiB = 1 << 20;
const CHUNK_GRANULARITY = 256 * 1024;
const DEFAULT_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"];
/** Flyte's metadata key for the MD5 a signed-URL upload declared (stow: AddContentMD5Metadata). */
const FLYTE_MD5_KEY = "flyteContentMD5";
/** Body chunks are gathered (and copied) into pieces of about this size for the upload stream. */
const BATCH_BYTES = 256 * 1024;
const MAX_NAME_BYTES = 1024;
const MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600;
/** A bucket seen to exist is not checked again for this long (only a missing object's head asks). */
const BUCKET_CACHE_MS = 60_000;
const APPEND_ATTEMPTS = 32;
const DELETE_CONCURRENCY = 8;
const CANCEL_SESSION_MS = 5_000;

/** The JSON object resource, as far as the store reads it. */
type GcsObject = FileMetadata;

interface ListResponse {
  items?: GcsObject[];
  prefixes?: string[];
  nextPageToken?: string;
}

interface RewriteResponse {
  done?: boolean;
  rewriteToken?: string;
  resource?: GcsObject;
}

/** What a write sends as the object's resource. */
interface UploadResource {
  contentType: string;
  metadata: Record<string, string>;
  md5Hash?: string;
}

type Conditions = Pick<PreconditionOptions, "ifGenerationMatch" | "ifGenerationNotMatch" | "ifMetagenerationMatch">;

/** The reference to name in errors; a reference without a bucket (`gs:///key`) is refused here. */
function referenceOf(ref: Ref): string {
  const reference = formatReference(ref, ref.key);
  if (ref.container === "") throw new StowdError("INVALID_REFERENCE", `${reference} names no bucket; expected gs://bucket/key`, { reference, field: "reference", backend: KIND });
  return reference;
}

function decodeMd5(value: unknown): Uint8Array | undefined {
  if (typeof value !== "string") return undefined;
  const bytes = Buffer.from(value, "base64");
  return bytes.length === 16 && bytes.toString("base64") === value ? Uint8Array.from(bytes) : undefined;
}

function isFlyteMd5Key(key: string): boolean {
  return key.toLowerCase() === FLYTE_MD5_KEY.toLowerCase();
}

function toMeta(key: string, resource: GcsObject): ObjectMeta {
  const metadata: Record<string, string> = {};
  let flyteMd5: string | undefined;
  for (const [name, value] of Object.entries(resource.metadata ?? {})) {
    if (value === null || value === undefined) continue;
    // Reported as contentMd5, not as user metadata (GCS lower-cases it when set through a signed URL).
    if (isFlyteMd5Key(name)) flyteMd5 = String(value);
    else metadata[name] = String(value);
  }
  const meta: ObjectMeta = {
    key,
    size: Number(resource.size ?? 0),
    etag: String(resource.etag ?? "").replace(/^(W\/)?"|"$/g, ""),
    contentType: contentTypeOrDefault(resource.contentType ?? ""),
    metadata,
    updated: new Date(resource.updated ?? resource.timeCreated ?? 0),
    generation: resource.generation === undefined ? "" : String(resource.generation),
  };
  // md5Hash is GCS's own (absent for composite objects); flyteContentMD5 what a writer declared.
  const md5 = decodeMd5(resource.md5Hash) ?? decodeMd5(flyteMd5);
  if (md5 !== undefined) meta.contentMd5 = md5;
  return meta;
}

/** Metadata to carry over to a new version of the same object (append), without a now-stale declared MD5. */
function carriedMetadata(resource: GcsObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(resource.metadata ?? {})) {
    if (value !== null && value !== undefined && !isFlyteMd5Key(name)) out[name] = String(value);
  }
  return out;
}

/** Waits for `promise` unless the signal aborts first; an abandoned request still settles, bounded by the SDK's timeout. */
function settleOrAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as unknown);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** A raw JSON API call through an SDK object (auth, endpoint and error parsing are the SDK's). */
function apiRequest<T>(target: Pick<File, "request">, reqOpts: Parameters<File["request"]>[0], signal: AbortSignal): Promise<T> {
  return settleOrAbort(
    new Promise<T>((resolve, reject) => target.request(reqOpts, (err, body) => (err ? reject(err) : resolve(body as T)))),
    signal,
  );
}

/** Code point after the last one of `prefix`: every key under `prefix` sorts before it (UTF-8 order = code point order). */
function pastPrefix(prefix: string): string | undefined {
  const points = [...prefix];
  const last = points.pop()?.codePointAt(0);
  if (last === undefined) return undefined;
  const next = last === 0xd7ff ? 0xe000 : last + 1;
  return next > 0x10ffff ? undefined : points.join("") + String.fromCodePoint(next);
}

async function* noBytes(): AsyncGenerator<Uint8Array> {}

type Interceptor = File["interceptors"][number];

/** An SDK request interceptor adding `extra` to every request's options (teeny-request's and gaxios's alike). */
function addRequestOptions(extra: Record<string, unknown>): Interceptor {
  return { request: (reqOpts) => ({ ...reqOpts, ...extra }) as unknown as ReturnType<Interceptor["request"]> };
}

export function createGcsStore(options: GcsStoreOptions = {}): RawStore {
  const endpoint = (options.apiEndpoint ?? "https://storage.googleapis.com").replace(/\/+$/, "");
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const chunkBytes = options.resumableChunkBytes ?? 8 * MiB;
  const singleRequestMaxBytes = options.singleRequestMaxBytes ?? 5 * MiB;
  const tempPrefix = options.tempPrefix ?? ".stowd-tmp/";
  if (!Number.isInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % CHUNK_GRANULARITY !== 0) {
    throw new StowdError("INVALID_ARGUMENT", `the gcs resumableChunkBytes must be a positive multiple of ${CHUNK_GRANULARITY} (GCS's chunk granularity); got ${chunkBytes}`, { backend: KIND });
  }
  if (!Number.isInteger(singleRequestMaxBytes) || singleRequestMaxBytes < 0) {
    throw new StowdError("INVALID_ARGUMENT", `the gcs singleRequestMaxBytes must be a non-negative integer; got ${singleRequestMaxBytes}`, { backend: KIND });
  }
  if (tempPrefix === "" || !tempPrefix.endsWith("/")) {
    throw new StowdError("INVALID_ARGUMENT", `the gcs tempPrefix must be a non-empty prefix ending with "/"; got ${JSON.stringify(tempPrefix)}`, { backend: KIND });
  }

  const storageOptions: StorageOptions = {
    // The SDK's retries are off: withRetries retries idempotent calls within
    // one deadline, and SDK retries inside each attempt would multiply the
    // attempts and outlive the deadline (its defaults: 3 retries, 600 s).
    // (maxRetries: 0 is read as "default"; autoRetry: false is the switch.)
    retryOptions: { autoRetry: false },
    // node-fetch's per-request timeout (until the response starts): bounds a
    // request withRetries has given up on; a little above the attempt
    // timeout, so withRetries' own timer fires first.
    timeout: policy.attemptTimeoutMs + 1_000,
    scopes: options.scopes ?? DEFAULT_SCOPES,
  };
  if (options.apiEndpoint !== undefined) storageOptions.apiEndpoint = endpoint;
  if (options.projectId !== undefined) storageOptions.projectId = options.projectId;
  if (options.keyFilename !== undefined) storageOptions.keyFilename = options.keyFilename;
  if (options.credentials !== undefined) storageOptions.credentials = { ...options.credentials };
  if (options.useAuthWithCustomEndpoint !== undefined) storageOptions.useAuthWithCustomEndpoint = options.useAuthWithCustomEndpoint;
  const storage = new Storage(storageOptions);
  // Without `forever`, requests use Node's global keep-alive agent. With it
  // (the SDK default) all requests share one pooled agent, and
  // createReadStream's cleanup of a failed or abandoned download calls
  // agent.destroy(), which stalls every other request in flight (tested:
  // "breaking off one download does not disturb others in flight").
  storage.interceptors.push(addRequestOptions({ forever: false }));

  const capabilities: Capabilities = {
    rangedReads: true,
    append: true,
    conditionalWrites: true,
    // Signing needs a private key; on Google's endpoint ambient credentials may also sign through the IAM API.
    signedUrls: options.credentials !== undefined || options.keyFilename !== undefined || options.apiEndpoint === undefined,
    delimiterListing: true,
    serverSideCopy: true,
  };

  const knownBuckets = new Map<string, number>();
  /** Errors thrown by callers' bodies, so that a write passes them on unchanged instead of blaming GCS. */
  const bodyFailures = new WeakSet<object>();

  /** `body`, noting what it throws in bodyFailures. */
  async function* watched(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    const it = body[Symbol.asyncIterator]();
    let done = false;
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await it.next();
        } catch (err) {
          if (err !== null && typeof err === "object") bodyFailures.add(err);
          throw err;
        }
        if (next.done) {
          done = true;
          return;
        }
        yield next.value;
      }
    } finally {
      if (!done) void it.return?.()?.catch(() => {});
    }
  }

  function fileOf(ref: Ref, generation?: number): File {
    return storage.bucket(ref.container).file(ref.key, generation === undefined ? {} : { generation });
  }

  function fail(err: unknown, reference: string, doing: string): StowdError {
    return gcsError(err, { reference, doing, endpoint });
  }

  /** withRetries with GCS's retryable errors; the caller's cancel or deadline becomes its StowdError. */
  async function retrying<T>(reference: string, doing: string, signal: AbortSignal, attempt: (signal: AbortSignal) => Promise<T>, idempotent = true): Promise<T> {
    try {
      return await withRetries(attempt, { policy, signal, idempotent, isRetryable: isRetryableGcsError, backend: KIND, operation: `${doing} ${reference}` });
    } catch (err) {
      if (signal.aborted) throw abortError(signal, reference);
      throw err;
    }
  }

  function bucketMissing(bucket: string, reference: string): StowdError {
    return new StowdError("NOT_FOUND", `the GCS bucket "${bucket}" does not exist; stowd does not create buckets, so create it first`, { reference, backend: KIND });
  }

  /**
   * Throws NOT_FOUND naming the bucket when it does not exist. GCS answers
   * 404 for a missing object and a missing bucket alike; a one-item listing
   * tells them apart with the permission the store needs anyway
   * (storage.objects.list, unlike buckets.get, which object-level roles lack).
   */
  async function requireBucket(bucket: string, reference: string, signal: AbortSignal, useCache: boolean): Promise<void> {
    const seen = knownBuckets.get(bucket);
    if (useCache && seen !== undefined && Date.now() - seen < BUCKET_CACHE_MS) return;
    try {
      await retrying(reference, "checking the bucket of", signal, (s) => apiRequest(storage.bucket(bucket), { uri: "/o", qs: { maxResults: 1 } }, s));
      knownBuckets.set(bucket, Date.now());
    } catch (err) {
      if (gcsStatus(err) === 404) {
        knownBuckets.delete(bucket);
        throw bucketMissing(bucket, reference);
      }
      throw fail(err, reference, "checking the bucket of");
    }
  }

  /** Keys GCS cannot name can never exist. */
  function nameProblem(key: string): string | undefined {
    if (key === "") return "the key is empty";
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes > MAX_NAME_BYTES) return `GCS object names are at most ${MAX_NAME_BYTES} bytes of UTF-8, and this key has ${bytes}`;
    if (/[\r\n]/.test(key)) return "GCS object names cannot contain carriage returns or line feeds";
    if (key.startsWith(".well-known/acme-challenge/")) return "GCS reserves names starting with .well-known/acme-challenge/";
    return undefined;
  }

  function checkWritableKey(ref: Ref, reference: string): void {
    const problem = nameProblem(ref.key) ?? (ref.key.startsWith(tempPrefix) ? `keys under "${tempPrefix}" are reserved for the gcs backend's append staging` : undefined);
    if (problem !== undefined) throw new StowdError("INVALID_REFERENCE", `${reference} cannot be stored on GCS: ${problem}`, { reference, field: "reference", backend: KIND });
  }

  /** The object's resource, or undefined when it does not exist (NOT_FOUND when the bucket does not). */
  async function headResource(ref: Ref, signal: AbortSignal): Promise<GcsObject | undefined> {
    const reference = referenceOf(ref);
    if (nameProblem(ref.key) !== undefined) return undefined;
    try {
      const [resource] = await retrying(reference, "reading the metadata of", signal, (s) => settleOrAbort(fileOf(ref).getMetadata(), s));
      return resource;
    } catch (err) {
      if (gcsStatus(err) !== 404) throw fail(err, reference, "reading the metadata of");
      await requireBucket(ref.container, reference, signal, true);
      return undefined;
    }
  }

  /** The generation conditions for `pre`; reads the object when an etag must be matched. */
  async function conditionsFor(ref: Ref, pre: Preconditions, signal: AbortSignal, reference: string): Promise<Conditions> {
    if (pre.ifMatchEtag !== undefined || (pre.ifNotExists && pre.ifExists)) {
      const current = await headResource(ref, signal);
      checkPreconditions(current === undefined ? undefined : toMeta(ref.key, current), pre, reference);
      if (current === undefined) return { ifGenerationMatch: 0 };
      return { ifGenerationMatch: Number(current.generation), ifMetagenerationMatch: Number(current.metageneration) };
    }
    if (pre.ifNotExists) return { ifGenerationMatch: 0 };
    if (pre.ifExists) return { ifGenerationNotMatch: 0 };
    return {};
  }

  /** The error for a 412: the shared precondition errors against the object as it is now. */
  async function preconditionFailure(ref: Ref, pre: Preconditions, signal: AbortSignal, reference: string, cause: unknown): Promise<StowdError> {
    const current = await headResource(ref, signal);
    try {
      checkPreconditions(current === undefined ? undefined : toMeta(ref.key, current), pre, reference);
    } catch (err) {
      return err as StowdError;
    }
    // The object changed back and forth in between: report the conflict as it happened.
    if (pre.ifNotExists) return new StowdError("ALREADY_EXISTS", `${reference} was created concurrently and if_not_exists forbids replacing it; nothing was written`, { reference, cause });
    if (pre.ifExists) return new StowdError("NOT_FOUND", `${reference} did not exist when the write committed, and if_exists requires it; nothing was written`, { reference, cause });
    return new StowdError("PRECONDITION_FAILED", `${reference} changed while it was written; nothing was written`, { reference, cause });
  }

  /** The error for a failed write: the caller's own body failure as it is, 412 → the precondition's error, 404 → the missing bucket. */
  async function writeFailure(err: unknown, ref: Ref, pre: Preconditions, signal: AbortSignal, reference: string, doing: string): Promise<unknown> {
    if (err instanceof StowdError || bodyFailures.has(err as object)) return err;
    if (signal.aborted) return abortError(signal, reference);
    const status = gcsStatus(err);
    if (status === 412) return preconditionFailure(ref, pre, signal, reference, err);
    if (status === 404) await requireBucket(ref.container, reference, signal, false);
    return fail(err, reference, doing);
  }

  function uploadResource(contentType: string, metadata: Record<string, string>, contentMd5: Uint8Array | undefined): UploadResource {
    const resource: UploadResource = { contentType: contentTypeOrDefault(contentType), metadata: {} };
    for (const [name, value] of Object.entries(metadata)) if (contentMd5 === undefined || !isFlyteMd5Key(name)) resource.metadata[name] = value;
    if (contentMd5 !== undefined) {
      const md5 = Buffer.from(contentMd5).toString("base64");
      resource.md5Hash = md5; // GCS verifies it before committing
      resource.metadata[FLYTE_MD5_KEY] = md5; // kept for composite objects, which have no md5Hash, and for Flyte
    }
    return resource;
  }

  /** One multipart request: all or nothing, with the MD5 GCS checks. */
  async function singleRequest(ref: Ref, data: Buffer, resource: UploadResource, conditions: Conditions, signal: AbortSignal, reference: string): Promise<GcsObject> {
    const md5Hash = resource.md5Hash ?? createHash("md5").update(data).digest("base64");
    return retrying(reference, "writing", signal, (s) => {
      const file = fileOf(ref);
      const stream = file.createWriteStream({ resumable: false, validation: false, metadata: { ...resource, md5Hash }, preconditionOpts: conditions });
      stream.on("error", () => {}); // the promise below reports it
      return settleOrAbort(
        new Promise<GcsObject>((resolve, reject) => {
          s.addEventListener("abort", () => stream.destroy(), { once: true });
          stream.once("error", reject);
          stream.once("finish", () => resolve(file.metadata));
          stream.end(data);
        }),
        s,
      );
    });
  }

  /** Starts a resumable session (idempotent: nothing exists until the last chunk). */
  async function startSession(ref: Ref, resource: UploadResource, conditions: Conditions, size: number | undefined, signal: AbortSignal, reference: string): Promise<string> {
    return retrying(reference, "starting an upload of", signal, async (s) => {
      const file = fileOf(ref);
      // Resumable requests go through gaxios, which takes a signal and timeout per request.
      file.interceptors.push(addRequestOptions({ signal: s, timeout: policy.attemptTimeoutMs }));
      const metadata = { ...resource, ...(size === undefined ? {} : { contentLength: size }) };
      const [uri] = await settleOrAbort(file.createResumableUpload({ metadata, preconditionOpts: conditions }), s);
      return uri;
    });
  }

  /** Cancels a session that will never finish (GCS would expire it after a week). Best effort. */
  function cancelSession(uri: string): void {
    // The session URI is its own credential: no token needed.
    void fetch(uri, { method: "DELETE", signal: AbortSignal.timeout(CANCEL_SESSION_MS) })
      .then((res) => res.body?.cancel())
      .catch(() => {});
  }

  async function resumable(
    ref: Ref,
    first: Buffer[],
    rest: AsyncIterator<Uint8Array>,
    resource: UploadResource,
    conditions: Conditions,
    size: number | undefined,
    signal: AbortSignal,
    reference: string,
  ): Promise<GcsObject> {
    const uri = await startSession(ref, resource, conditions, size, signal, reference);
    const md5 = createHash("md5");
    async function* pieces(): AsyncGenerator<Buffer> {
      for (const piece of first) {
        md5.update(piece);
        yield piece;
      }
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      for (let next = await rest.next(); !next.done; next = await rest.next()) {
        pending.push(next.value);
        pendingBytes += next.value.length;
        if (pendingBytes < BATCH_BYTES) continue;
        // A copy: the SDK keeps a chunk's buffers until GCS acknowledges it, and callers may reuse theirs.
        const piece = Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        md5.update(piece);
        yield piece;
      }
      if (pendingBytes > 0) {
        const piece = Buffer.concat(pending);
        md5.update(piece);
        yield piece;
      }
    }
    const file = fileOf(ref);
    // Each chunk is buffered before it is sent, so a per-request timeout blames only GCS, never a slow client.
    file.interceptors.push(addRequestOptions({ timeout: policy.attemptTimeoutMs }));
    const upload = file.createWriteStream({ uri, offset: 0, resumable: true, chunkSize: chunkBytes, validation: false, metadata: size === undefined ? {} : { contentLength: size } });
    upload.on("error", () => {}); // pipeline reports it
    try {
      await pipeline(Readable.from(pieces()), upload, { signal });
    } catch (err) {
      cancelSession(uri);
      throw err;
    }
    const uploaded = file.metadata;
    const digest = md5.digest("base64");
    if (uploaded.md5Hash !== undefined && uploaded.md5Hash !== digest) {
      // GCS stored other bytes than were sent: take that version back out.
      await retrying(reference, "removing a corrupt upload of", signal, (s) => settleOrAbort(fileOf(ref).delete({ ifGenerationMatch: Number(uploaded.generation) }), s)).catch(() => {});
      throw new StowdError("CHECKSUM_MISMATCH", `GCS stored ${reference} with MD5 ${uploaded.md5Hash}, but the bytes sent have MD5 ${digest}; the upload was removed`, { reference, backend: KIND });
    }
    return uploaded;
  }

  /** Uploads `body`; picks one request or a resumable session by size (known, or found out by reading ahead). */
  async function upload(ref: Ref, body: AsyncIterable<Uint8Array>, resource: UploadResource, conditions: Conditions, size: number | undefined, signal: AbortSignal, reference: string): Promise<GcsObject> {
    const source = abortable(watched(body), signal, reference)[Symbol.asyncIterator]();
    const first: Buffer[] = [];
    let firstBytes = 0;
    // Unknown size: read ahead up to the single-request limit. Known: the size decides.
    const limit = size === undefined ? singleRequestMaxBytes : size <= singleRequestMaxBytes ? Infinity : -1;
    try {
      for (;;) {
        if (firstBytes > limit) break;
        const next = await source.next();
        if (next.done) {
          throwIfAborted(signal, reference);
          return await singleRequest(ref, Buffer.concat(first), resource, conditions, signal, reference);
        }
        first.push(Buffer.from(next.value)); // a copy: callers may reuse their chunks
        firstBytes += next.value.length;
      }
      return await resumable(ref, first, source, resource, conditions, size, signal, reference);
    } finally {
      // Release the caller's body when the upload failed before taking all of it (a no-op after the end).
      void source.return?.(undefined)?.catch(() => {});
    }
  }

  /** Opens the media of one generation; resolves once GCS answered with the bytes. */
  function openMedia(ref: Ref, resource: GcsObject, offset: number, length: number, signal: AbortSignal, reference: string): Promise<Readable> {
    const size = Number(resource.size ?? 0);
    return retrying(reference, "reading", signal, (s) => {
      const whole = offset === 0 && length === size;
      // Whole reads are checked against GCS's hash: MD5 when it has one (node's MD5 is several times faster than the SDK's JS CRC32C), else CRC32C (composite objects).
      const stream = fileOf(ref, Number(resource.generation)).createReadStream(
        whole ? { validation: resource.md5Hash === undefined ? "crc32c" : "md5" } : { start: offset, end: offset + length - 1 },
      );
      stream.on("error", () => {}); // the iterator or the promise below reports it
      return new Promise<Readable>((resolve, reject) => {
        const onAbort = () => {
          stream.destroy();
          reject(s.reason as unknown);
        };
        s.addEventListener("abort", onAbort, { once: true });
        const done = () => s.removeEventListener("abort", onAbort);
        stream.once("response", (res: { statusCode?: number }) => {
          // An error answer is followed by the stream's error (after its body is read).
          if ((res.statusCode ?? 0) < 300) {
            done();
            resolve(stream);
          }
        });
        stream.once("error", (err) => {
          done();
          reject(err);
        });
        stream.read(0); // starts the request
      });
    });
  }

  async function* streamBody(stream: Readable, signal: AbortSignal, reference: string): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of abortable(stream as AsyncIterable<Buffer>, signal, reference)) yield chunk;
    } catch (err) {
      throw fail(err, reference, "reading");
    } finally {
      stream.destroy();
    }
  }

  async function composeInto(ref: Ref, sources: Array<{ name: string; generation: number }>, destination: { contentType: string; metadata: Record<string, string> }, conditions: Conditions, signal: AbortSignal): Promise<GcsObject> {
    return apiRequest<GcsObject>(
      storage.bucket(ref.container),
      { method: "POST", uri: `/o/${encodeURIComponent(ref.key)}/compose`, qs: conditions, json: { kind: "storage#composeRequest", sourceObjects: sources, destination } },
      signal,
    );
  }

  async function removeQuietly(ref: Ref): Promise<void> {
    const signal = AbortSignal.timeout(policy.totalTimeoutMs);
    await retrying(referenceOf(ref), "removing", signal, (s) => settleOrAbort(fileOf(ref).delete({ ignoreNotFound: true }), s)).catch(() => {});
  }

  async function deleteOne(ref: Ref, ifMatchEtag: string | undefined, signal: AbortSignal): Promise<boolean> {
    const reference = referenceOf(ref);
    if (nameProblem(ref.key) !== undefined) return false;
    let conditions: Conditions = {};
    if (ifMatchEtag !== undefined) {
      const current = await headResource(ref, signal);
      if (current === undefined) return false;
      checkEtag(toMeta(ref.key, current), ifMatchEtag, reference, "nothing was deleted");
      conditions = { ifGenerationMatch: Number(current.generation), ifMetagenerationMatch: Number(current.metageneration) };
    }
    try {
      await retrying(reference, "deleting", signal, (s) => settleOrAbort(fileOf(ref).delete(conditions), s));
      return true;
    } catch (err) {
      const status = gcsStatus(err);
      if (status === 404) {
        await requireBucket(ref.container, reference, signal, false);
        return false;
      }
      if (status === 412) {
        const current = await headResource(ref, signal);
        if (current === undefined) return false;
        checkEtag(toMeta(ref.key, current), ifMatchEtag, reference, "nothing was deleted");
        throw new StowdError("PRECONDITION_FAILED", `${reference} changed while it was deleted; nothing was deleted`, { reference, cause: err });
      }
      throw fail(err, reference, "deleting");
    }
  }

  /** One page of GCS's object listing; a 404 there can only mean a missing bucket. */
  async function listPage(prefix: Ref, query: Record<string, string | number>, signal: AbortSignal, reference: string): Promise<ListResponse> {
    try {
      return await retrying(reference, "listing", signal, (s) => apiRequest<ListResponse>(storage.bucket(prefix.container), { uri: "/o", qs: query }, s));
    } catch (err) {
      if (gcsStatus(err) === 404) throw bucketMissing(prefix.container, reference);
      throw fail(err, reference, "listing");
    }
  }

  return {
    kind: KIND,
    identity: containerKeyIdentity,
    capabilities,

    async head(ref, signal) {
      const resource = await headResource(ref, signal);
      return resource === undefined ? undefined : toMeta(ref.key, resource);
    },

    async read(ref, options, signal): Promise<ReadResult> {
      const reference = referenceOf(ref);
      throwIfAborted(signal, reference);
      for (let attempt = 1; ; attempt++) {
        const resource = await headResource(ref, signal);
        if (resource === undefined) throw new StowdError("NOT_FOUND", `${reference} does not exist`, { reference, backend: KIND });
        const meta = toMeta(ref.key, resource);
        checkEtag(meta, options.ifMatchEtag, reference, "nothing was read");
        const { offset, length } = resolveRange(options.range, meta.size, reference);
        if (length === 0) return { meta, offset, length, body: noBytes(), close: async () => {} };
        let stream: Readable;
        try {
          // Pinned to the generation just seen, so the bytes always match `meta`.
          stream = await openMedia(ref, resource, offset, length, signal, reference);
        } catch (err) {
          // That generation was replaced in between: look again.
          if (gcsStatus(err) === 404 && attempt < 3) continue;
          if (signal.aborted) throw abortError(signal, reference);
          throw fail(err, reference, "reading");
        }
        return {
          meta,
          offset,
          length,
          body: streamBody(stream, signal, reference),
          close: async () => {
            stream.destroy();
          },
        };
      }
    },

    async write(ref, body, options, signal) {
      const reference = referenceOf(ref);
      checkWritableKey(ref, reference);
      throwIfAborted(signal, reference);
      const conditions = await conditionsFor(ref, options.preconditions, signal, reference);
      const resource = uploadResource(options.contentType, options.metadata, options.contentMd5);
      try {
        return toMeta(ref.key, await upload(ref, body, resource, conditions, options.size, signal, reference));
      } catch (err) {
        throw await writeFailure(err, ref, options.preconditions, signal, reference, "writing");
      }
    },

    async append(ref, body, options, signal) {
      const reference = referenceOf(ref);
      checkWritableKey(ref, reference);
      const check = (current: GcsObject | undefined): void => {
        if (current === undefined) {
          if (!options.createIfMissing) {
            throw new StowdError("NOT_FOUND", `${reference} does not exist; set create_if_missing to create it by appending`, { reference, backend: KIND });
          }
          if (options.ifMatchEtag !== undefined) checkPreconditions(undefined, { ifMatchEtag: options.ifMatchEtag }, reference);
        } else {
          checkEtag(toMeta(ref.key, current), options.ifMatchEtag, reference, "nothing was appended");
        }
        const size = Number(current?.size ?? 0);
        if (options.expectedOffset !== undefined && options.expectedOffset !== size) {
          throw new StowdError("PRECONDITION_FAILED", `${reference} has ${size} bytes, not the expected offset ${options.expectedOffset}; nothing was appended`, {
            reference,
            size,
            field: "header.expected_offset",
          });
        }
      };
      let current = await headResource(ref, signal);
      check(current); // fail fast, before taking the body
      const staging: Ref = { ...ref, key: `${tempPrefix}append/${randomUUID()}` };
      let staged: GcsObject;
      try {
        staged = await upload(staging, body, uploadResource("", {}, undefined), { ifGenerationMatch: 0 }, undefined, signal, reference);
      } catch (err) {
        throw await writeFailure(err, staging, {}, signal, reference, "appending to");
      }
      try {
        for (let attempt = 1; ; attempt++) {
          check(current);
          const stagedSource = { name: staging.key, generation: Number(staged.generation) };
          const sources = current === undefined ? [stagedSource] : [{ name: ref.key, generation: Number(current.generation) }, stagedSource];
          const destination =
            current === undefined
              ? { contentType: contentTypeOrDefault(options.contentType), metadata: {} }
              : { contentType: contentTypeOrDefault(current.contentType ?? ""), metadata: carriedMetadata(current) };
          const conditions: Conditions = current === undefined ? { ifGenerationMatch: 0 } : { ifGenerationMatch: Number(current.generation), ifMetagenerationMatch: Number(current.metageneration) };
          try {
            // Not retried blindly: a compose whose answer was lost may have applied, and a second one would append twice.
            const composed = await retrying(reference, "appending to", signal, (s) => composeInto(ref, sources, destination, conditions, s), false);
            return toMeta(ref.key, composed);
          } catch (err) {
            const status = gcsStatus(err);
            if ((status !== 412 && status !== 404) || signal.aborted) throw fail(err, reference, "appending to");
            // Another writer got there first (412, or 404: the version we composed from is gone).
            const before = current?.generation;
            current = await headResource(ref, signal);
            if (status === 404 && current?.generation === before) {
              throw new StowdError("INTERNAL", `the staging object of an append to ${reference} disappeared; nothing was appended`, { reference, backend: KIND, cause: err });
            }
            if (attempt >= APPEND_ATTEMPTS) {
              throw new StowdError("BACKEND_UNAVAILABLE", `${reference} kept changing during the append (${attempt} attempts); nothing was appended`, { reference, backend: KIND, cause: err });
            }
            await sleep(Math.random() * Math.min(200, 5 * 2 ** attempt), undefined, { signal }).catch(() => {});
            throwIfAborted(signal, reference);
          }
        }
      } finally {
        await removeQuietly(staging);
      }
    },

    async list(prefix, options, signal) {
      const reference = referenceOf(prefix);
      const resume = decodePageToken(options.pageToken, prefix.key, options.delimiter, reference);
      // Resume after the last entry served (GCS's startOffset is inclusive; pageKeys drops what was served).
      const startOffset = resume === undefined ? undefined : resume.isCommonPrefix ? (pastPrefix(resume.entry) ?? resume.entry) : resume.entry;
      const resources = new Map<string, GcsObject>();
      async function* entries(): AsyncGenerator<string> {
        let pageToken: string | undefined;
        do {
          const query: Record<string, string | number> = { maxResults: Math.min(1000, options.pageSize + 1) };
          if (prefix.key !== "") query.prefix = prefix.key;
          if (options.delimiter !== "") query.delimiter = options.delimiter;
          if (startOffset !== undefined) query.startOffset = startOffset;
          if (pageToken !== undefined) query.pageToken = pageToken;
          const page = await listPage(prefix, query, signal, reference);
          const names: string[] = [];
          for (const item of page.items ?? []) {
            if (item.name === undefined) continue;
            resources.set(item.name, item);
            names.push(item.name);
          }
          names.push(...(page.prefixes ?? []));
          yield* names.filter((name) => !name.startsWith(tempPrefix)).sort(compareKeys);
          pageToken = page.nextPageToken || undefined;
        } while (pageToken !== undefined);
      }
      const page = await pageKeys(entries(), prefix.key, options, reference);
      return {
        objects: page.keys.flatMap((key) => {
          const resource = resources.get(key);
          return resource === undefined ? [] : [toMeta(key, resource)];
        }),
        commonPrefixes: page.commonPrefixes,
        nextPageToken: page.nextPageToken,
      };
    },

    async delete(ref, options, signal) {
      return deleteOne(ref, options.ifMatchEtag, signal);
    },

    async deletePrefix(prefix, signal) {
      const reference = referenceOf(prefix);
      let count = 0;
      let pageToken: string | undefined;
      do {
        const query: Record<string, string | number> = { maxResults: 1000 };
        if (prefix.key !== "") query.prefix = prefix.key;
        if (pageToken !== undefined) query.pageToken = pageToken;
        const page = await listPage(prefix, query, signal, reference);
        const keys = (page.items ?? []).flatMap((item) => (item.name === undefined || item.name.startsWith(tempPrefix) ? [] : [item.name]));
        let next = 0;
        const worker = async () => {
          while (next < keys.length) {
            const key = keys[next++]!;
            throwIfAborted(signal, reference);
            if (await deleteOne({ ...prefix, key }, undefined, signal)) count++;
          }
        };
        await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
        pageToken = page.nextPageToken || undefined;
      } while (pageToken !== undefined);
      return count;
    },

    async copy(source, destination, options, signal) {
      const reference = referenceOf(destination);
      const sourceReference = referenceOf(source);
      checkWritableKey(destination, reference);
      throwIfAborted(signal, reference);
      for (let attempt = 1; ; attempt++) {
        const from = await headResource(source, signal);
        if (from === undefined) throw new StowdError("NOT_FOUND", `${sourceReference} does not exist; nothing was copied`, { reference: sourceReference, backend: KIND });
        checkEtag(toMeta(source.key, from), options.ifSourceMatchEtag, sourceReference, "nothing was copied");
        const conditions = await conditionsFor(destination, options.preconditions, signal, reference);
        // Pinned to the version just checked; its metageneration too when an etag was asked for.
        const query: Record<string, string | number> = { sourceGeneration: Number(from.generation), ...conditions };
        if (options.ifSourceMatchEtag !== undefined) query.ifSourceMetagenerationMatch = Number(from.metageneration);
        try {
          let token: string | undefined;
          for (;;) {
            // An empty resource: the copy keeps the source's content type and metadata.
            const reply: RewriteResponse = await retrying(reference, "copying to", signal, (s) =>
              apiRequest<RewriteResponse>(
                fileOf(source),
                { method: "POST", uri: `/rewriteTo/b/${encodeURIComponent(destination.container)}/o/${encodeURIComponent(destination.key)}`, qs: token === undefined ? query : { ...query, rewriteToken: token }, json: {} },
                s,
              ),
            );
            if (reply.done && reply.resource !== undefined) return toMeta(destination.key, reply.resource);
            if (reply.rewriteToken === undefined) throw new StowdError("INTERNAL", `GCS answered a rewrite to ${reference} with neither a result nor a rewriteToken`, { reference, backend: KIND });
            token = reply.rewriteToken;
          }
        } catch (err) {
          if (err instanceof StowdError) throw err;
          const status = gcsStatus(err);
          if (status === 412) {
            if (options.ifSourceMatchEtag !== undefined) {
              const now = await headResource(source, signal);
              if (now === undefined) throw new StowdError("NOT_FOUND", `${sourceReference} was deleted while it was copied; nothing was copied`, { reference: sourceReference, backend: KIND });
              checkEtag(toMeta(source.key, now), options.ifSourceMatchEtag, sourceReference, "nothing was copied");
            }
            throw await preconditionFailure(destination, options.preconditions, signal, reference, err);
          }
          if (status === 404) {
            await requireBucket(destination.container, reference, signal, false);
            await requireBucket(source.container, sourceReference, signal, false);
            if (attempt < 3) continue; // the source version we pinned was replaced: look again
          }
          throw fail(err, reference, "copying to");
        }
      }
    },

    async signUrl(ref, options, signal) {
      const reference = referenceOf(ref);
      if (!capabilities.signedUrls) {
        throw unsupported(KIND, "signed URLs without a service-account key (set stow.config json, credentials or keyFilename)");
      }
      const problem = nameProblem(ref.key);
      if (problem !== undefined) throw new StowdError("INVALID_REFERENCE", `${reference} cannot be signed: ${problem}`, { reference, field: "reference", backend: KIND });
      if (!(options.expiresInSeconds > 0 && options.expiresInSeconds <= MAX_SIGNED_URL_SECONDS)) {
        throw new StowdError("INVALID_ARGUMENT", `GCS V4 signed URLs last between 1 s and 7 days; asked for ${options.expiresInSeconds} s`, { reference, field: "expires_in" });
      }
      const expires = new Date(Date.now() + options.expiresInSeconds * 1000);
      const config: GetSignedUrlConfig = { version: "v4", action: options.method === "GET" ? "read" : "write", expires };
      const requiredHeaders: Record<string, string> = {};
      if (options.method === "GET" && (options.contentMd5 !== undefined || options.contentType !== "")) {
        throw new StowdError("INVALID_ARGUMENT", "content_md5 and content_type apply to PUT URLs only", { reference, field: options.contentMd5 === undefined ? "content_type" : "content_md5" });
      }
      if (options.contentMd5 !== undefined) {
        const md5 = Buffer.from(options.contentMd5).toString("base64");
        // GCS checks Content-MD5; the metadata header records it as Flyte's stow does (AddContentMD5Metadata).
        config.contentMd5 = md5;
        config.extensionHeaders = { "x-goog-meta-flytecontentmd5": md5 };
        requiredHeaders["Content-MD5"] = md5;
        requiredHeaders["x-goog-meta-flytecontentmd5"] = md5;
      }
      if (options.contentType !== "") {
        config.contentType = options.contentType;
        requiredHeaders["Content-Type"] = options.contentType;
      }
      try {
        const [url] = await settleOrAbort(fileOf(ref).getSignedUrl(config), signal);
        return { url, requiredHeaders, expires };
      } catch (err) {
        if (signal.aborted) throw abortError(signal, reference);
        throw new StowdError("UNAUTHENTICATED", `cannot sign a URL for ${reference}: ${(err as Error).message}; signing needs a service-account key or the iam.serviceAccounts.signBlob permission`, {
          reference,
          backend: KIND,
          cause: err,
        });
      }
    },

    async close() {
      knownBuckets.clear();
    },
  };
}
