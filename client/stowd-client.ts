// The stowd SDK's calls: one object with a method per operation, over the
// generated service descriptors and any connect Transport. Every failure
// surfaces as a StowdClientError; every call takes an AbortSignal and a
// deadline. Platform-neutral: the entry points (index.ts for Node,
// browser.ts) choose the transport and the CRC32C implementation and add
// what only their platform has (Node streams).
import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { anyPack, anyUnpack, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Transport } from "@connectrpc/connect";
import { ErrorReason } from "../gen/stowd/v1/error_pb.js";
import type { ObjectInfo as ObjectInfoMessage } from "../gen/stowd/v1/object_pb.js";
import { ProtobufStoreService } from "../gen/stowd/v1/protobuf_store_pb.js";
import { RawStoreService, SignedUrlMethod } from "../gen/stowd/v1/raw_store_pb.js";
import { type WriteBody, prepareBody } from "./body.js";
import { type ByteCount, type CallOptions, toInt64, withTimeout } from "./call-options.js";
import { clientError, toStowdError } from "./client-error.js";
import type { Crc32cFactory } from "./crc32c.js";
import { type ObjectInfo, toObjectInfo } from "./object-info.js";
import { type ReadContext, type ReadHandle, type ReadOptions, collect, openRead, readableStreamOf } from "./read.js";
import { type AttemptOptions, type RetryOptions, createRetrier, retrySettings, retrying } from "./retry.js";
import { toSafeNumber } from "./safe-number.js";
import { type ServerInfo, toServerInfo } from "./server-info.js";

/** Retry and checksum settings; every entry point's client options include them. */
export interface ReliabilityOptions {
  /**
   * Retries of idempotent calls (head, list pages, reads and their
   * resumption, delete with allowMissing, reference calls, serverInfo,
   * readProtobuf) on UNAVAILABLE and RESOURCE_EXHAUSTED, with exponential
   * backoff and full jitter, honouring the daemon's RetryInfo, within each
   * call's deadline. Writes are never retried. Default
   * `{ maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 5000 }`; `false` turns retries off.
   */
  retry?: RetryOptions | false;
  /**
   * CRC32C end to end: every write sends its body's checksum (the daemon
   * stores nothing on a mismatch) and whole-object reads are verified.
   * Default true; each call's `checksum` option overrides it.
   */
  checksum?: boolean;
}

/** What an entry point gives the platform-neutral client. */
export interface BaseStowdClientOptions extends ReliabilityOptions {
  /** The transport every call goes through. */
  transport: Transport;
  /** Default deadline per call in milliseconds (a whole stream for reads and writes). */
  timeoutMs: number | undefined;
  /** CRC32C for this platform: native in Node, WebAssembly in browsers. */
  crc32c: Crc32cFactory;
  /** What `close()` does: closes the transport when the entry point created it. */
  close: () => void;
}

/** Conditions on the object being written; nothing is written when one fails. */
export interface WritePreconditions {
  /** Create only: ALREADY_EXISTS when the object exists. */
  ifNotExists?: boolean;
  /** Overwrite only: NOT_FOUND when the object does not exist. */
  ifExists?: boolean;
  /** FAILED_PRECONDITION unless the current etag is this. */
  ifMatchEtag?: string;
}

export interface WriteOptions extends CallOptions, WritePreconditions {
  /**
   * Exact byte count the body will have; a body of another length fails with
   * INVALID_ARGUMENT and stores nothing. Set automatically for buffers and strings.
   */
  size?: ByteCount;
  contentType?: string;
  /** User metadata; keys are lower-case ASCII letters, digits, `_` and `-`. */
  metadata?: Record<string, string>;
  /** Expected 16-byte MD5 of the body; a mismatch fails with DATA_LOSS and stores nothing. */
  contentMd5?: Uint8Array;
  /** Send the body's CRC32C (a mismatch stores nothing); default: the client's `checksum` setting. */
  checksum?: boolean;
}

