// The RawStoreService implementation, written once and served by both
// transports (grpc-js on the gRPC port, connect-node on the HTTP port)
// through the call pipeline (server/calls/call-pipeline.ts), which hands
// WriteRaw and Append their stream's header and chunks. It parses and
// validates requests, calls the store tree, and shapes responses; it holds
// no storage logic of its own.
//
// server.maxUploadMBs bounds every object a call creates or grows, on every
// backend: WriteRaw's body, the object an Append leaves (old size + appended
// bytes), and the object a CopyRaw creates (the source's size). An Append
// pins the size it checked (expected_offset) so that no other writer can
// slip in between the check and the commit, and a CopyRaw pins the source's
// etag for the same reason.
import type { HandlerContext } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { CALLER, callerInfoOf } from "../security/caller.js";
import { type ReadRawResponseSchema, type RawStoreService, SignedUrlMethod } from "../../gen/stowd/v1/raw_store_pb.js";
import { StowdError, isStowdError } from "../../common/errors.js";
import { constructReference, formatReference, parsePrefixReference, parseReference, type Ref } from "../references/reference.js";
import type { StoreTree } from "../decorators/store-tree.js";
import { createKeyedLock } from "../stores/kit/keyed-lock.js";
import { checkEtag } from "../stores/kit/preconditions.js";
import { MAX_SIGNED_URL_SECONDS } from "../stores/kit/signed-urls.js";
import type { AppendOptions, CopyOptions, ObjectMeta } from "../stores/raw-store.js";
import type { CallHandlers } from "../calls/call-pipeline.js";
import { checkBody, type CheckedBody, type DeclaredCrc32c } from "./checked-body.js";
import { frameReadChunks, type ReadFraming } from "./read-framing.js";
import { toObjectInfo } from "./object-info.js";
import { requestEndOf } from "../calls/request-end.js";
import {
  optionalString,
  toSafeNumber,
  validateContentType,
  validateMd5,
  validateMetadata,
  validatePreconditions,
  validateRange,
} from "./validate-request.js";

export interface ServiceLimits {
  /** Largest object WriteRaw stores, an Append leaves or a CopyRaw creates; 0 = unlimited. */
  maxUploadBytes: number;
  /** Largest message either listener accepts. */
  maxMessageBytes: number;
}

export interface RawStoreServiceOptions {
  tree: StoreTree;
  version: string;
  limits: ServiceLimits;
  /** Whether calls are authenticated (GetServerInfo's caller.auth_enabled). */
  authEnabled: boolean;
}

/** ReadRaw message sizes: large enough for throughput, far below message limits. */
export const READ_FRAMING: ReadFraming = { minBytes: 256 * 1024, maxBytes: 1024 * 1024 };
const DEFAULT_PAGE_SIZE = 1000;
/** Attempts of a bounded CopyRaw whose source keeps changing between the size check and the copy. */
const COPY_ATTEMPTS = 3;

