// What the GCS topic files share, built once per store by createGcsContext:
// the SDK client, the settings resolved from the options, the buckets seen
// to exist, and the per-store helpers every call goes through (the
// reference and name checks, one retried backend call, error conversion).
import { Storage, type File, type StorageOptions } from "@google-cloud/storage";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortError } from "../kit/abort.js";
import { referenceOf } from "../kit/object-reference.js";
import { defaultRetryPolicy, withRetries, type RetryPolicy } from "../kit/retry.js";
import { GCS_DEFAULT_SCOPES } from "./config.js";
import { GCS_KIND, fromGcsError, isRetryableGcsError } from "./errors.js";
import type { GcsStoreOptions } from "./config.js";
import { addRequestOptions } from "./requests.js";
import { traceContextInterceptor } from "./trace-context.js";
import { daemonTracer } from "../../observability/tracing.js";
import { MiB } from "../../../common/units.js";

const CHUNK_GRANULARITY = 256 * 1024;
const MAX_NAME_BYTES = 1024;

export interface GcsContext {
  storage: Storage;
  /** The JSON API endpoint, for the daemon's log (errors strip it from client messages). */
  endpoint: string;
  policy: RetryPolicy;
  /** Chunk size of resumable uploads. */
  chunkBytes: number;
  /** Bodies up to this size go in one multipart request. */
  singleRequestMaxBytes: number;
  /** Where append stages its bytes, per bucket; hidden from listings. */
  tempPrefix: string;
  /** Signing needs a private key; on Google's endpoint ambient credentials may also sign through the IAM API. */
  canSign: boolean;
  /** Buckets seen to exist, with when they were seen. */
  knownBuckets: Map<string, number>;
  /** Errors thrown by callers' bodies, so that a write passes them on unchanged instead of blaming GCS. */
  bodyFailures: WeakSet<object>;
}

/** Checks the options and builds the SDK client; throws INVALID_ARGUMENT naming a bad option. */
export function createGcsContext(options: GcsStoreOptions): GcsContext {
  const endpoint = (options.apiEndpoint ?? "https://storage.googleapis.com").replace(/\/+$/, "");
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const chunkBytes = options.resumableChunkBytes ?? 8 * MiB;
  const singleRequestMaxBytes = options.singleRequestMaxBytes ?? 5 * MiB;
  const tempPrefix = options.tempPrefix ?? ".stowd-tmp/";
  if (!Number.isInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % CHUNK_GRANULARITY !== 0) {
    throw new StowdError(
      "INVALID_ARGUMENT",
      `the gcs resumableChunkBytes must be a positive multiple of ${CHUNK_GRANULARITY} (GCS's chunk granularity); got ${chunkBytes}`,
      { backend: GCS_KIND },
    );
  }
  if (!Number.isInteger(singleRequestMaxBytes) || singleRequestMaxBytes < 0) {
    throw new StowdError("INVALID_ARGUMENT", `the gcs singleRequestMaxBytes must be a non-negative integer; got ${singleRequestMaxBytes}`, {
      backend: GCS_KIND,
    });
  }
  if (tempPrefix === "" || !tempPrefix.endsWith("/")) {
    throw new StowdError(
      "INVALID_ARGUMENT",
      `the gcs tempPrefix must be a non-empty prefix ending with "/"; got ${JSON.stringify(tempPrefix)}`,
      { backend: GCS_KIND },
    );
  }
  return {
    storage: createStorage(options, endpoint, policy),
    endpoint,
    policy,
    chunkBytes,
    singleRequestMaxBytes,
    tempPrefix,
    canSign: options.credentials !== undefined || options.keyFilename !== undefined || options.apiEndpoint === undefined,
    knownBuckets: new Map<string, number>(),
    bodyFailures: new WeakSet<object>(),
  };
}

function createStorage(options: GcsStoreOptions, endpoint: string, policy: RetryPolicy): Storage {
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
    scopes: options.scopes ?? GCS_DEFAULT_SCOPES,
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
  if (daemonTracer() !== undefined) storage.interceptors.push(traceContextInterceptor);
  return storage;
}

/** The reference to name in errors; a reference without a bucket (`gs:///key`) is refused here. */
export function checkedReference(ref: Ref): string {
  const reference = referenceOf(ref);
  if (ref.container === "")
    throw new StowdError("INVALID_REFERENCE", `${reference} names no bucket; expected gs://bucket/key`, {
      reference,
      field: "reference",
      backend: GCS_KIND,
    });
  return reference;
}

/** Keys GCS cannot name can never exist: why `key` is not a GCS object name, or undefined when it is one. */
export function nameProblem(key: string): string | undefined {
  if (key === "") return "the key is empty";
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_NAME_BYTES) return `GCS object names are at most ${MAX_NAME_BYTES} bytes of UTF-8, and this key has ${bytes}`;
  if (/[\r\n]/.test(key)) return "GCS object names cannot contain carriage returns or line feeds";
  if (key.startsWith(".well-known/acme-challenge/")) return "GCS reserves names starting with .well-known/acme-challenge/";
  return undefined;
}

export function checkWritableKey(ctx: GcsContext, ref: Ref, reference: string): void {
  const problem =
    nameProblem(ref.key) ??
    (ref.key.startsWith(ctx.tempPrefix) ? `keys under "${ctx.tempPrefix}" are reserved for the gcs backend's append staging` : undefined);
  if (problem !== undefined)
    throw new StowdError("INVALID_REFERENCE", `${reference} cannot be stored on GCS: ${problem}`, {
      reference,
      field: "reference",
      backend: GCS_KIND,
    });
}

export function fileOf(ctx: GcsContext, ref: Ref, generation?: number): File {
  return ctx.storage.bucket(ref.container).file(ref.key, generation === undefined ? {} : { generation });
}

/** The StowdError for a failure of `doing` on `reference` that the caller did not handle itself. */
export function fail(ctx: GcsContext, err: unknown, reference: string, doing: string): StowdError {
  return fromGcsError(err, { reference, doing, endpoint: ctx.endpoint });
}

/** withRetries with GCS's retryable errors; the caller's cancel or deadline becomes its StowdError. */
export async function retrying<T>(
  ctx: GcsContext,
  reference: string,
  doing: string,
  signal: AbortSignal,
  attempt: (signal: AbortSignal) => Promise<T>,
  idempotent = true,
): Promise<T> {
  try {
    return await withRetries(attempt, {
      policy: ctx.policy,
      signal,
      idempotent,
      isRetryable: isRetryableGcsError,
      backend: GCS_KIND,
      operation: `${doing} ${reference}`,
    });
  } catch (err) {
    if (signal.aborted) throw abortError(signal, reference);
    throw err;
  }
}