export interface AppendOptions extends CallOptions {
  /** FAILED_PRECONDITION unless the object's current size is this (makes retries safe). */
  expectedOffset?: ByteCount;
  /** FAILED_PRECONDITION unless the object's etag is this. */
  ifMatchEtag?: string;
  /** Create an empty object first when missing (otherwise NOT_FOUND). */
  createIfMissing?: boolean;
  /** Content type when this call creates the object. */
  contentType?: string;
  /**
   * Send the appended bytes' CRC32C (a mismatch appends nothing) when the
   * body is a buffer or string; default: the client's `checksum` setting.
   */
  checksum?: boolean;
}

export interface ListOptions extends CallOptions {
  /** Roll keys up to the first delimiter after the prefix into common prefixes (usually "/"). */
  delimiter?: string;
  /** Entries per page (objects plus prefixes); the daemon's default is 1000. */
  pageSize?: number;
}

/** One page of a listing. `timeoutMs` applies per page. */
export interface ListPage {
  objects: ObjectInfo[];
  /** With a delimiter: references of rolled-up "directories", each ending with the delimiter. */
  commonPrefixes: string[];
}

/** An entry of a listing: within a page, the page's objects come first, then its prefixes. */
export type ListEntry = { kind: "object"; info: ObjectInfo } | { kind: "prefix"; reference: string };

export interface DeleteOptions extends CallOptions {
  /** Succeed when the object does not exist (otherwise NOT_FOUND). */
  allowMissing?: boolean;
  /** FAILED_PRECONDITION unless the object's etag is this. */
  ifMatchEtag?: string;
}

export interface CopyOptions extends CallOptions, WritePreconditions {
  /** FAILED_PRECONDITION unless the source's etag is this. The preconditions apply to the destination. */
  ifSourceMatchEtag?: string;
}

export interface SignedUrlOptions extends CallOptions {
  method: "GET" | "PUT";
  /** How long the URL works; at most 7 days. */
  expiresInSeconds: number;
  /** For PUT: the MD5 the upload must have. */
  contentMd5?: Uint8Array;
  /** For PUT: the content type the upload must declare. */
  contentType?: string;
  /** For PUT: the exact size the upload must have; only daemon-signed URLs (file, mem, redis) can enforce it. */
  contentLength?: number;
}

export interface SignedUrl {
  url: string;
  /** Headers the request to `url` must carry, exactly as given. */
  requiredHeaders: Record<string, string>;
  expireTime: Date | undefined;
}

export interface ReferenceParts {
  scheme: string;
  container: string;
  key: string;
}

export interface ProtobufWriteOptions extends CallOptions, WritePreconditions {
  metadata?: Record<string, string>;
}

/** A stored message with the object's info (its etag makes read-modify-write safe). */
export interface StoredMessage<Desc extends DescMessage> {
  message: MessageShape<Desc>;
  info: ObjectInfo;
}