export function createRawStoreService(options: RawStoreServiceOptions): CallHandlers<typeof RawStoreService> {
  const { version, limits } = options;
  const { root: store, router } = options.tree;
  /** Bounded appends to one object through this daemon queue, so their pinned offsets do not collide. */
  const appendLock = createKeyedLock();

  /**
   * An Append under server.maxUploadMBs: the object's current size is
   * checked with the appended bytes as they arrive, and pinned as the
   * expected offset so that the store commits only onto the object that was
   * checked. A conflict the caller did not ask about (another writer changed
   * the object meanwhile) is a retryable UNAVAILABLE, as on the backends that
   * detect it themselves.
   */
  async function boundedAppend(
    ref: Ref,
    reference: string,
    chunks: AsyncIterable<Uint8Array>,
    body: (chunks: AsyncIterable<Uint8Array>) => CheckedBody,
    appendOptions: AppendOptions,
    signal: AbortSignal,
  ): Promise<ObjectMeta> {
    const maxBytes = limits.maxUploadBytes;
    return appendLock(store.identity(ref), async () => {
      const base = appendOptions.expectedOffset ?? (await store.head(ref, signal))?.size ?? 0;
      async function* withinLimit(): AsyncGenerator<Uint8Array> {
        let size = base;
        for await (const chunk of chunks) {
          size += chunk.length;
          if (size > maxBytes)
            throw uploadLimitExceeded(
              `the append to ${reference} would make it ${size} bytes, which`,
              reference,
              size,
              maxBytes,
              "nothing was appended",
            );
          yield chunk;
        }
      }
      try {
        const checked = body(withinLimit());
        return await store.append(ref, checked.body, { ...appendOptions, expectedOffset: base, crc32c: checked.crc32c }, signal);
      } catch (err) {
        const pinnedByUs = appendOptions.expectedOffset === undefined && appendOptions.ifMatchEtag === undefined;
        if (!pinnedByUs || !isStowdError(err, "PRECONDITION_FAILED")) throw err;
        throw new StowdError(
          "BACKEND_UNAVAILABLE",
          `${reference} was changed by another writer during the append; nothing was appended, retry the call`,
          {
            reference,
            cause: err,
          },
        );
      }
    });
  }

  /**
   * A CopyRaw under server.maxUploadMBs: the source's size is checked, and
   * its etag pinned so that the copy is of the object that was checked. A
   * source that changes in between is checked again.
   */
  async function boundedCopy(
    source: Ref,
    destination: Ref,
    req: { sourceReference: string; destinationReference: string },
    copyOptions: CopyOptions,
    signal: AbortSignal,
  ): Promise<ObjectMeta> {
    const maxBytes = limits.maxUploadBytes;
    for (let attempt = 1; ; attempt++) {
      const meta = await store.head(source, signal);
      if (meta === undefined) {
        throw new StowdError("NOT_FOUND", `${req.sourceReference} does not exist; nothing was copied`, { reference: req.sourceReference });
      }
      checkEtag(meta, copyOptions.ifSourceMatchEtag, req.sourceReference, "nothing was copied");
      if (meta.size > maxBytes) {
        throw uploadLimitExceeded(
          `the copy of ${req.sourceReference} (${meta.size} bytes) to ${req.destinationReference}`,
          req.destinationReference,
          meta.size,
          maxBytes,
          "nothing was copied",
        );
      }
      try {
        return await store.copy(source, destination, { ...copyOptions, ifSourceMatchEtag: meta.etag }, signal);
      } catch (err) {
        if (copyOptions.ifSourceMatchEtag !== undefined || !isStowdError(err, "PRECONDITION_FAILED")) throw err;
        // Ours or the destination's precondition? Ours only if the source changed.
        if ((await store.head(source, signal))?.etag === meta.etag) throw err;
        if (attempt >= COPY_ATTEMPTS) {
          throw new StowdError(
            "BACKEND_UNAVAILABLE",
            `${req.sourceReference} kept changing during the copy (${attempt} attempts); nothing was copied, retry the call`,
            {
              reference: req.sourceReference,
              cause: err,
            },
          );
        }
      }
    }
  }

  return {
    async *readRaw(req, ctx: HandlerContext): AsyncGenerator<MessageInitShape<typeof ReadRawResponseSchema>> {
      const ref = parseReference(req.reference);
      const range = validateRange(req.range, "range");
      const ifMatchEtag = optionalString(req.ifMatchEtag);
      if (req.ifNoneMatchEtag !== "") {
        // Answer "not modified" from the current etag without opening a read.
        const meta = await store.head(ref, ctx.signal);
        if (meta !== undefined && meta.etag === req.ifNoneMatchEtag && (ifMatchEtag === undefined || ifMatchEtag === meta.etag)) {
          yield { body: { case: "header", value: { info: toObjectInfo(ref, meta), offset: 0n, length: 0n, notModified: true } } };
          return;
        }
      }
      const opened = await store.read(
        ref,
        { ...(range === undefined ? {} : { range }), ...(ifMatchEtag === undefined ? {} : { ifMatchEtag }) },
        ctx.signal,
      );
      try {
        const info = toObjectInfo(ref, opened.meta);
        yield { body: { case: "header", value: { info, offset: BigInt(opened.offset), length: BigInt(opened.length) } } };
        let sent = 0;
        for await (const chunk of frameReadChunks(opened.body, READ_FRAMING)) {
          sent += chunk.length;
          yield { body: { case: "chunk", value: chunk } };
        }
        if (sent !== opened.length) {
          // Never end a short stream with OK: the object changed underneath.
          throw new StowdError("INTERNAL", `${req.reference} yielded ${sent} bytes instead of ${opened.length}; the read was aborted`, {
            reference: req.reference,
            size: sent,
            limit: opened.length,
            backend: router.backendFor(ref.scheme).kind,
          });
        }
      } finally {
        await opened.close();
      }
    },

    async writeRaw(stream, ctx) {
      const h = stream.header;
      const ref = parseReference(h.reference, "header.reference");
      refuseContainerReference(ref.key, h.reference, "header.reference");
      const declaredSize = h.size === undefined ? undefined : toSafeNumber(h.size, "header.size");
      if (declaredSize !== undefined && limits.maxUploadBytes > 0 && declaredSize > limits.maxUploadBytes) {
        throw uploadLimitExceeded(
          `the declared size of ${h.reference} (${declaredSize} bytes)`,
          h.reference,
          declaredSize,
          limits.maxUploadBytes,
          "nothing was stored",
        );
      }
      const contentMd5 = validateMd5(h.contentMd5, "header.content_md5");
      const headerCrc32c: DeclaredCrc32c | undefined = h.crc32c === undefined ? undefined : { value: h.crc32c, field: "header.crc32c" };
      const checked = checkBody(stream.chunks, {
        reference: h.reference,
        signal: ctx.signal,
        end: requestEndOf(ctx.values, h.reference),
        maxBytes: limits.maxUploadBytes,
        ...(declaredSize === undefined ? {} : { declaredSize }),
        ...(contentMd5 === undefined ? {} : { md5: contentMd5 }),
        ...(headerCrc32c === undefined ? {} : { crc32c: headerCrc32c }),
        trailerCrc32c: () => trailerCrc32c(stream.trailer(), headerCrc32c, h.reference),
      });
      const writeOptions = {
        contentType: validateContentType(h.contentType, "header.content_type"),
        metadata: validateMetadata(h.metadata, "header.metadata"),
        preconditions: validatePreconditions(h.preconditions, "header.preconditions"),
        ...(contentMd5 === undefined ? {} : { contentMd5 }),
        ...(declaredSize === undefined ? {} : { size: declaredSize }),
        crc32c: checked.crc32c,
      };
      const meta = await store.write(ref, checked.body, writeOptions, ctx.signal);
      return { info: toObjectInfo(ref, meta) };
    },

    async append(stream, ctx) {
      const h = stream.header;
      const ref = parseReference(h.reference, "header.reference");
      refuseContainerReference(ref.key, h.reference, "header.reference");
      const expectedOffset = h.expectedOffset === undefined ? undefined : toSafeNumber(h.expectedOffset, "header.expected_offset");
      const ifMatchEtag = optionalString(h.ifMatchEtag);
      const appendOptions: AppendOptions = {
        createIfMissing: h.createIfMissing,
        contentType: validateContentType(h.contentType, "header.content_type"),
        ...(expectedOffset === undefined ? {} : { expectedOffset }),
        ...(ifMatchEtag === undefined ? {} : { ifMatchEtag }),
      };
      const body = (chunks: AsyncIterable<Uint8Array>) =>
        checkBody(chunks, {
          reference: h.reference,
          signal: ctx.signal,
          end: requestEndOf(ctx.values, h.reference),
          maxBytes: limits.maxUploadBytes,
          ...(h.crc32c === undefined ? {} : { crc32c: { value: h.crc32c, field: "header.crc32c" } }),
        });
      let meta: ObjectMeta;
      if (limits.maxUploadBytes > 0) {
        meta = await boundedAppend(ref, h.reference, stream.chunks, body, appendOptions, ctx.signal);
      } else {
        const checked = body(stream.chunks);
        meta = await store.append(ref, checked.body, { ...appendOptions, crc32c: checked.crc32c }, ctx.signal);
      }
      return { info: toObjectInfo(ref, meta) };
    },

    async head(req, ctx) {
      const ref = parseReference(req.reference);
      refuseContainerReference(ref.key, req.reference, "reference");
      const meta = await store.head(ref, ctx.signal);
      return meta === undefined ? { exists: false } : { exists: true, info: toObjectInfo(ref, meta) };
    },

    async list(req, ctx) {
      const prefix = parsePrefixReference(req.reference);
      if (req.pageSize < 0)
        throw invalidArgument("page_size", `must not be negative (got ${req.pageSize}); 0 means the default of ${DEFAULT_PAGE_SIZE}`);
      const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, DEFAULT_PAGE_SIZE);
      const backend = router.backendFor(prefix.scheme);
      if (req.delimiter !== "" && !backend.capabilities.delimiterListing) {
        throw new StowdError("UNSUPPORTED", `the ${backend.kind} backend cannot list with a delimiter`, { field: "delimiter" });
      }
      if (req.delimiter.length > 16 || [...req.delimiter].some((c) => c < " ")) {
        throw invalidArgument("delimiter", 'must be at most 16 printable characters, usually "/"');
      }
      const page = await store.list(prefix, { pageSize, pageToken: req.pageToken, delimiter: req.delimiter }, ctx.signal);
      return {
        objects: page.objects.map((meta) => toObjectInfo(prefix, meta)),
        commonPrefixes: page.commonPrefixes.map((key) => formatReference(prefix, key)),
        nextPageToken: page.nextPageToken,
      };
    },

    async delete(req, ctx) {
      const ref = parseReference(req.reference);
      refuseContainerReference(ref.key, req.reference, "reference");
      const ifMatchEtag = optionalString(req.ifMatchEtag);
      const existed = await store.delete(ref, ifMatchEtag === undefined ? {} : { ifMatchEtag }, ctx.signal);
      if (!existed && !req.allowMissing) {
        throw new StowdError("NOT_FOUND", `${req.reference} does not exist (set allow_missing to treat that as success)`, {
          reference: req.reference,
        });
      }
      return {};
    },

    async deletePrefix(req, ctx) {
      const prefix = parsePrefixReference(req.reference);
      if (prefix.key === "") {
        throw invalidArgument(
          "reference",
          `the prefix ${JSON.stringify(req.reference)} names a whole container; DeletePrefix needs a non-empty key prefix`,
        );
      }
      const deleted = await store.deletePrefix(prefix, ctx.signal);
      return { deletedCount: BigInt(deleted) };
    },

    async copyRaw(req, ctx) {
      const source = parseReference(req.sourceReference, "source_reference");
      const destination = parseReference(req.destinationReference, "destination_reference");
      refuseContainerReference(source.key, req.sourceReference, "source_reference");
      refuseContainerReference(destination.key, req.destinationReference, "destination_reference");
      const ifSourceMatchEtag = optionalString(req.ifSourceMatchEtag);
      const copyOptions = {
        preconditions: validatePreconditions(req.preconditions, "preconditions"),
        ...(ifSourceMatchEtag === undefined ? {} : { ifSourceMatchEtag }),
      };
      const meta =
        limits.maxUploadBytes > 0
          ? await boundedCopy(source, destination, req, copyOptions, ctx.signal)
          : await store.copy(source, destination, copyOptions, ctx.signal);
      return { info: toObjectInfo(destination, meta) };
    },

    async createSignedUrl(req, ctx) {
      const ref = parseReference(req.reference);
      refuseContainerReference(ref.key, req.reference, "reference");
      const method = req.method === SignedUrlMethod.GET ? "GET" : req.method === SignedUrlMethod.PUT ? "PUT" : undefined;
      if (method === undefined) throw invalidArgument("method", "must be SIGNED_URL_METHOD_GET or SIGNED_URL_METHOD_PUT");
      const seconds = req.expiresIn === undefined ? 0 : Number(req.expiresIn.seconds) + req.expiresIn.nanos / 1e9;
      if (!(seconds > 0 && seconds <= MAX_SIGNED_URL_SECONDS)) {
        throw invalidArgument("expires_in", `must be positive and at most 7 days (got ${seconds} s)`);
      }
      const contentMd5 = validateMd5(req.contentMd5, "content_md5");
      const contentLength = req.contentLength === undefined ? undefined : toSafeNumber(req.contentLength, "content_length");
      if (contentLength !== undefined && limits.maxUploadBytes > 0 && contentLength > limits.maxUploadBytes) {
        throw uploadLimitExceeded(
          `the content_length of ${req.reference} (${contentLength} bytes)`,
          req.reference,
          contentLength,
          limits.maxUploadBytes,
          "no URL was signed",
        );
      }
      // A daemon-signed URL names its signer, so that its grants can be checked again when the URL is used.
      const signer = ctx.values.get(CALLER)?.name;
      const signed = await store.signUrl(
        ref,
        {
          method,
          expiresInSeconds: Math.ceil(seconds),
          contentType: validateContentType(req.contentType, "content_type"),
          ...(contentMd5 === undefined ? {} : { contentMd5 }),
          ...(contentLength === undefined ? {} : { contentLength }),
          ...(signer === undefined ? {} : { signer }),
        },
        ctx.signal,
      );
      return { url: signed.url, requiredHeaders: signed.requiredHeaders, expireTime: timestampFromDate(signed.expires) };
    },

    constructReference(req) {
      return { reference: constructReference(req.baseReference, req.nestedKeys) };
    },

    splitReference(req) {
      const ref = parseReference(req.reference);
      return { scheme: ref.scheme, container: ref.container, key: ref.key };
    },

    getServerInfo(_req, ctx) {
      return {
        caller: callerInfoOf(ctx, options.authEnabled),
        version,
        backends: router.routes.map(({ scheme, backend }) => ({
          scheme,
          kind: backend.kind,
          capabilities: backend.capabilities,
          baseContainerReference: backend.baseContainerReference,
        })),
        limits: {
          maxDownloadBytes: BigInt(options.tree.maxDownloadBytes),
          maxUploadBytes: BigInt(limits.maxUploadBytes),
          maxMessageBytes: BigInt(limits.maxMessageBytes),
        },
      };
    },
  };
}

