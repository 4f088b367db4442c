// The RawStore interface: what every backend (memory, local, s3, ...) and
// every decorator (cache, limit, router, metrics) implements. Stores speak in
// parsed references and plain TypeScript values; the service layer turns them
// into protobuf messages. Bytes move as AsyncIterable<Uint8Array>, so a slow
// consumer slows the producer (backpressure), and every call takes an
// AbortSignal that fires on client cancel, deadline or shutdown.
import type { Ref } from "../references/reference.js";

/** What a backend can do; mirrors stowd.v1.Capabilities. */
export interface Capabilities {
  rangedReads: boolean;
  append: boolean;
  conditionalWrites: boolean;
  signedUrls: boolean;
  delimiterListing: boolean;
  serverSideCopy: boolean;
}

/** One stored object, as a store describes it. */
export interface ObjectMeta {
  /** The object's key within its container (no leading or trailing `/`). */
  key: string;
  size: number;
  /** Opaque, unquoted; changes on every write. */
  etag: string;
  /** 16-byte MD5 of the content when known. */
  contentMd5?: Uint8Array;
  /** CRC32C (Castagnoli) of the content when known (kit/crc32c.ts). */
  crc32c?: number;
  contentType: string;
  metadata: Record<string, string>;
  updated: Date;
  /** Backend generation / version id; "" when none. */
  generation: string;
}

/** Conditions a mutation must meet (stowd.v1.Preconditions). */
export interface Preconditions {
  ifNotExists?: boolean;
  ifExists?: boolean;
  ifMatchEtag?: string;
}

/** A byte range as requested (stowd.v1.ByteRange); see resolveRange. */
export interface RangeRequest {
  offset: number;
  /** 0 = to the end. */
  length: number;
  /** > 0 = the last N bytes. */
  suffixLength: number;
}

export interface ReadOptions {
  range?: RangeRequest;
  ifMatchEtag?: string;
}

/** An opened read: the object's info and the bytes of the served range. */
export interface ReadResult {
  meta: ObjectMeta;
  /** First byte of the served range. */
  offset: number;
  /** Number of bytes `body` yields. */
  length: number;
  /**
   * The bytes. Lazy: nothing is read from the backend until iteration starts,
   * and breaking out of the loop releases the backend resources.
   */
  body: AsyncIterable<Uint8Array>;
  /**
   * Releases the backend resources (open file, connection) when `body` will
   * not be iterated to the end, e.g. a caller rejected the read after
   * opening it. Idempotent, and harmless after a full iteration.
   */
  close(): Promise<void>;
}

export interface WriteOptions {
  contentType: string;
  metadata: Record<string, string>;
  preconditions: Preconditions;
  /** The MD5 the content was verified against, to record with the object. */
  contentMd5?: Uint8Array;
  /** Declared size when known; the body is already checked against it. */
  size?: number;
  /**
   * The body's CRC32C as the caller computes it while it checks the body
   * (server/services/checked-body.ts); a store computes it itself when
   * absent (kit/crc32c.ts trackCrc32c).
   */
  crc32c?: BodyCrc32c;
}

/** The CRC32C of a body that is still streaming. */
export interface BodyCrc32c {
  /** The value the client declared before the body (WriteRawHeader.crc32c), for a backend that must send it up front. */
  readonly declared: number | undefined;
  /** The CRC32C of the whole body; valid only once the body was read to its end (throws before). */
  value(): number;
}

export interface AppendOptions {
  expectedOffset?: number;
  ifMatchEtag?: string;
  createIfMissing: boolean;
  contentType: string;
  /** The appended bytes' CRC32C, as WriteOptions.crc32c; the store extends the object's over it. */
  crc32c?: BodyCrc32c;
}

export interface CopyOptions {
  /** Checked against the destination, atomically with the commit. */
  preconditions: Preconditions;
  /** The source must have this etag. */
  ifSourceMatchEtag?: string;
}

