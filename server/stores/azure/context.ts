// What the Azure topic files share, built once per store by
// createAzureContext: the SDK clients, the settings resolved from the
// options, and the per-store helpers every call goes through (name checks,
// one retried backend call, error conversion, the per-blob lock).
//
// Azure keeps one set of uncommitted blocks per blob and drops it whenever
// the blob is committed, so two uploads to one blob must not overlap: this
// process serialises its mutations per blob (`locked`), and a clash with
// another process is reported as UNAVAILABLE (retry) or, for small appends,
// retried with the retained bytes.
import {
  AnonymousCredential,
  BlobServiceClient,
  StorageSharedKeyCredential,
  newPipeline,
  type BlobClient,
  type BlockBlobClient,
  type ContainerClient,
} from "@azure/storage-blob";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortError, throwIfAborted } from "../kit/abort.js";
import { createKeyedLock, type KeyedLock } from "../kit/keyed-lock.js";
import { referenceOf } from "../kit/object-reference.js";
import { defaultRetryPolicy, withRetries, type RetryPolicy } from "../kit/retry.js";
import { AZURE_KIND, fromAzureError, isRetryableAzureError } from "./errors.js";
import type { AzureStoreOptions } from "./config.js";
import { traceContextPolicy } from "./trace-context.js";
import { daemonTracer } from "../../observability/tracing.js";
import { MiB } from "../../../common/units.js";

const DEFAULT_BLOCK_BYTES = 8 * MiB;
const MAX_NAME_LENGTH = 1024;
const MAX_SEGMENTS = 254;

export interface AzureContext {
  /** The storage account, for the daemon's log and for checking references that name one. */
  account: string;
  /** The blob service URL. */
  endpoint: string;
  /** The endpoint without a query (a SAS), for the daemon's log. */
  endpointForErrors: string;
  policy: RetryPolicy;
  /** Bytes per staged block, and the largest body sent in one Put Blob call. */
  blockSize: number;
  /** Blocks staged at once per upload. */
  concurrency: number;
  /** Sources up to this size are copied with one synchronous Copy Blob From URL. */
  syncCopyMaxBytes: number;
  copyPollIntervalMs: number;
  /** The account key: without it requests are anonymous and URLs cannot be signed. */
  sharedKey: StorageSharedKeyCredential | undefined;
  service: BlobServiceClient;
  lock: KeyedLock;
}

/** Checks the options and builds the SDK client; throws INVALID_ARGUMENT naming a bad option. */
export function createAzureContext(options: AzureStoreOptions): AzureContext {
  const account = options.account;
  const endpoint = (options.endpoint ?? `https://${account}.blob.${options.domainSuffix ?? "core.windows.net"}`).replace(/\/+$/, "");
  const blockSize = options.blockSizeBytes ?? DEFAULT_BLOCK_BYTES;
  if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > 4000 * MiB) {
    throw new StowdError("INVALID_ARGUMENT", `azure block size ${blockSize} must be from 1 byte to 4000 MiB`, {
      backend: AZURE_KIND,
      field: "blockSizeBytes",
    });
  }
  const sharedKey = options.key === undefined || options.key === "" ? undefined : new StorageSharedKeyCredential(account, options.key);
  // maxTries 1: withRetries is the one retry loop (per-attempt timeouts inside a total deadline).
  const pipeline = newPipeline(sharedKey ?? new AnonymousCredential(), {
    retryOptions: { maxTries: 1 },
    userAgentOptions: { userAgentPrefix: "stowd" },
  });
  if (daemonTracer() !== undefined) pipeline.factories.push(traceContextPolicy);
  return {
    account,
    endpoint,
    endpointForErrors: endpoint.replace(/\?.*$/, ""),
    policy: { ...defaultRetryPolicy, ...options.retry },
    blockSize,
    concurrency: Math.max(1, options.blockConcurrency ?? 4),
    syncCopyMaxBytes: options.syncCopyMaxBytes ?? 256 * MiB,
    copyPollIntervalMs: options.copyPollIntervalMs ?? 500,
    sharedKey,
    service: new BlobServiceClient(endpoint, pipeline),
    lock: createKeyedLock(),
  };
}