/** The operations every platform has; the entry points' StowdClient types extend it. */
export interface BaseStowdClient {
  /** Opens a read; resolves once the header arrived, so lookup errors reject here. */
  read(reference: string, options?: ReadOptions): Promise<ReadHandle>;
  /** Reads an object (or range) into one buffer. */
  readBytes(reference: string, options?: ReadOptions): Promise<Uint8Array>;
  /** Reads an object (or range) as a web ReadableStream, opened on the first pull; errors error the stream; cancel() cancels. */
  readWebStream(reference: string, options?: ReadOptions): ReadableStream<Uint8Array>;
  /** Creates or replaces an object atomically. */
  write(reference: string, body: WriteBody, options?: WriteOptions): Promise<ObjectInfo>;
  /** Appends to an object atomically; UNIMPLEMENTED where the backend cannot. */
  append(reference: string, body: WriteBody, options?: AppendOptions): Promise<ObjectInfo>;
  /** The object's info, or undefined when it does not exist. */
  head(reference: string, options?: CallOptions): Promise<ObjectInfo | undefined>;
  /** Every object (and, with a delimiter, common prefix) under `prefix`, across all pages. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ListEntry>;
  /** The same listing, page by page. */
  listPages(prefix: string, options?: ListOptions): AsyncIterable<ListPage>;
  delete(reference: string, options?: DeleteOptions): Promise<void>;
  /** Deletes every object under `prefix`; returns how many. */
  deletePrefix(prefix: string, options?: CallOptions): Promise<number>;
  /** Copies an object (also across schemes); returns the destination's info. */
  copy(source: string, destination: string, options?: CopyOptions): Promise<ObjectInfo>;
  createSignedUrl(reference: string, options: SignedUrlOptions): Promise<SignedUrl>;
  /** Joins keys onto a base reference exactly as Flyte's ConstructReference (with stowd's rejections). */
  constructReference(base: string, keys: readonly string[], options?: CallOptions): Promise<string>;
  splitReference(reference: string, options?: CallOptions): Promise<ReferenceParts>;
  /** Configured schemes, backend capabilities and limits. */
  serverInfo(options?: CallOptions): Promise<ServerInfo>;
  /** Stores a message as its exact wire encoding, recording its type. */
  writeProtobuf<Desc extends DescMessage>(
    reference: string,
    schema: Desc,
    message: MessageShape<Desc>,
    options?: ProtobufWriteOptions,
  ): Promise<ObjectInfo>;
  /** Reads a message; FAILED_PRECONDITION (TYPE_MISMATCH) when another type is stored. */
  readProtobuf<Desc extends DescMessage>(reference: string, schema: Desc, options?: CallOptions): Promise<StoredMessage<Desc>>;
  /** Closes the connection if the client created it; a transport you passed in is yours to close. */
  close(): void;
}

