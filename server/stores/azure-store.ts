// The azure store (`abfs://`, `abfss://`): Azure Blob Storage through
// @azure/storage-blob. References are `abfs://container@account.dfs.core.windows.net/key`
// (the container is the user part) or `abfs://container/key`.
//
// Writes: a body that fits in one block goes up in one Put Blob call; a
// longer one is cut into blocks that are staged in parallel (bounded) and
// committed once with Put Block List, which carries the preconditions
// (if_not_exists -> If-None-Match: *, if_match_etag -> If-Match: etag,
// if_exists -> If-Match: *). Nothing is visible before that commit; a failed
// or cancelled upload commits nothing, and Azure garbage-collects its
// uncommitted blocks (after a week, or at the blob's next commit).
//
// Append: every object stowd writes is a block blob, so an append stages the
// new bytes as blocks and re-commits the blob's committed block list plus
// those blocks under If-Match on the etag it read (If-None-Match: * when it
// creates the blob). That is atomic and copies no old data. A blob written in
// one Put Blob call has no block list (stowd's small writes, most of Flyte's
// files): its first append re-stages the old content as blocks through stowd
// once. Append blobs made by other tools are appended to natively (Append
// Block with the append-position condition), one block (4 MiB) per call.
//
// Azure keeps one set of uncommitted blocks per blob and drops it whenever
// the blob is committed, so two uploads to one blob must not overlap: this
// process serialises its mutations per blob, and a clash with another
// process is reported as UNAVAILABLE (retry) or, for small appends,
// retried with the retained bytes.
//
// Every backend call runs under withRetries (per-attempt timeout inside a
// total deadline); the SDK's own retry policy is off (maxTries 1) so the two
// do not multiply each other's attempts and delays.
import { createHash, randomBytes, type Hash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AnonymousCredential,
  BlobSASPermissions,
  BlobServiceClient,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  newPipeline,
  type BlobClient,
  type BlobItem,
  type BlobRequestConditions,
  type BlockBlobClient,
  type ContainerClient,
} from "@azure/storage-blob";
import { StowdError, isStowdError, unsupported } from "../../common/errors.js";
import { nextOrAbort } from "../next-or-abort.js";
import { formatReference, type Ref } from "../references/reference.js";
import { abortError, abortable, throwIfAborted } from "./kit/abort.js";
import { KIND, isAzure, isRetryable, toStowdError } from "./azure-errors.js";
import { listUtf8Page, type BackendEntry, type BackendPage } from "./azure-listing.js";
import { flyteContentMd5, fromAzureMetadata, toAzureMetadata, withoutContentMd5 } from "./azure-metadata.js";
import { resolveRange } from "./kit/byte-range.js";
import { contentTypeOrDefault } from "./kit/content-type.js";
import { createKeyedLock } from "./kit/keyed-lock.js";
import { checkEtag, checkPreconditions } from "./kit/preconditions.js";
import type { AppendOptions, Capabilities, DeleteOptions, ListOptions, ListPage, ObjectMeta, Preconditions, RawStore, ReadResult, WriteOptions } from "./raw-store.js";
import { containerKeyIdentity } from "./kit/object-identity.js";
import { defaultRetryPolicy, withRetries, type RetryPolicy } from "./kit/retry.js";

export interface AzureStoreOptions {
  /** Storage account name. */
  account: string;
  /** Shared key (base64). Without it requests are anonymous and URLs cannot be signed. */
  key?: string;
  /**
   * Blob service URL; default `https://<account>.blob.<domainSuffix>`. For
   * azurite: `http://127.0.0.1:PORT/devstoreaccount1`.
   */
  endpoint?: string;
  /** Default "core.windows.net" (the public cloud). */
  domainSuffix?: string;
  /** Retries and timeouts of every backend call; unset fields keep defaultRetryPolicy. */
  retry?: Partial<RetryPolicy>;
  /** Bytes per staged block, and the largest body sent in one Put Blob call; default 8 MiB. */
  blockSizeBytes?: number;
  /** Blocks staged at once per upload; default 4 (stow's upload_concurrency default). */
  blockConcurrency?: number;
  /**
   * Sources up to this size are copied with one synchronous Copy Blob From
   * URL; larger ones with an asynchronous Copy Blob that is polled. Default
   * 256 MiB, Azure's limit for the synchronous copy.
   */
  syncCopyMaxBytes?: number;
  /** Poll interval of an asynchronous copy; default 500 ms. */
  copyPollIntervalMs?: number;
}

const MiB = 1 << 20;
const DEFAULT_BLOCK_BYTES = 8 * MiB;
/** Decoded length of the block ids stowd makes (Azure allows up to 64). */
const BLOCK_ID_BYTES = 48;
const MAX_COMMITTED_BLOCKS = 50_000;
/** Largest Append Block Azure accepts in every service version. */
const APPEND_BLOCK_MAX_BYTES = 4 * MiB;
const MAX_NAME_LENGTH = 1024;
const MAX_SEGMENTS = 254;
const DELETE_CONCURRENCY = 16;
const APPEND_ATTEMPTS = 5;
const SIGNING_CLOCK_SKEW_MS = 5 * 60_000;

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

function quote(etag: string): string {
  return `"${etag}"`;
}