export function containerOf(ctx: AzureContext, ref: Ref): ContainerClient {
  return ctx.service.getContainerClient(ref.container);
}

export function blobOf(ctx: AzureContext, ref: Ref): BlobClient {
  return containerOf(ctx, ref).getBlobClient(ref.key);
}

export function blockBlobOf(ctx: AzureContext, ref: Ref): BlockBlobClient {
  return containerOf(ctx, ref).getBlockBlobClient(ref.key);
}

/** The StowdError for a failed backend call on `ref` (the caller's abort wins). */
export function fail(ctx: AzureContext, err: unknown, ref: Ref, signal: AbortSignal): StowdError {
  return fromAzureError(err, {
    reference: referenceOf(ref),
    signal,
    container: ref.container,
    account: ctx.account,
    endpoint: ctx.endpointForErrors,
  });
}

/** One backend call under the retry policy; SDK errors come back raw for the caller to inspect. */
export function run<T>(
  ctx: AzureContext,
  operation: string,
  ref: Ref,
  signal: AbortSignal,
  idempotent: boolean,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return withRetries(attempt, {
    policy: ctx.policy,
    signal,
    idempotent,
    isRetryable: isRetryableAzureError,
    backend: AZURE_KIND,
    operation: `${operation} ${referenceOf(ref)}`,
  });
}

/** Checks what Azure and this store accept as a container and blob name. */
export function checkRef(ctx: AzureContext, ref: Ref, needsKey: boolean): void {
  const reference = referenceOf(ref);
  const bad = (why: string) =>
    new StowdError("INVALID_REFERENCE", `${reference}: ${why}`, { reference, field: "reference", backend: AZURE_KIND });
  const at = ref.authority.lastIndexOf("@");
  if (at >= 0) {
    const host = ref.authority.slice(at + 1).toLowerCase();
    const hostAccount = host.split(".")[0] ?? "";
    if (hostAccount !== ctx.account.toLowerCase()) {
      throw bad(
        `the reference names storage account "${hostAccount}", which is not the account this azure backend serves; use abfs://container/key or name the daemon's account`,
      );
    }
  }
  if (!/^(\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/.test(ref.container)) {
    throw bad(`"${ref.container}" is not an Azure container name (3-63 lowercase letters, digits and single hyphens)`);
  }
  if (!needsKey) return;
  if (ref.key === "") throw bad("names no object: the key is empty");
  if (ref.key.length > MAX_NAME_LENGTH) throw bad(`the key has ${ref.key.length} characters; Azure allows ${MAX_NAME_LENGTH}`);
  const segments = ref.key.split("/");
  if (segments.length > MAX_SEGMENTS) throw bad(`the key has ${segments.length} path segments; Azure allows ${MAX_SEGMENTS}`);
  // Both would silently store another name: Azure turns '\' into '/' and drops trailing dots of path segments.
  if (ref.key.includes("\\")) throw bad("Azure cannot store '\\' in a key (the service turns it into '/')");
  if (segments.some((segment) => segment.endsWith(".")))
    throw bad("Azure cannot store a path segment that ends with '.' (the service strips trailing dots)");
}

/** Serialises mutations of one blob in this process; waiting for the lock ends when the signal aborts. */
export async function locked<T>(ctx: AzureContext, ref: Ref, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  const reference = referenceOf(ref);
  throwIfAborted(signal, reference);
  let started = false;
  const task = ctx.lock(`${ref.container}\0${ref.key}`, async () => {
    started = true;
    throwIfAborted(signal, reference);
    return fn();
  });
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      if (!started) reject(abortError(signal, reference));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  task.catch(() => {});
  try {
    return await Promise.race([task, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