/** The client over a transport; use `createStowdClient` from the package's entry point instead. */
export function createBaseStowdClient(options: BaseStowdClientOptions): BaseStowdClient {
  const { transport } = options;
  const raw = createClient(RawStoreService, transport);
  const protobuf = createClient(ProtobufStoreService, transport);
  const callOptions = (o: CallOptions | undefined) =>
    withTimeout(o?.signal === undefined ? {} : { signal: o.signal }, o?.timeoutMs ?? options.timeoutMs);
  const retry = retrySettings(options.retry);
  const checksum = options.checksum ?? true;
  const reads: ReadContext = { client: raw, retry, crc32c: options.crc32c, checksum, timeoutMs: options.timeoutMs };
  /** An idempotent call: retried as `retry` allows, all attempts within the call's deadline and signal. */
  const idempotent = <T>(reference: string, o: CallOptions | undefined, run: (attempt: AttemptOptions) => Promise<T>) =>
    retrying(createRetrier(retry, reference, callOptions(o)), reference, run);
  /** How a body's CRC32C is computed: `streamed` where the RPC has a trailer to send a streamed body's in. */
  const bodyChecksum = (o: { checksum?: boolean }, streamed: boolean) =>
    (o.checksum ?? checksum) ? { crc32c: options.crc32c, streamed } : undefined;

  async function* listPages(prefix: string, o: ListOptions = {}): AsyncGenerator<ListPage> {
    let pageToken = "";
    do {
      const request = { reference: prefix, pageSize: o.pageSize ?? 0, pageToken, delimiter: o.delimiter ?? "" };
      const page = await idempotent(prefix, o, (attempt) => raw.list(request, attempt));
      yield { objects: page.objects.map(toObjectInfo), commonPrefixes: page.commonPrefixes };
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }

  return {
    read: (reference, o = {}) => openRead(reads, reference, o),

    async readBytes(reference, o = {}) {
      return collect(await openRead(reads, reference, o));
    },

    readWebStream: (reference, o = {}) => readableStreamOf((signal) => openRead(reads, reference, { ...o, signal }), o.signal),

    async write(reference, body, o = {}) {
      const prepared = await prepareBody(body, bodyChecksum(o, true));
      const { chunks, failure } = prepared;
      const declared = o.size ?? prepared.size;
      const header = {
        reference,
        contentType: o.contentType ?? "",
        metadata: o.metadata ?? {},
        preconditions: preconditionsOf(o),
        contentMd5: o.contentMd5 ?? new Uint8Array(0),
        ...(declared === undefined ? {} : { size: toInt64(declared, "size", reference) }),
        ...(prepared.crc32c === undefined ? {} : { crc32c: prepared.crc32c }),
      };
      async function* requests() {
        yield { body: { case: "header" as const, value: header } };
        for await (const chunk of chunks) {
          yield { body: { case: "chunk" as const, value: chunk } };
        }
        // A streamed body's checksum is known only now.
        const crc32c = prepared.streamedCrc32c();
        if (crc32c !== undefined) {
          yield { body: { case: "trailer" as const, value: { crc32c } } };
        }
      }
      const response = await call(reference, () => raw.writeRaw(requests(), callOptions(o)), failure);
      return requireInfo(response.info, reference);
    },

    async append(reference, body, o = {}) {
      const { chunks, failure, crc32c } = await prepareBody(body, bodyChecksum(o, false));
      const header = {
        reference,
        ifMatchEtag: o.ifMatchEtag ?? "",
        ...(crc32c === undefined ? {} : { crc32c }),
        createIfMissing: o.createIfMissing ?? false,
        contentType: o.contentType ?? "",
        ...(o.expectedOffset === undefined ? {} : { expectedOffset: toInt64(o.expectedOffset, "expectedOffset", reference) }),
      };
      async function* requests() {
        yield { body: { case: "header" as const, value: header } };
        for await (const chunk of chunks) {
          yield { body: { case: "chunk" as const, value: chunk } };
        }
      }
      const response = await call(reference, () => raw.append(requests(), callOptions(o)), failure);
      return requireInfo(response.info, reference);
    },

    async head(reference, o) {
      const response = await idempotent(reference, o, (attempt) => raw.head({ reference }, attempt));
      return response.exists ? requireInfo(response.info, reference) : undefined;
    },

    async *list(prefix, o) {
      for await (const page of listPages(prefix, o)) {
        for (const info of page.objects) {
          yield { kind: "object", info };
        }
        for (const reference of page.commonPrefixes) {
          yield { kind: "prefix", reference };
        }
      }
    },

    listPages,

    async delete(reference, o = {}) {
      const request = { reference, allowMissing: o.allowMissing ?? false, ifMatchEtag: o.ifMatchEtag ?? "" };
      // Deleting what may already be gone is safe to repeat; a plain delete could answer NOT_FOUND for its own success.
      await (request.allowMissing
        ? idempotent(reference, o, (attempt) => raw.delete(request, attempt))
        : call(reference, () => raw.delete(request, callOptions(o))));
    },

    async deletePrefix(prefix, o) {
      const response = await call(prefix, () => raw.deletePrefix({ reference: prefix }, callOptions(o)));
      return toSafeNumber(response.deletedCount, "deletedCount", prefix);
    },

    async copy(source, destination, o = {}) {
      const request = {
        sourceReference: source,
        destinationReference: destination,
        preconditions: preconditionsOf(o),
        ifSourceMatchEtag: o.ifSourceMatchEtag ?? "",
      };
      const response = await call(destination, () => raw.copyRaw(request, callOptions(o)));
      return requireInfo(response.info, destination);
    },

    async createSignedUrl(reference, o) {
      const request = {
        reference,
        method: o.method === "GET" ? SignedUrlMethod.GET : SignedUrlMethod.PUT,
        expiresIn: { seconds: toInt64(o.expiresInSeconds, "expiresInSeconds", reference) },
        contentMd5: o.contentMd5 ?? new Uint8Array(0),
        contentType: o.contentType ?? "",
        ...(o.contentLength === undefined ? {} : { contentLength: toInt64(o.contentLength, "contentLength", reference) }),
      };
      const response = await call(reference, () => raw.createSignedUrl(request, callOptions(o)));
      return {
        url: response.url,
        requiredHeaders: response.requiredHeaders,
        expireTime: response.expireTime === undefined ? undefined : timestampDate(response.expireTime),
      };
    },

    async constructReference(base, keys, o) {
      const request = { baseReference: base, nestedKeys: [...keys] };
      const response = await idempotent(base, o, (attempt) => raw.constructReference(request, attempt));
      return response.reference;
    },

    async splitReference(reference, o) {
      const { scheme, container, key } = await idempotent(reference, o, (attempt) => raw.splitReference({ reference }, attempt));
      return { scheme, container, key };
    },

    async serverInfo(o) {
      const response = await idempotent("", o, (attempt) => raw.getServerInfo({}, attempt));
      return toServerInfo(response);
    },

    async writeProtobuf(reference, schema, message, o = {}) {
      const request = {
        reference,
        message: anyPack(schema, message),
        metadata: o.metadata ?? {},
        preconditions: preconditionsOf(o),
      };
      const response = await call(reference, () => protobuf.writeProtobuf(request, callOptions(o)));
      return requireInfo(response.info, reference);
    },

    async readProtobuf<Desc extends DescMessage>(reference: string, schema: Desc, o?: CallOptions) {
      // The daemon checks the type: it answers FAILED_PRECONDITION for another one.
      const typeUrl = `type.googleapis.com/${schema.typeName}`;
      const response = await idempotent(reference, o, (attempt) => protobuf.readProtobuf({ reference, typeUrl }, attempt));
      const any = response.message;
      const info = requireInfo(response.info, reference);
      if (any === undefined) {
        throw clientError(Code.Internal, "protocol error: ReadProtobuf without a message", reference);
      }
      return { message: unpack(any, schema, reference), info };
    },

    close: options.close,
  };
}

/**
 * Runs one call that is never retried (its first attempt may have taken
 * effect), converting whatever it throws into a StowdClientError. When the
 * request body's source failed, that failure is the one reported.
 */
async function call<T>(reference: string, run: () => Promise<T>, bodyFailure?: () => { error: unknown } | undefined): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw toStowdError(bodyFailure?.()?.error ?? e, reference);
  }
}