/** The conditions that carry a write's preconditions to Azure. */
function writeConditions(pre: Preconditions): BlobRequestConditions {
  if (pre.ifNotExists) return { ifNoneMatch: "*" };
  if (pre.ifMatchEtag !== undefined) return { ifMatch: quote(pre.ifMatchEtag) };
  if (pre.ifExists) return { ifMatch: "*" };
  return {};
}

function hasPreconditions(pre: Preconditions): boolean {
  return pre.ifNotExists === true || pre.ifExists === true || pre.ifMatchEtag !== undefined;
}

function newBlockId(bytes: number): string {
  return randomBytes(bytes).toString("base64");
}

/** Properties as the SDK reports them on HEAD, GET and listings. */
interface BlobProps {
  contentLength?: number | undefined;
  etag?: string | undefined;
  contentType?: string | undefined;
  contentMD5?: Uint8Array | undefined;
  lastModified?: Date | undefined;
  versionId?: string | undefined;
  metadata?: Record<string, string> | undefined;
}

function toMeta(key: string, props: BlobProps, size = props.contentLength ?? 0): ObjectMeta {
  const metadata = fromAzureMetadata(props.metadata);
  const contentMd5 = props.contentMD5 !== undefined && props.contentMD5.length === 16 ? Uint8Array.from(props.contentMD5) : flyteContentMd5(metadata);
  return {
    key,
    size,
    etag: unquote(props.etag),
    ...(contentMd5 === undefined ? {} : { contentMd5 }),
    contentType: contentTypeOrDefault(props.contentType ?? ""),
    metadata,
    updated: props.lastModified ?? new Date(0),
    generation: props.versionId ?? "",
  };
}

/** `bytes 10-29/2097157` -> { offset 10, size 2097157 }. */
function parseContentRange(contentRange: string | undefined): { offset: number; size: number } | undefined {
  const match = /^bytes (\d+)-\d+\/(\d+)$/.exec(contentRange ?? "");
  return match === null ? undefined : { offset: Number(match[1]), size: Number(match[2]) };
}