export interface ListOptions {
  /** 1..1000, already validated. */
  pageSize: number;
  /** "" for the first page. */
  pageToken: string;
  /** "" for a flat listing. */
  delimiter: string;
}

export interface ListPage {
  objects: ObjectMeta[];
  /** Keys of rolled-up prefixes, each ending with the delimiter. */
  commonPrefixes: string[];
  /** "" on the last page. */
  nextPageToken: string;
}

export interface DeleteOptions {
  ifMatchEtag?: string;
}

export interface SignOptions {
  method: "GET" | "PUT";
  expiresInSeconds: number;
  contentMd5?: Uint8Array;
  contentType: string;
  /** PUT: the exact size the upload must have. Only daemon-signed URLs can enforce it; S3, GCS and Azure refuse it. */
  contentLength?: number;
  /** Who asks for the URL (the token's name); absent when auth is off. A daemon-signed URL names it and is refused once its grants no longer allow the access. */
  signer?: string;
}

/**
 * Signs URLs the daemon serves itself (server/signed-urls/), for backends
 * with no HTTP service of their own (file://, mem://, redis://). Declared
 * here so that those stores can take one without importing the daemon.
 */
export interface DaemonUrlSigner {
  sign(ref: Ref, options: SignOptions): SignedUrl;
}

export interface SignedUrl {
  url: string;
  requiredHeaders: Record<string, string>;
  expires: Date;
}

export interface RawStore {
  /** Backend kind for errors, metrics and GetServerInfo: "memory", "local", ... */
  readonly kind: string;
  readonly capabilities: Capabilities;

  /**
   * The object's one canonical identity within this store, e.g. "b/k": two
   * references with the same identity name the same stored object, and
   * two that name the same object have the same identity (`file:///b/k`
   * and `file://b/k` are one file; Redis ignores the host). For a listing
   * prefix it is a string prefix of the identity of every object under it.
   * The cache, locks and sidecars key on it. See object-identity.ts.
   */
  identity(ref: Ref): string;

  /** The object's info, or undefined when it does not exist. */
  head(ref: Ref, signal: AbortSignal): Promise<ObjectMeta | undefined>;

  /**
   * Opens a read. Throws NOT_FOUND, PRECONDITION_FAILED or OUT_OF_RANGE
   * before any byte is produced.
   */
  read(ref: Ref, options: ReadOptions, signal: AbortSignal): Promise<ReadResult>;

  /**
   * Stores `body` atomically under `ref`. If `body` throws or the signal
   * aborts, nothing is stored. Preconditions are checked atomically with the
   * commit.
   */
  write(ref: Ref, body: AsyncIterable<Uint8Array>, options: WriteOptions, signal: AbortSignal): Promise<ObjectMeta>;

  /** Appends `body` atomically; UNSUPPORTED unless capabilities.append. */
  append(ref: Ref, body: AsyncIterable<Uint8Array>, options: AppendOptions, signal: AbortSignal): Promise<ObjectMeta>;

  /**
   * One page of the objects whose key starts with `prefix.key`, a raw string
   * prefix that may be empty or end with `/`.
   */
  list(prefix: Ref, options: ListOptions, signal: AbortSignal): Promise<ListPage>;

  /** Removes one object; returns false when it did not exist. */
  delete(ref: Ref, options: DeleteOptions, signal: AbortSignal): Promise<boolean>;

  /** Removes every object whose key starts with `prefix.key` (as list); returns the count. */
  deletePrefix(prefix: Ref, signal: AbortSignal): Promise<number>;

  /**
   * Copies within this store (both refs are on it). Stores without
   * server-side copy may stream through themselves; either way nothing is
   * buffered whole.
   */
  copy(source: Ref, destination: Ref, options: CopyOptions, signal: AbortSignal): Promise<ObjectMeta>;

  /** A pre-signed URL; UNSUPPORTED unless capabilities.signedUrls. */
  signUrl(ref: Ref, options: SignOptions, signal: AbortSignal): Promise<SignedUrl>;

  /** Releases connections and handles. */
  close(): Promise<void>;
}