function preconditionsOf(o: WritePreconditions) {
  return {
    ifNotExists: o.ifNotExists ?? false,
    ifExists: o.ifExists ?? false,
    ifMatchEtag: o.ifMatchEtag ?? "",
  };
}

function requireInfo(info: ObjectInfoMessage | undefined, reference: string): ObjectInfo {
  if (info === undefined) {
    throw clientError(Code.Internal, "protocol error: response without object info", reference);
  }
  return toObjectInfo(info);
}

/**
 * Unpacks a stored message. An empty type URL means bytes stored without a
 * recorded type (e.g. written raw, as Flyte does): parse them as `schema`.
 */
function unpack<Desc extends DescMessage>(
  any: { typeUrl: string; value: Uint8Array },
  schema: Desc,
  reference: string,
): MessageShape<Desc> {
  const mismatch = (why: string) => clientError(Code.FailedPrecondition, why, reference, ErrorReason.TYPE_MISMATCH);
  if (any.typeUrl === "") {
    try {
      return fromBinary(schema, any.value);
    } catch (e) {
      throw mismatch(`stored bytes are not a ${schema.typeName}: ${String(e)}`);
    }
  }
  const message = anyUnpack(any as Parameters<typeof anyUnpack>[0], schema);
  if (message === undefined) {
    throw mismatch(`stored message is a ${any.typeUrl}, not a ${schema.typeName}`);
  }
  return message;
}