/** Cuts a byte stream into blocks of exactly `size` bytes (the last one may be shorter), copying the caller's chunks. */
async function* cutBlocks(body: AsyncIterable<Uint8Array>, size: number, onChunk: (chunk: Uint8Array) => void): AsyncGenerator<Buffer> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of body) {
    onChunk(chunk);
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= size) {
      const joined = Buffer.concat(pending, pendingBytes); // the one copy of the caller's bytes
      let at = 0;
      for (; pendingBytes - at >= size; at += size) yield joined.subarray(at, at + size);
      const rest = joined.subarray(at);
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

interface StagedBlocks {
  ids: string[];
  bytes: number;
  md5: Buffer;
}

interface BlobState {
  exists: boolean;
  blobType: string;
  etag: string;
  size: number;
  contentType: string;
  /** As Azure returned it (already encoded names). */
  rawMetadata: Record<string, string>;
  meta?: ObjectMeta;
  committed: Array<{ name: string; size: number }>;
}

export function createAzureStore(options: AzureStoreOptions): RawStore {
  const account = options.account;
  const endpoint = (options.endpoint ?? `https://${account}.blob.${options.domainSuffix ?? "core.windows.net"}`).replace(/\/+$/, "");
  const endpointForErrors = endpoint.replace(/\?.*$/, "");
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  const blockSize = options.blockSizeBytes ?? DEFAULT_BLOCK_BYTES;
  const concurrency = Math.max(1, options.blockConcurrency ?? 4);
  const syncCopyMaxBytes = options.syncCopyMaxBytes ?? 256 * MiB;
  const copyPollIntervalMs = options.copyPollIntervalMs ?? 500;
  if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > 4000 * MiB) {
    throw new StowdError("INVALID_ARGUMENT", `azure block size ${blockSize} must be from 1 byte to 4000 MiB`, { backend: KIND, field: "blockSizeBytes" });
  }
  const sharedKey = options.key === undefined || options.key === "" ? undefined : new StorageSharedKeyCredential(account, options.key);
  // maxTries 1: withRetries is the one retry loop (per-attempt timeouts inside a total deadline).
  const pipeline = newPipeline(sharedKey ?? new AnonymousCredential(), { retryOptions: { maxTries: 1 }, userAgentOptions: { userAgentPrefix: "stowd" } });
  const service = new BlobServiceClient(endpoint, pipeline);
  const lock = createKeyedLock();

  const capabilities: Capabilities = {
    rangedReads: true,
    append: true,
    conditionalWrites: true,
    signedUrls: sharedKey !== undefined,
    delimiterListing: true,
    serverSideCopy: true,
  };

  const referenceOf = (ref: Ref): string => formatReference(ref, ref.key);
  const containerOf = (ref: Ref): ContainerClient => service.getContainerClient(ref.container);
  const blobOf = (ref: Ref): BlobClient => containerOf(ref).getBlobClient(ref.key);
  const blockBlobOf = (ref: Ref): BlockBlobClient => containerOf(ref).getBlockBlobClient(ref.key);

  function fail(err: unknown, ref: Ref, signal: AbortSignal): StowdError {
    return toStowdError(err, { reference: referenceOf(ref), signal, container: ref.container, account, endpoint: endpointForErrors });
  }

  /** One backend call under the retry policy; SDK errors come back raw for the caller to inspect. */
  function run<T>(operation: string, ref: Ref, signal: AbortSignal, idempotent: boolean, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withRetries(attempt, { policy, signal, idempotent, isRetryable, backend: KIND, operation: `${operation} ${referenceOf(ref)}` });
  }

  /** Checks what Azure and this store accept as a container and blob name. */
  function checkRef(ref: Ref, needsKey: boolean): void {
    const reference = referenceOf(ref);
    const bad = (why: string) => new StowdError("INVALID_REFERENCE", `${reference}: ${why}`, { reference, field: "reference", backend: KIND });
    const at = ref.authority.lastIndexOf("@");
    if (at >= 0) {
      const host = ref.authority.slice(at + 1).toLowerCase();
      const hostAccount = host.split(".")[0] ?? "";
      if (hostAccount !== account.toLowerCase()) {
        throw bad(`the reference names storage account "${hostAccount}", which is not the account this azure backend serves; use abfs://container/key or name the daemon's account`);
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
    if (segments.some((segment) => segment.endsWith("."))) throw bad("Azure cannot store a path segment that ends with '.' (the service strips trailing dots)");
  }

  /** Serialises mutations of one blob in this process; waiting for the lock ends when the signal aborts. */
  async function locked<T>(ref: Ref, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const reference = referenceOf(ref);
    throwIfAborted(signal, reference);
    let started = false;
    const task = lock(`${ref.container}\0${ref.key}`, async () => {
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

  async function getProps(ref: Ref, signal: AbortSignal) {
    try {
      return await run("HEAD", ref, signal, true, (s) => blobOf(ref).getProperties({ abortSignal: s }));
    } catch (err) {
      if (isAzure(err, 404, "BlobNotFound") || isAzure(err, 404, "")) return undefined;
      throw fail(err, ref, signal);
    }
  }

  async function headMeta(ref: Ref, signal: AbortSignal): Promise<ObjectMeta | undefined> {
    const props = await getProps(ref, signal);
    return props === undefined ? undefined : toMeta(ref.key, props);
  }

  async function existingMeta(ref: Ref, signal: AbortSignal): Promise<ObjectMeta> {
    const meta = await headMeta(ref, signal);
    if (meta === undefined) throw new StowdError("NOT_FOUND", `${referenceOf(ref)} does not exist`, { reference: referenceOf(ref), backend: KIND });
    return meta;
  }

  /**
   * After a conditional commit failed (409/412): the error the preconditions
   * give against the blob as it is now, else the mapped backend error.
   */
  async function explainConflict(err: unknown, ref: Ref, pre: Preconditions, signal: AbortSignal): Promise<StowdError> {
    if (!isAzure(err, 409, "BlobAlreadyExists") && !isAzure(err, 412)) return fail(err, ref, signal);
    try {
      checkPreconditions(await headMeta(ref, signal), pre, referenceOf(ref));
    } catch (explained) {
      if (isStowdError(explained)) return explained;
    }
    return fail(err, ref, signal);
  }

  /**
   * Stages `blocks` (after `first`), `concurrency` at a time. The first
   * failed stage aborts `stop`, which also ends the body's iteration.
   */
  async function stageBody(ref: Ref, blocks: AsyncIterable<Buffer>, idBytes: number, md5: Hash, signal: AbortSignal, stop: AbortController, first: Buffer[] = []): Promise<StagedBlocks> {
    const client = blockBlobOf(ref);
    const ids: string[] = [];
    const inFlight = new Set<Promise<void>>();
    const linked = AbortSignal.any([signal, stop.signal]);
    let failure: unknown;
    let bodyError: unknown;
    let bytes = 0;
    const stage = (block: Buffer) => {
      const id = newBlockId(idBytes);
      ids.push(id);
      bytes += block.length;
      const transactionalContentMD5 = createHash("md5").update(block).digest();
      const task: Promise<void> = run("PUT BLOCK", ref, linked, true, (s) => client.stageBlock(id, block, block.length, { abortSignal: s, transactionalContentMD5 }))
        .then(
          () => {},
          (err: unknown) => {
            // After `stop` (a body failure, or another stage's), the aborts that follow are not news.
            if (stop.signal.aborted) return;
            failure = err;
            stop.abort(err);
          },
        )
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
    };
    try {
      for (const block of first) stage(block);
      for await (const block of blocks) {
        while (inFlight.size >= concurrency) await Promise.race(inFlight);
        if (failure !== undefined) break;
        stage(block);
      }
    } catch (err) {
      bodyError = err;
    }
    if (bodyError !== undefined || signal.aborted) stop.abort();
    await Promise.allSettled([...inFlight]);
    // A backend failure explains a body that then stopped; otherwise the body's own error goes up as it is.
    if (failure !== undefined) throw fail(failure, ref, signal);
    if (bodyError !== undefined) throw bodyError;
    throwIfAborted(signal, referenceOf(ref));
    return { ids, bytes, md5: md5.digest() };
  }

  /** Opens a GET; the attempt timeout covers the wait for the answer, not the streaming of the body. */
  async function openDownload(ref: Ref, offset: number, count: number | undefined, ifMatch: string | undefined, signal: AbortSignal) {
    // One controller per attempt: an attempt that timed out aborts its own,
    // and a shared one would make every retry fail at once as "canceled".
    let own = new AbortController();
    try {
      const response = await run("GET", ref, signal, true, async (attemptSignal) => {
        const current = (own = new AbortController());
        const onTimeout = () => current.abort(attemptSignal.reason);
        attemptSignal.addEventListener("abort", onTimeout, { once: true });
        try {
          return await blobOf(ref).download(offset, count, {
            abortSignal: AbortSignal.any([signal, current.signal]),
            // The SDK resumes a broken body from where it stopped, pinned to the etag.
            maxRetryRequests: Math.max(0, policy.attempts - 1),
            ...(ifMatch === undefined ? {} : { conditions: { ifMatch: quote(ifMatch) } }),
          });
        } finally {
          attemptSignal.removeEventListener("abort", onTimeout);
        }
      });
      const stream = response.readableStreamBody as (AsyncIterable<Buffer> & { destroy?: () => void }) | undefined;
      const release = () => {
        own.abort();
        stream?.destroy?.();
      };
      return { response, stream, release };
    } catch (err) {
      own.abort();
      throw err;
    }
  }

  async function write(ref: Ref, body: AsyncIterable<Uint8Array>, options: WriteOptions, signal: AbortSignal): Promise<ObjectMeta> {
    const reference = referenceOf(ref);
    checkRef(ref, true);
    const pre = options.preconditions;
    return locked(ref, signal, async () => {
      // Fail fast, before reading the body; the commit checks again, atomically.
      if (hasPreconditions(pre)) checkPreconditions(await headMeta(ref, signal), pre, reference);
      const md5 = createHash("md5");
      const stop = new AbortController();
      const blocks = cutBlocks(abortable(body, AbortSignal.any([signal, stop.signal]), reference), blockSize, (chunk) => md5.update(chunk));
      const iterator = blocks[Symbol.asyncIterator]();
      const head: Buffer[] = [];
      let next = await iterator.next();
      if (!next.done) {
        head.push(next.value);
        next = await iterator.next();
        if (!next.done) head.push(next.value);
      }
      throwIfAborted(signal, reference);
      const contentType = contentTypeOrDefault(options.contentType);
      const metadata = toAzureMetadata(options.metadata);
      const conditions = writeConditions(pre);
      const client = blockBlobOf(ref);
      const digest = (): Buffer => md5.digest();
      let response: { etag?: string | undefined; lastModified?: Date | undefined; versionId?: string | undefined };
      let size: number;
      let contentMd5: Uint8Array;
      if (head.length < 2) {
        // The whole body fits in one block: one Put Blob call.
        const data = head[0] ?? Buffer.alloc(0);
        contentMd5 = options.contentMd5 ?? digest();
        size = data.length;
        try {
          response = await run("PUT", ref, signal, !hasPreconditions(pre), (s) =>
            client.upload(data, data.length, { abortSignal: s, blobHTTPHeaders: { blobContentType: contentType, blobContentMD5: contentMd5 }, metadata, conditions }),
          );
        } catch (err) {
          throw await explainConflict(err, ref, pre, signal);
        }
      } else {
        const rest: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => iterator };
        const staged = await stageBody(ref, rest, BLOCK_ID_BYTES, md5, signal, stop, head);
        if (staged.ids.length > MAX_COMMITTED_BLOCKS) {
          throw new StowdError("LIMIT_EXCEEDED", `${reference} would need ${staged.ids.length} blocks of ${blockSize} bytes; Azure commits at most ${MAX_COMMITTED_BLOCKS}; nothing was written`, {
            reference,
            size: staged.bytes,
            limit: MAX_COMMITTED_BLOCKS * blockSize,
            backend: KIND,
          });
        }
        contentMd5 = options.contentMd5 ?? staged.md5;
        size = staged.bytes;
        throwIfAborted(signal, reference);
        try {
          response = await run("PUT BLOCK LIST", ref, signal, !hasPreconditions(pre), (s) =>
            client.commitBlockList(staged.ids, { abortSignal: s, blobHTTPHeaders: { blobContentType: contentType, blobContentMD5: contentMd5 }, metadata, conditions }),
          );
        } catch (err) {
          throw await explainConflict(err, ref, pre, signal);
        }
      }
      return {
        key: ref.key,
        size,
        etag: unquote(response.etag),
        contentMd5: Uint8Array.from(contentMd5),
        contentType,
        metadata: { ...options.metadata },
        updated: response.lastModified ?? new Date(),
        generation: response.versionId ?? "",
      };
    });
  }

  /** The blob as an append sees it: properties plus the committed block list of a block blob. */
  async function blobState(ref: Ref, signal: AbortSignal): Promise<BlobState> {
    for (let attempt = 0; ; attempt++) {
      const props = await getProps(ref, signal);
      if (props === undefined) return { exists: false, blobType: "", etag: "", size: 0, contentType: "", rawMetadata: {}, committed: [] };
      const state: BlobState = {
        exists: true,
        blobType: props.blobType ?? "BlockBlob",
        etag: unquote(props.etag),
        size: props.contentLength ?? 0,
        contentType: props.contentType ?? "",
        rawMetadata: { ...props.metadata },
        meta: toMeta(ref.key, props),
        committed: [],
      };
      if (state.blobType !== "BlockBlob") return state;
      let list;
      try {
        list = await run("GET BLOCK LIST", ref, signal, true, (s) => blockBlobOf(ref).getBlockList("committed", { abortSignal: s }));
      } catch (err) {
        if (isAzure(err, 404) && attempt < 3) continue;
        throw fail(err, ref, signal);
      }
      // Two calls: when the blob changed between them, read both again.
      if (unquote(list.etag) !== state.etag) {
        if (attempt < 3) continue;
        throw new StowdError("BACKEND_UNAVAILABLE", `${referenceOf(ref)} kept changing while it was read for an append; nothing was appended`, { reference: referenceOf(ref), backend: KIND });
      }
      state.committed = (list.committedBlocks ?? []).map((b) => ({ name: b.name, size: b.size }));
      return state;
    }
  }

  /** The append preconditions (same semantics as every store). */
  function checkAppend(state: BlobState, options: AppendOptions, reference: string): void {
    if (!state.exists) {
      if (!options.createIfMissing) {
        throw new StowdError("NOT_FOUND", `${reference} does not exist; set create_if_missing to create it by appending`, { reference, backend: KIND });
      }
      if (options.ifMatchEtag !== undefined) checkPreconditions(undefined, { ifMatchEtag: options.ifMatchEtag }, reference);
    } else if (state.meta !== undefined) {
      checkEtag(state.meta, options.ifMatchEtag, reference, "nothing was appended");
    }
    if (options.expectedOffset !== undefined && options.expectedOffset !== state.size) {
      throw new StowdError("PRECONDITION_FAILED", `${reference} has ${state.size} bytes, not the expected offset ${options.expectedOffset}; nothing was appended`, {
        reference,
        size: state.size,
        field: "header.expected_offset",
      });
    }
  }

  /** Native append to an append blob (made by another tool): one Append Block, so at most 4 MiB. */
  async function appendToAppendBlob(ref: Ref, state: BlobState, body: AsyncIterable<Uint8Array>, options: AppendOptions, signal: AbortSignal): Promise<ObjectMeta> {
    const reference = referenceOf(ref);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of abortable(body, signal, reference)) {
      total += chunk.length;
      if (total > APPEND_BLOCK_MAX_BYTES) {
        throw new StowdError(
          "UNSUPPORTED",
          `${reference} is an append blob, which Azure extends one block (${APPEND_BLOCK_MAX_BYTES} bytes) at a time; a larger append could not be atomic; nothing was appended`,
          { reference, size: total, limit: APPEND_BLOCK_MAX_BYTES, backend: KIND },
        );
      }
      chunks.push(chunk);
    }
    throwIfAborted(signal, reference);
    const data = Buffer.concat(chunks, total);
    const meta = state.meta ?? toMeta(ref.key, {});
    if (data.length === 0) return meta;
    try {
      const response = await run("APPEND BLOCK", ref, signal, false, (s) =>
        containerOf(ref)
          .getAppendBlobClient(ref.key)
          .appendBlock(data, data.length, {
            abortSignal: s,
            conditions: {
              ...(options.ifMatchEtag === undefined ? {} : { ifMatch: quote(options.ifMatchEtag) }),
              ...(options.expectedOffset === undefined ? {} : { appendPosition: options.expectedOffset }),
            },
          }),
      );
      const appendedAt = Number(response.blobAppendOffset ?? state.size);
      return { ...meta, size: appendedAt + data.length, etag: unquote(response.etag), updated: response.lastModified ?? new Date() };
    } catch (err) {
      if (isAzure(err, 412)) {
        const now = await blobState(ref, signal);
        checkAppend(now, options, reference);
        throw new StowdError("BACKEND_UNAVAILABLE", `${reference} changed while appending; nothing was appended, retry the call`, { reference, backend: KIND, cause: err });
      }
      throw fail(err, ref, signal);
    }
  }

  /** Stages the current content of a blob that has no usable block list as new blocks, read through stowd. */
  async function restageExisting(ref: Ref, state: BlobState, signal: AbortSignal): Promise<string[]> {
    if (state.size === 0) return [];
    const reference = referenceOf(ref);
    let opened;
    try {
      opened = await openDownload(ref, 0, undefined, state.etag, signal);
    } catch (err) {
      throw fail(err, ref, signal);
    }
    const { stream, release } = opened;
    try {
      if (stream === undefined) throw new StowdError("INTERNAL", `the azure backend sent no body for ${reference}`, { reference, backend: KIND });
      const staged = await stageBody(ref, cutBlocks(abortable(stream, signal, reference), blockSize, () => {}), BLOCK_ID_BYTES, createHash("md5"), signal, new AbortController());
      return staged.ids;
    } finally {
      release();
    }
  }

  /** Whether an append can keep the committed block list, and the block id length to stage with. */
  function appendPlan(state: BlobState): { keep: boolean; idBytes: number } {
    const total = state.committed.reduce((n, b) => n + b.size, 0);
    const lengths = new Set(state.committed.map((b) => Buffer.from(b.name, "base64").length));
    const [length] = lengths;
    const keep = total === state.size && (length === undefined || (lengths.size === 1 && length >= 16 && length <= 64));
    return { keep, idBytes: keep && length !== undefined ? length : BLOCK_ID_BYTES };
  }

  async function append(ref: Ref, body: AsyncIterable<Uint8Array>, options: AppendOptions, signal: AbortSignal): Promise<ObjectMeta> {
    const reference = referenceOf(ref);
    checkRef(ref, true);
    return locked(ref, signal, async () => {
      let state = await blobState(ref, signal);
      checkAppend(state, options, reference); // fail fast, before reading the body
      if (state.exists && state.blobType === "AppendBlob") return appendToAppendBlob(ref, state, body, options, signal);
      if (state.exists && state.blobType !== "BlockBlob") throw unsupported(KIND, `appending to a ${state.blobType} (${reference})`);
      let plan = appendPlan(state);
      const stop = new AbortController();
      const blocks = cutBlocks(abortable(body, AbortSignal.any([signal, stop.signal]), reference), blockSize, () => {});
      const iterator = blocks[Symbol.asyncIterator]();
      const first = await iterator.next();
      const second = first.done ? first : await iterator.next();
      const head = [first, second].flatMap((r) => (r.done ? [] : [r.value]));
      const rest: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => iterator };
      let staged = await stageBody(ref, rest, plan.idBytes, createHash("md5"), signal, stop, head);
      if (staged.bytes === 0 && state.meta !== undefined) return state.meta;
      // A body of one block is kept, so a clash with another writer (whose commit drops our staged blocks) can be retried.
      const retained = head.length === 1 ? head[0] : undefined;
      for (let attempt = 1; ; attempt++) {
        const base = plan.keep ? state.committed.map((b) => b.name) : await restageExisting(ref, state, signal);
        const blockCount = base.length + staged.ids.length;
        if (blockCount > MAX_COMMITTED_BLOCKS) {
          throw new StowdError("LIMIT_EXCEEDED", `${reference} would have ${blockCount} blocks; Azure commits at most ${MAX_COMMITTED_BLOCKS}; rewrite the object to compact it; nothing was appended`, {
            reference,
            limit: MAX_COMMITTED_BLOCKS,
            backend: KIND,
          });
        }
        throwIfAborted(signal, reference);
        const contentType = contentTypeOrDefault(state.exists ? state.contentType : options.contentType);
        const rawMetadata = withoutContentMd5(state.rawMetadata);
        try {
          const response = await run("PUT BLOCK LIST", ref, signal, false, (s) =>
            blockBlobOf(ref).commitBlockList([...base, ...staged.ids], {
              abortSignal: s,
              blobHTTPHeaders: { blobContentType: contentType },
              metadata: rawMetadata,
              conditions: state.exists ? { ifMatch: quote(state.etag) } : { ifNoneMatch: "*" },
            }),
          );
          return {
            key: ref.key,
            size: state.size + staged.bytes,
            etag: unquote(response.etag),
            contentType,
            metadata: fromAzureMetadata(rawMetadata),
            updated: response.lastModified ?? new Date(),
            generation: response.versionId ?? "",
          };
        } catch (err) {
          const clash = isAzure(err, 412) || isAzure(err, 409, "BlobAlreadyExists") || isAzure(err, 400, "InvalidBlockList");
          if (!clash) throw fail(err, ref, signal);
          // Another writer committed the blob: check the caller's conditions against it, then try again.
          state = await blobState(ref, signal);
          checkAppend(state, options, reference);
          if (attempt >= APPEND_ATTEMPTS || retained === undefined) {
            throw new StowdError("BACKEND_UNAVAILABLE", `${reference} was changed by another writer during the append; nothing was appended, retry the call`, {
              reference,
              backend: KIND,
              cause: err,
            });
          }
          plan = appendPlan(state);
          staged = await stageBody(ref, (async function* () {})(), plan.idBytes, createHash("md5"), signal, new AbortController(), [retained]);
        }
      }
    });
  }

  async function list(prefix: Ref, options: ListOptions, signal: AbortSignal): Promise<ListPage> {
    checkRef(prefix, false);
    const reference = referenceOf(prefix);
    const container = containerOf(prefix);
    const fetch = async (marker: string, maxResults: number): Promise<BackendPage<BlobItem>> => {
      try {
        return await run("LIST", prefix, signal, true, async (s) => {
          const settings = { prefix: prefix.key, includeMetadata: true, abortSignal: s };
          const pages =
            options.delimiter === ""
              ? container.listBlobsFlat(settings).byPage({ maxPageSize: maxResults, ...(marker === "" ? {} : { continuationToken: marker }) })
              : container.listBlobsByHierarchy(options.delimiter, settings).byPage({ maxPageSize: maxResults, ...(marker === "" ? {} : { continuationToken: marker }) });
          const next = await pages.next();
          if (next.done === true) return { entries: [], marker: "" };
          const segment = next.value.segment as { blobItems?: BlobItem[]; blobPrefixes?: Array<{ name: string }> };
          const entries: Array<BackendEntry<BlobItem>> = [
            ...(segment.blobItems ?? []).map((item) => ({ name: item.name, isPrefix: false, item })),
            ...(segment.blobPrefixes ?? []).map((p) => ({ name: p.name, isPrefix: true })),
          ];
          return { entries, marker: next.value.continuationToken ?? "" };
        });
      } catch (err) {
        throw fail(err, prefix, signal);
      }
    };
    const page = await listUtf8Page(fetch, prefix.key, options, reference);
    return {
      objects: page.entries.flatMap((e) => (e.item === undefined ? [] : [toMeta(e.name, { ...e.item.properties, metadata: e.item.metadata, versionId: e.item.versionId })])),
      commonPrefixes: page.entries.filter((e) => e.isPrefix).map((e) => e.name),
      nextPageToken: page.nextPageToken,
    };
  }

  async function remove(ref: Ref, options: DeleteOptions, signal: AbortSignal): Promise<boolean> {
    checkRef(ref, true);
    return locked(ref, signal, async () => {
      try {
        await run("DELETE", ref, signal, true, (s) =>
          blobOf(ref).delete({ abortSignal: s, deleteSnapshots: "include", ...(options.ifMatchEtag === undefined ? {} : { conditions: { ifMatch: quote(options.ifMatchEtag) } }) }),
        );
        return true;
      } catch (err) {
        if (isAzure(err, 404, "BlobNotFound")) return false;
        if (isAzure(err, 412) && options.ifMatchEtag !== undefined) {
          const current = await headMeta(ref, signal);
          if (current === undefined) return false;
          checkEtag(current, options.ifMatchEtag, referenceOf(ref), "nothing was deleted");
        }
        throw fail(err, ref, signal);
      }
    });
  }

  return {
    kind: KIND,
    identity: containerKeyIdentity,
    capabilities,

    async head(ref, signal) {
      checkRef(ref, true);
      return headMeta(ref, signal);
    },

    async read(ref, options, signal): Promise<ReadResult> {
      const reference = referenceOf(ref);
      checkRef(ref, true);
      const range = options.range;
      const empty = (meta: ObjectMeta, offset: number): ReadResult => ({
        meta,
        offset,
        length: 0,
        body: (async function* () {})(),
        close: async () => {},
      });
      for (let attempt = 1; ; attempt++) {
        let offset = 0;
        let count: number | undefined;
        let known: ObjectMeta | undefined;
        if (range !== undefined && range.suffixLength > 0) {
          // A suffix needs the size first; the GET then pins the version by etag.
          known = await existingMeta(ref, signal);
          checkEtag(known, options.ifMatchEtag, reference, "nothing was read");
          const resolved = resolveRange(range, known.size, reference);
          if (resolved.length === 0) return empty(known, resolved.offset);
          offset = resolved.offset;
          count = resolved.length;
        } else if (range !== undefined) {
          offset = range.offset;
          count = range.length === 0 ? undefined : range.length;
        }
        const ifMatch = known?.etag ?? options.ifMatchEtag;
        let opened;
        try {
          opened = await openDownload(ref, offset, count, ifMatch, signal);
        } catch (err) {
          if (isAzure(err, 416)) {
            // Past the end, or any range of an empty blob: resolveRange decides which.
            const current = await existingMeta(ref, signal);
            checkEtag(current, options.ifMatchEtag, reference, "nothing was read");
            const resolved = resolveRange(range, current.size, reference);
            if (resolved.length === 0) return empty(current, resolved.offset);
            if (attempt < 3) continue; // it grew meanwhile
          }
          if (isAzure(err, 412)) {
            const current = await existingMeta(ref, signal);
            checkEtag(current, options.ifMatchEtag, reference, "nothing was read");
            if (known !== undefined && attempt < 3) continue; // replaced between HEAD and GET
          }
          throw fail(err, ref, signal);
        }
        const { response, stream, release } = opened;
        const served = parseContentRange(response.contentRange);
        const length = response.contentLength ?? 0;
        // The SDK's download response exposes its fields as getters: pick them, do not spread.
        const props: BlobProps = {
          etag: response.etag,
          contentType: response.contentType,
          contentMD5: response.blobContentMD5 ?? (served === undefined ? response.contentMD5 : undefined),
          lastModified: response.lastModified,
          versionId: response.versionId,
          metadata: response.metadata,
        };
        const meta = toMeta(ref.key, props, served?.size ?? length);
        if (range !== undefined && range.suffixLength === 0) {
          try {
            resolveRange(range, meta.size, reference); // azurite serves 0 bytes at offset == size where Azure answers 416
          } catch (err) {
            release();
            throw err;
          }
        }
        if (stream === undefined || length === 0) {
          release();
          return empty(meta, served?.offset ?? offset);
        }
        // Each wait for the next chunk gets the attempt timeout, so a backend that stalls mid-body fails the read.
        const stalled = () =>
          new StowdError("DEADLINE_EXCEEDED", `the azure backend stopped sending ${reference} for ${policy.attemptTimeoutMs} ms`, { reference, backend: KIND });
        async function* body(source: AsyncIterable<Buffer>): AsyncGenerator<Uint8Array> {
          const it = source[Symbol.asyncIterator]();
          const idle = new AbortController();
          const waiting = AbortSignal.any([signal, idle.signal]);
          try {
            for (;;) {
              const timer = setTimeout(() => idle.abort(), policy.attemptTimeoutMs);
              let next: IteratorResult<Buffer>;
              try {
                next = await nextOrAbort(it, waiting, () => (signal.aborted ? abortError(signal, reference) : stalled()));
              } finally {
                clearTimeout(timer);
              }
              if (next.done === true) return;
              yield next.value;
            }
          } catch (err) {
            throw fail(err, ref, signal);
          } finally {
            release();
          }
        }
        return { meta, offset: served?.offset ?? offset, length, body: body(stream), close: async () => release() };
      }
    },

    write,

    append,

    list,

    delete: remove,

    async deletePrefix(prefix, signal) {
      checkRef(prefix, false);
      let count = 0;
      let pageToken = "";
      do {
        const page = await list(prefix, { pageSize: 1000, pageToken, delimiter: "" }, signal);
        const keys = page.objects.map((o) => o.key);
        let next = 0;
        const worker = async () => {
          while (next < keys.length) {
            const key = keys[next++] ?? "";
            if (await remove({ ...prefix, key }, {}, signal)) count++;
          }
        };
        await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return count;
    },

    async copy(source, destination, options, signal) {
      const reference = referenceOf(destination);
      checkRef(source, true);
      checkRef(destination, true);
      const pre = options.preconditions;
      return locked(destination, signal, async () => {
        const from = await existingMeta(source, signal);
        checkEtag(from, options.ifSourceMatchEtag, referenceOf(source), "nothing was copied");
        if (hasPreconditions(pre)) checkPreconditions(await headMeta(destination, signal), pre, reference);
        // A short-lived read SAS on the source: Copy Blob From URL needs one even within the account.
        let sourceUrl = blobOf(source).url;
        if (sharedKey !== undefined) {
          const sas = generateBlobSASQueryParameters(
            {
              containerName: source.container,
              blobName: source.key,
              permissions: BlobSASPermissions.parse("r"),
              startsOn: new Date(Date.now() - SIGNING_CLOCK_SKEW_MS),
              expiresOn: new Date(Date.now() + Math.max(15 * 60_000, policy.totalTimeoutMs * 2)),
            },
            sharedKey,
          );
          sourceUrl += `?${sas.toString()}`;
        }
        const conditions = writeConditions(pre);
        const sourceConditions = { ifMatch: quote(from.etag) };
        const target = blobOf(destination);
        let response: { etag?: string | undefined; lastModified?: Date | undefined; versionId?: string | undefined };
        try {
          if (from.size <= syncCopyMaxBytes) {
            response = await run("COPY", destination, signal, !hasPreconditions(pre), (s) => target.syncCopyFromURL(sourceUrl, { abortSignal: s, conditions, sourceConditions }));
          } else {
            // Larger sources: an asynchronous copy, polled here (the SDK's poller takes no abort signal).
            const poller = await run("COPY", destination, signal, false, (s) => target.beginCopyFromURL(sourceUrl, { abortSignal: s, conditions, sourceConditions }));
            poller.stopPolling();
            for (;;) {
              const props = await run("HEAD", destination, signal, true, (s) => target.getProperties({ abortSignal: s }));
              if (props.copyStatus === "success") {
                response = props;
                break;
              }
              if (props.copyStatus !== "pending") {
                throw new StowdError("BACKEND_UNAVAILABLE", `the azure copy to ${reference} ended with status ${props.copyStatus ?? "unknown"} (${props.copyStatusDescription ?? ""})`, {
                  reference,
                  backend: KIND,
                });
              }
              await sleep(copyPollIntervalMs, undefined, { signal }).catch(() => throwIfAborted(signal, reference));
            }
          }
        } catch (err) {
          if (isAzure(err, 412) || isAzure(err, 404)) {
            // The source changed or vanished meanwhile, or a destination condition failed.
            const now = await headMeta(source, signal);
            if (now === undefined) throw new StowdError("NOT_FOUND", `${referenceOf(source)} does not exist`, { reference: referenceOf(source), backend: KIND });
            if (now.etag !== from.etag) {
              throw new StowdError("PRECONDITION_FAILED", `${referenceOf(source)} changed while it was copied; nothing was copied, retry the call`, { reference: referenceOf(source), backend: KIND });
            }
          }
          throw await explainConflict(err, destination, pre, signal);
        }
        return { ...from, key: destination.key, etag: unquote(response.etag), updated: response.lastModified ?? new Date(), generation: response.versionId ?? "" };
      });
    },

    async signUrl(ref, options) {
      const reference = referenceOf(ref);
      checkRef(ref, true);
      if (sharedKey === undefined) {
        throw new StowdError("UNSUPPORTED", `the azure backend signs URLs with the account key, and none is configured (stow.config.key); cannot sign ${reference}`, { reference, backend: KIND });
      }
      const now = Date.now();
      const expires = new Date(now + options.expiresInSeconds * 1000);
      const sas = generateBlobSASQueryParameters(
        {
          containerName: ref.container,
          blobName: ref.key,
          // PUT: create a new blob or overwrite one, nothing else.
          permissions: BlobSASPermissions.parse(options.method === "GET" ? "r" : "cw"),
          startsOn: new Date(now - SIGNING_CLOCK_SKEW_MS),
          expiresOn: expires,
          protocol: endpoint.startsWith("https:") ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
        },
        sharedKey,
      );
      const requiredHeaders: Record<string, string> = {};
      if (options.method === "PUT") {
        requiredHeaders["x-ms-blob-type"] = "BlockBlob";
        if (options.contentType !== "") requiredHeaders["Content-Type"] = options.contentType;
        if (options.contentMd5 !== undefined) requiredHeaders["Content-MD5"] = Buffer.from(options.contentMd5).toString("base64");
      }
      return { url: `${blobOf(ref).url}?${sas.toString()}`, requiredHeaders, expires };
    },

    async close() {
      // The SDK holds no resources beyond keep-alive sockets, which close when idle.
    },
  };
}