/** RESOURCE_EXHAUSTED for server.maxUploadMBs, worded like the streamed WriteRaw check (checked-body.ts). */
function uploadLimitExceeded(what: string, reference: string, size: number, maxBytes: number, nothing: string): StowdError {
  return new StowdError(
    "LIMIT_EXCEEDED",
    `${what} exceeds the upload limit of ${maxBytes} bytes (server.maxUploadMBs = ${maxBytes / 2 ** 20}); ${nothing}`,
    {
      reference,
      size,
      limit: maxBytes,
    },
  );
}

/** The CRC32C a WriteRaw trailer declares; INVALID_ARGUMENT when the header declared one too. */
function trailerCrc32c(
  trailer: { crc32c?: number | undefined } | undefined,
  header: DeclaredCrc32c | undefined,
  reference: string,
): DeclaredCrc32c | undefined {
  if (trailer?.crc32c === undefined) return undefined;
  if (header !== undefined) {
    throw invalidArgument(
      "trailer.crc32c",
      `the upload to ${reference} declared its CRC32C in both the header and the trailer; set it in one of them; nothing was stored`,
    );
  }
  return { value: trailer.crc32c, field: "trailer.crc32c" };
}

function invalidArgument(field: string, message: string): StowdError {
  return new StowdError("INVALID_ARGUMENT", `${field}: ${message}`, { field });
}

/** Object RPCs need a key: `s3://bucket` alone names no object. */
function refuseContainerReference(key: string, reference: string, field: string): void {
  if (key === "") {
    throw new StowdError(
      "INVALID_REFERENCE",
      `invalid reference ${JSON.stringify(reference)}: it names a container, not an object; add a key (scheme://container/key)`,
      {
        reference,
        field,
      },
    );
  }
}
