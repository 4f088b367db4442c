// The redis store (`redis://host:port/key`). As in Flyte the host is advisory:
// the store talks to its configured node or cluster, the key is the
// reference's path, and references it returns keep the caller's container.
//
// Objects are never one Redis value: each is a manifest hash (size, etag,
// content type, metadata, data id, chunk size) plus chunks of at most
// `chunkBytes`, so reads and writes stream and no object is buffered whole.
// A write stages its chunks under a fresh data id (with a TTL, so a crashed
// daemon leaves nothing permanent), then one Lua script checks the
// preconditions and swaps the manifest atomically; the replaced version's
// chunks stay readable for `readGraceSeconds`, so a read that opened the old
// version finishes it, and only then expire. A reader only ever reads chunks
// of the data id its manifest named, bounded by that manifest's size, so an
// overwrite can never mix versions; when the grace period ran out under a
// very slow reader it fails with a retryable UNAVAILABLE instead.
//
// Listing uses an ordered index (a sorted set, byte-wise like compareKeys)
// rather than SCAN. The index lives in its own cluster slot, so it cannot
// change in the object's scripts. The protocol keeps it safe anyway:
//  - a writer registers itself in the object's pending set, then indexes the
//    key, then commits; a crash leaves an extra entry, never a missing one;
//  - listings verify every entry against its manifest (a deleted object is
//    never listed) and prune stale entries, but only when the object has no
//    manifest and no live pending write, and only if no write re-indexed the
//    key meanwhile (a per-key token compared in the index's slot);
//  - a commit refuses when its pending registration expired, because from
//    then on a pruner may have removed its entry.
import { randomBytes } from "node:crypto";
import { StowdError, unsupported } from "../../common/errors.js";
import { formatReference, type Ref } from "../references/reference.js";
import { abortable, throwIfAborted } from "./kit/abort.js";
import { resolveRange } from "./kit/byte-range.js";
import { contentTypeOrDefault } from "./kit/content-type.js";
import { decodePageToken, pageKeys, type ResumePoint } from "./kit/list-pages.js";
import { checkEtag, checkPreconditions } from "./kit/preconditions.js";
import type { Capabilities, ObjectMeta, Preconditions, RawStore, ReadResult } from "./raw-store.js";
import { createRedisConnection, formatAddress, type RedisCall, type RedisConnection, type RedisNodeAddress } from "./redis-connection.js";
import { DEFAULT_KEY_PREFIX, chunkCount, indexKeys, objectKeys, type ObjectKeys } from "./redis-keys.js";
import { APPEND, BEGIN, COMMIT, COPY_CHUNK, DELETE, INDEX, PROBE, UNINDEX } from "./redis-scripts.js";
import { defaultRetryPolicy, type RetryPolicy } from "./kit/retry.js";

export type { RedisNodeAddress } from "./redis-connection.js";

const KIND = "redis";
const MiB = 1 << 20;
/** Redis refuses string values of 512 MiB or more. */
export const REDIS_MAX_VALUE_BYTES = 512 * MiB;
export const DEFAULT_REDIS_MAX_OBJECT_BYTES = 256 * MiB;
export const DEFAULT_REDIS_CHUNK_BYTES = MiB;
const DEFAULT_READ_GRACE_SECONDS = 60;
const DEFAULT_STAGING_TTL_SECONDS = 3600;
/** Chunk writes in flight per write: bounds memory at about (n + 1) chunks. */
const STAGE_CONCURRENCY = 3;
const COPY_CONCURRENCY = 4;
const DELETE_CONCURRENCY = 8;
/** Commit retries when another writer changed the object between snapshot and commit. */
const MAX_CONFLICTS = 50;
const DEL_BATCH = 256;

export interface RedisStoreOptions {
  /** A single node, `host:port` (Flyte's `redis.addr`); exactly one of `addr` and `cluster`. */
  addr?: string;
  /** Seed nodes of a Redis Cluster. */
  cluster?: RedisNodeAddress[];
  username?: string;
  password?: string;
  /** Database index (single node only; a cluster has only database 0). */
  db?: number;
  /** Largest object, in bytes; default 256 MiB, must be below 512 MiB. */
  maxObjectBytes?: number;
  /** Objects expire this long after their last write or append; default never. */
  ttlSeconds?: number;
  /** Retry and timeout policy for every Redis call; unset fields keep the defaults. */
  retry?: Partial<RetryPolicy>;
  /** Size of the chunks objects are cut into; default 1 MiB. */
  chunkBytes?: number;
  /** How long a replaced or deleted version stays readable for reads that opened it; default 60 s. */
  readGraceSeconds?: number;
  /** How long a write may take before its staged chunks expire; default 1 h. */
  stagingTtlSeconds?: number;
  /** Prefix of every Redis key the store uses; default "stowd". */
  keyPrefix?: string;
}

interface Settings {
  maxObjectBytes: number;
  ttlMs: number;
  chunkBytes: number;
  graceMs: number;
  stagingTtlMs: number;
  prefix: string;
  policy: RetryPolicy;
}

/** The current version of an object, as its manifest describes it. */
interface Manifest {
  dataId: string;
  size: number;
  chunkBytes: number;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  contentMd5?: Uint8Array;
  updated: Date;
}

/** What a script needs to name an object's current chunks. */
interface Snapshot {
  dataId: string;
  size: number;
  chunkBytes: number;
}

const never = new AbortController().signal;

function invalidOption(field: string, message: string): StowdError {
  return new StowdError("INVALID_ARGUMENT", `redis store option ${field}: ${message}`, { backend: KIND, field });
}

function integerOption(value: number | undefined, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidOption(field, `${String(value)} is not an integer from ${min} to ${max}`);
  }
  return value;
}

/** Parses `host:port` (`[v6]:port`; the port defaults to 6379) like go-redis's Addr. */
export function parseRedisAddr(addr: string, field = "addr"): RedisNodeAddress {
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(addr);
  const host = match?.[1];
  const port = Number(match?.[2] ?? 6379);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidOption(field, `${JSON.stringify(addr)} is not host:port, e.g. localhost:6379`);
  }
  return { host, port };
}

function resolveSettings(options: RedisStoreOptions): Settings {
  const maxObjectBytes = integerOption(options.maxObjectBytes, "maxObjectBytes", DEFAULT_REDIS_MAX_OBJECT_BYTES, 1, REDIS_MAX_VALUE_BYTES - 1);
  const chunkBytes = integerOption(options.chunkBytes, "chunkBytes", DEFAULT_REDIS_CHUNK_BYTES, 4096, 64 * MiB);
  // Scripts name every chunk of an object in KEYS; keep that list reasonable.
  if (chunkCount(maxObjectBytes, chunkBytes) > 16_384) {
    throw invalidOption("chunkBytes", `${chunkBytes} cuts maxObjectBytes (${maxObjectBytes}) into more than 16384 chunks; use larger chunks`);
  }
  const prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (prefix === "" || /[{}]/.test(prefix)) throw invalidOption("keyPrefix", `${JSON.stringify(prefix)} must be non-empty and free of "{" and "}" (hash tags)`);
  const policy: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isFinite(value) || value < 0) throw invalidOption(`retry.${name}`, `${String(value)} must be a non-negative number`);
  }
  return {
    maxObjectBytes,
    chunkBytes,
    ttlMs: integerOption(options.ttlSeconds, "ttlSeconds", 0, 1, 10 * 365 * 86_400) * 1000,
    graceMs: integerOption(options.readGraceSeconds, "readGraceSeconds", DEFAULT_READ_GRACE_SECONDS, 0, 86_400) * 1000,
    stagingTtlMs: integerOption(options.stagingTtlSeconds, "stagingTtlSeconds", DEFAULT_STAGING_TTL_SECONDS, 1, 7 * 86_400) * 1000,
    prefix,
    policy,
  };
}

function connect(options: RedisStoreOptions, policy: RetryPolicy): RedisConnection {
  const credentials = {
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
  };
  if ((options.addr === undefined) === (options.cluster === undefined)) {
    throw invalidOption("addr", "set exactly one of addr (a single node) and cluster (seed nodes)");
  }
  if (options.cluster !== undefined) {
    if (options.cluster.length === 0) throw invalidOption("cluster", "name at least one seed node");
    if ((options.db ?? 0) !== 0) throw invalidOption("db", "a Redis Cluster has only database 0");
    for (const [i, node] of options.cluster.entries()) parseRedisAddr(formatAddress(node), `cluster[${i}]`);
    return createRedisConnection({ cluster: options.cluster, policy, ...credentials });
  }
  const node = parseRedisAddr(options.addr ?? "");
  const db = integerOption(options.db, "db", 0, 0, 1_000_000);
  return createRedisConnection({ node, db, policy, ...credentials });
}

/** Flyte's `storage.redis` block, plus stowd's `cluster` (seed nodes, `host:port` each). */
export interface FlyteRedisConfig {
  addr?: string;
  username?: string;
  password?: string;
  db?: number;
  cluster?: readonly string[];
}

/**
 * Maps Flyte's `redis.*` keys (`addr`, `username`, `password`, `db`; empty =
 * unset, as in Flyte) and stowd's `cluster` to store options; `field` names
 * the block in errors. Other store options (limits, TTLs) are added by the caller.
 */
export function redisStoreOptionsFromFlyte(config: FlyteRedisConfig, field = "redis"): RedisStoreOptions {
  const bad = (key: string, message: string) => new StowdError("INVALID_ARGUMENT", message, { backend: KIND, field: `${field}.${key}` });
  for (const key of Object.keys(config)) {
    if (!["addr", "username", "password", "db", "cluster"].includes(key)) throw bad(key, `unknown key ${field}.${key}; ${field} accepts addr, username, password, db and cluster`);
  }
  const text = (key: "addr" | "username" | "password"): string => {
    const value: unknown = config[key];
    if (value === undefined || value === null) return "";
    if (typeof value !== "string") throw bad(key, `${field}.${key} must be a string`);
    return value;
  };
  const addr = text("addr");
  const cluster = config.cluster ?? [];
  if (addr !== "" && cluster.length > 0) throw bad("cluster", `give ${field}.addr (one node) or ${field}.cluster (seed nodes), not both`);
  const options: RedisStoreOptions =
    cluster.length > 0
      ? { cluster: cluster.map((node, i) => parseRedisAddr(node, `${field}.cluster[${i}]`)) }
      : { addr: addr === "" ? "" : formatAddress(parseRedisAddr(addr, `${field}.addr`)) };
  if (options.addr === "") throw bad("addr", `storage type [redis] requires ${field}.addr to be set (host:port), or ${field}.cluster`);
  const username = text("username");
  const password = text("password");
  if (username !== "") options.username = username;
  if (password !== "") options.password = password;
  const db: unknown = config.db;
  if (db !== undefined && db !== null && db !== 0) {
    if (typeof db !== "number" || !Number.isSafeInteger(db) || db < 0) throw bad("db", `${field}.db must be a non-negative integer, not ${JSON.stringify(db)}`);
    if (cluster.length > 0) throw bad("db", `${field}.db must be 0 with a cluster (a Redis Cluster has only database 0)`);
    options.db = db;
  }
  return options;
}

function newId(): string {
  return randomBytes(12).toString("hex");
}

function referenceOf(ref: Ref): string {
  return formatReference(ref, ref.key);
}

function requireKey(ref: Ref): void {
  if (ref.key === "") {
    const reference = referenceOf(ref);
    throw new StowdError("INVALID_REFERENCE", `${reference} names no object: the key is empty`, { reference, field: "reference" });
  }
}

/** A flat [name, value, ...] list or an object (ioredis' HGETALL) as a record. */
function asRecord(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) {
    const record: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = String(reply[i + 1]);
    return record;
  }
  if (reply !== null && typeof reply === "object") {
    return Object.fromEntries(Object.entries(reply).map(([k, v]) => [k, String(v)]));
  }
  return {};
}

function asList(reply: unknown): unknown[] {
  return Array.isArray(reply) ? reply : [];
}

function corrupt(reference: string, why: string): StowdError {
  return new StowdError("INTERNAL", `the redis manifest of ${reference} is damaged (${why}); rewrite or delete the object`, { reference, backend: KIND });
}

function parseManifest(reply: unknown, reference: string): Manifest | undefined {
  const fields = asRecord(reply);
  if (Object.keys(fields).length === 0) return undefined;
  const { d, s, cs, e, ct, md, m5, u } = fields;
  const size = Number(s);
  const chunkBytes = Number(cs);
  if (d === undefined || e === undefined || !Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) {
    throw corrupt(reference, "missing or invalid fields");
  }
  let metadata: Record<string, string>;
  try {
    metadata = JSON.parse(md ?? "{}") as Record<string, string>;
  } catch {
    throw corrupt(reference, "metadata is not JSON");
  }
  const manifest: Manifest = { dataId: d, size, chunkBytes, etag: e, contentType: ct ?? "", metadata, updated: new Date(Number(u ?? 0)) };
  if (m5 !== undefined && m5 !== "") manifest.contentMd5 = Uint8Array.from(Buffer.from(m5, "base64"));
  return manifest;
}

function metaOf(key: string, m: Manifest): ObjectMeta {
  const meta: ObjectMeta = {
    key,
    size: m.size,
    etag: m.etag,
    contentType: m.contentType,
    metadata: { ...m.metadata },
    updated: new Date(m.updated),
    generation: "",
  };
  if (m.contentMd5 !== undefined) meta.contentMd5 = Uint8Array.from(m.contentMd5);
  return meta;
}

/** An ObjectMeta carrying just what a script reported, for the shared precondition messages. */
function reported(key: string, etag: unknown, size: unknown): ObjectMeta {
  return { key, size: Number(size), etag: String(etag), contentType: "", metadata: {}, updated: new Date(), generation: "" };
}

/** A Manifest carrying just what a script reported, for the shared append checks. */
function reportedManifest(etag: string, size: number): Manifest {
  return { dataId: "", size, chunkBytes: 1, etag, contentType: "", metadata: {}, updated: new Date() };
}

function snapshotOf(reply: unknown[]): Snapshot | undefined {
  const [, dataId, size, chunkBytes] = reply;
  return dataId === "" || dataId === undefined ? undefined : { dataId: String(dataId), size: Number(size), chunkBytes: Number(chunkBytes) };
}

function flag(value: boolean | undefined): string {
  return value ? "1" : "0";
}

/** Byte-wise listing bounds for ZRANGEBYLEX ("[" inclusive, "(" exclusive). */
function lexBound(kind: "[" | "(", key: Buffer | string, past = false): Buffer {
  return Buffer.concat([Buffer.from(kind), typeof key === "string" ? Buffer.from(key, "utf8") : key, past ? Buffer.from([0xff]) : Buffer.alloc(0)]);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** True when a failed commit may still have been applied (the reply never came). */
function outcomeUnknown(err: unknown): boolean {
  return err instanceof StowdError && ["BACKEND_UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"].includes(err.reason);
}

export function createRedisStore(options: RedisStoreOptions): RawStore {
  const settings = resolveSettings(options);
  const { prefix, policy } = settings;
  const conn = connect(options, settings.policy);
  const index = indexKeys(prefix);

  const capabilities: Capabilities = {
    rangedReads: true,
    append: true,
    conditionalWrites: true,
    signedUrls: false,
    delimiterListing: true,
    // A cluster keeps source and destination in different slots: chunks pass through the daemon.
    serverSideCopy: !conn.isCluster,
  };

  const keysOf = (key: string): ObjectKeys => objectKeys(prefix, key);
  const callFor = (operation: string, reference: string, signal: AbortSignal, idempotent = true): RedisCall => ({ operation, reference, signal, idempotent });
  /** For cleanup after a failure: its own deadline, not the (possibly aborted) caller's signal. */
  const cleanupCall = (operation: string, reference: string): RedisCall => callFor(operation, reference, AbortSignal.timeout(policy.totalTimeoutMs));

  function tooLarge(reference: string, size: number): StowdError {
    return new StowdError(
      "LIMIT_EXCEEDED",
      `${reference} would be larger than the redis store's limit of ${settings.maxObjectBytes} bytes (maxObjectBytes, below Redis's 512 MiB value cap); nothing was written`,
      { reference, size, limit: settings.maxObjectBytes, backend: KIND },
    );
  }

  async function manifestOf(keys: ObjectKeys, call: RedisCall): Promise<Manifest | undefined> {
    return parseManifest(await conn.run(call, (c) => c.call("hgetall", [keys.manifest])), call.reference);
  }

  /** Registers a write in progress; returns the current manifest. */
  async function begin(keys: ObjectKeys, writeId: string, call: RedisCall): Promise<Manifest | undefined> {
    const reply = asList(await conn.script(call, BEGIN, [keys.manifest, keys.pending], [writeId, settings.stagingTtlMs]));
    return parseManifest(reply[1], call.reference);
  }

  async function addToIndex(key: string, writeId: string, call: RedisCall): Promise<void> {
    await conn.script(call, INDEX, [index.keys, index.tokens], [key, writeId]);
  }

  /** Removes `key` from the index if no object and no write in progress needs it (see the top comment). */
  async function prune(key: string, reference: string): Promise<void> {
    const call = cleanupCall(`UNINDEX ${reference}`, reference);
    const token = await conn.run(call, (c) => c.call("hget", [index.tokens, key]));
    const keys = keysOf(key);
    const [exists, pending] = asList(await conn.script(call, PROBE, [keys.manifest, keys.pending], []));
    if (Number(exists) !== 0 || Number(pending) !== 0) return;
    await conn.script(call, UNINDEX, [index.keys, index.tokens], [key, typeof token === "string" ? token : ""]);
  }

  /** Best effort after a failed write: staged chunks and the registration go now, not at their TTL. */
  async function discard(key: string, keys: ObjectKeys, writeId: string, staged: string[], indexed: boolean, reference: string): Promise<void> {
    const call = cleanupCall(`DISCARD ${reference}`, reference);
    try {
      for (let i = 0; i < staged.length; i += DEL_BATCH) {
        const batch = staged.slice(i, i + DEL_BATCH);
        await conn.run(call, (c) => c.call("del", batch));
      }
      await conn.run(call, (c) => c.call("zrem", [keys.pending, writeId]));
      if (indexed) await prune(key, reference);
    } catch {
      // Staging keys and registrations expire on their own.
    }
  }

  interface Staged {
    /** Keys of the pieces sent so far (some may still be in flight when staging fails). */
    keys: string[];
    bytes: number;
  }

  /**
   * Streams `body` into staging keys: piece 0 holds `firstPieceBytes`, the
   * others `pieceBytes`; a few SETs are in flight at once, each with the
   * staging TTL. Fails with LIMIT_EXCEEDED when `base` (bytes already in
   * the object) plus the body passes maxObjectBytes.
   */
  async function stage(
    body: AsyncIterable<Uint8Array>,
    plan: { keyOf: (index: number) => string; firstPieceBytes: number; pieceBytes: number; base: number },
    staged: Staged,
    signal: AbortSignal,
    reference: string,
  ): Promise<void> {
    const inflight: Array<Promise<unknown>> = [];
    let failure: { err: unknown } | undefined;
    const send = async (data: Buffer) => {
      const key = plan.keyOf(staged.keys.length);
      staged.keys.push(key);
      const sending = conn.run(callFor(`WRITE ${reference}`, reference, signal), (c) => c.call("set", [key, data, "PX", settings.stagingTtlMs]));
      sending.catch((err: unknown) => (failure ??= { err }));
      inflight.push(sending);
      if (inflight.length >= STAGE_CONCURRENCY) await inflight.shift()?.catch(() => {});
      if (failure !== undefined) throw failure.err;
    };
    let piece = Buffer.allocUnsafe(plan.firstPieceBytes);
    let filled = 0;
    try {
      for await (const chunk of abortable(body, signal, reference)) {
        staged.bytes += chunk.length;
        if (plan.base + staged.bytes > settings.maxObjectBytes) throw tooLarge(reference, plan.base + staged.bytes);
        for (let at = 0; at < chunk.length; ) {
          const n = Math.min(piece.length - filled, chunk.length - at);
          piece.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === piece.length) {
            await send(piece);
            piece = Buffer.allocUnsafe(plan.pieceBytes);
            filled = 0;
          }
        }
      }
      if (filled > 0) await send(piece.subarray(0, filled));
    } finally {
      await Promise.allSettled(inflight);
    }
    if (failure !== undefined) throw failure.err;
  }

  /**
   * Commits a staged version, retrying when another writer changed the
   * object since `snapshot`; precondition failures use the shared messages.
   */
  async function commit(
    key: string,
    keys: ObjectKeys,
    writeId: string,
    newChunks: string[],
    snapshot: Snapshot | undefined,
    pre: Preconditions,
    fields: Array<[string, string]>,
    reference: string,
  ): Promise<number> {
    // Once sent, a commit is not tied to the caller's signal: Redis decides its outcome.
    const call = callFor(`COMMIT ${reference}`, reference, never, false);
    let current = snapshot;
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const oldChunks = current === undefined ? [] : keys.chunks(current.dataId, chunkCount(current.size, current.chunkBytes));
      const reply = asList(
        await conn.script(call, COMMIT, [keys.manifest, keys.pending, ...newChunks, ...oldChunks], [
          writeId,
          newChunks.length,
          oldChunks.length,
          current?.dataId ?? "",
          String(current?.size ?? 0),
          flag(pre.ifNotExists),
          flag(pre.ifExists),
          flag(pre.ifMatchEtag !== undefined),
          pre.ifMatchEtag ?? "",
          settings.ttlMs,
          settings.graceMs,
          ...fields.flat(),
        ]),
      );
      switch (reply[0]) {
        case "ok":
          return Number(reply[1]);
        case "conflict":
          current = snapshotOf(reply);
          continue;
        case "exists":
        case "mismatch":
          checkPreconditions(reported(key, reply[1], reply[2]), pre, reference);
          break;
        case "missing":
          checkPreconditions(undefined, pre, reference);
          break;
        case "expired":
          throw new StowdError(
            "DEADLINE_EXCEEDED",
            `the write of ${reference} took longer than the redis store's staging TTL (${settings.stagingTtlMs / 1000} s, stagingTtlSeconds); nothing was written`,
            { reference, backend: KIND },
          );
        case "lost":
          throw new StowdError("BACKEND_UNAVAILABLE", `staged chunks of ${reference} vanished from Redis before the commit (evicted or flushed?); nothing was written, retry the write`, {
            reference,
            backend: KIND,
          });
      }
      throw new StowdError("INTERNAL", `unexpected commit reply for ${reference}: ${JSON.stringify(reply[0])}`, { reference, backend: KIND });
    }
    throw new StowdError("BACKEND_UNAVAILABLE", `${reference} changes too often to commit (${MAX_CONFLICTS} conflicting writers); nothing was written, retry`, { reference, backend: KIND });
  }

  /** The error for a chunk that is gone: the version was replaced long enough ago, or Redis lost data. */
  async function vanished(keys: ObjectKeys, m: Manifest, index: number, reference: string): Promise<StowdError> {
    const now = await manifestOf(keys, cleanupCall(`READ ${reference}`, reference)).catch(() => undefined);
    if (now === undefined || now.dataId !== m.dataId) {
      return new StowdError(
        "BACKEND_UNAVAILABLE",
        `${reference} was overwritten or deleted while it was read, and the version being read expired (old versions stay readable for ${settings.graceMs / 1000} s, readGraceSeconds); retry the read`,
        { reference, backend: KIND },
      );
    }
    return new StowdError("INTERNAL", `chunk ${index} of ${reference} is missing from Redis (evicted? use maxmemory-policy noeviction)`, { reference, backend: KIND });
  }

  /** The bytes [offset, offset + length) of version `m`, a chunk at a time with one chunk read ahead. */
  async function* readChunks(keys: ObjectKeys, m: Manifest, offset: number, length: number, signal: AbortSignal, reference: string, isClosed: () => boolean): AsyncGenerator<Uint8Array> {
    if (length === 0) return;
    const cs = m.chunkBytes;
    const end = offset + length;
    const fetch = (index: number): Promise<Buffer> => {
      const from = Math.max(offset, index * cs) - index * cs;
      const to = Math.min(end, (index + 1) * cs) - index * cs - 1;
      const reading = conn
        .run(callFor(`READ ${reference}`, reference, signal), (c) => c.callBuffer("getrange", [keys.chunk(m.dataId, index), from, to]))
        .then(async (data) => {
          if (!Buffer.isBuffer(data) || data.length !== to - from + 1) throw await vanished(keys, m, index, reference);
          return data;
        });
      reading.catch(() => {}); // read ahead: awaited (and its error seen) on the next step
      return reading;
    };
    const last = Math.floor((end - 1) / cs);
    let ahead: Promise<Buffer> | undefined = fetch(Math.floor(offset / cs));
    for (let index = Math.floor(offset / cs); ahead !== undefined; index++) {
      throwIfAborted(signal, reference);
      if (isClosed()) return;
      const current: Promise<Buffer> = ahead;
      ahead = index < last ? fetch(index + 1) : undefined;
      yield await current;
    }
  }

  /** Deletes `key`'s current version (if it matches); false when there was none. */
  async function deleteKey(key: string, ifMatchEtag: string | undefined, signal: AbortSignal, reference: string): Promise<boolean> {
    const keys = keysOf(key);
    const call = callFor(`DELETE ${reference}`, reference, signal, ifMatchEtag === undefined);
    let current: Snapshot | undefined;
    let deleted: boolean | undefined;
    for (let attempt = 0; deleted === undefined; attempt++) {
      if (attempt >= MAX_CONFLICTS) throw new StowdError("BACKEND_UNAVAILABLE", `${reference} changes too often to delete; retry`, { reference, backend: KIND });
      const chunks = current === undefined ? [] : keys.chunks(current.dataId, chunkCount(current.size, current.chunkBytes));
      const reply = asList(
        await conn.script(call, DELETE, [keys.manifest, ...chunks], [
          current?.dataId ?? "",
          String(current?.size ?? 0),
          flag(ifMatchEtag !== undefined),
          ifMatchEtag ?? "",
          settings.graceMs,
        ]),
      );
      switch (reply[0]) {
        case "ok":
          deleted = true;
          break;
        case "missing":
          deleted = false;
          break;
        case "mismatch":
          checkEtag(reported(key, reply[1], reply[2]), ifMatchEtag, reference, "nothing was deleted");
          throw new StowdError("INTERNAL", `unexpected delete reply for ${reference}`, { reference, backend: KIND });
        case "conflict":
          current = snapshotOf(reply);
          break;
        default:
          throw new StowdError("INTERNAL", `unexpected delete reply for ${reference}: ${JSON.stringify(reply[0])}`, { reference, backend: KIND });
      }
    }
    await prune(key, reference).catch(() => {});
    return deleted;
  }

  /** Index members in [min, max], up to `count`, as raw bytes. */
  async function indexRange(min: Buffer, max: Buffer | string, count: number, call: RedisCall): Promise<Buffer[]> {
    const reply = await conn.run(call, (c) => c.callBuffer("zrangebylex", [index.keys, min, max, "LIMIT", 0, count]));
    return asList(reply).filter((member): member is Buffer => Buffer.isBuffer(member));
  }

  function decodeKey(member: Buffer): string | undefined {
    try {
      return utf8.decode(member);
    } catch {
      return undefined; // not written by this store
    }
  }

  /** The listing's first bound: the prefix, or just past the resume point. */
  function startBound(prefixKey: string, resume: ResumePoint | undefined): Buffer {
    if (resume === undefined) return lexBound("[", prefixKey);
    return resume.isCommonPrefix ? lexBound("[", resume.entry, true) : lexBound("(", resume.entry);
  }

  function endBound(prefixKey: string): Buffer | string {
    // No UTF-8 byte is 0xFF, so prefix + 0xFF is above every key with the prefix.
    return prefixKey === "" ? "+" : lexBound("(", prefixKey, true);
  }

  async function writeVersion(
    ref: Ref,
    writeId: string,
    current: Manifest | undefined,
    fill: (dataId: string, staged: Staged) => Promise<{ chunkBytes: number }>,
    pre: Preconditions,
    attributes: { contentType: string; metadata: Record<string, string>; contentMd5?: Uint8Array },
    signal: AbortSignal,
  ): Promise<ObjectMeta> {
    const reference = referenceOf(ref);
    const keys = keysOf(ref.key);
    const dataId = newId();
    const staged: Staged = { keys: [], bytes: 0 };
    let indexed = false;
    let sent = false;
    try {
      await addToIndex(ref.key, writeId, callFor(`INDEX ${reference}`, reference, signal));
      indexed = true;
      const { chunkBytes } = await fill(dataId, staged);
      throwIfAborted(signal, reference);
      const etag = newId();
      const fields: Array<[string, string]> = [
        ["v", "1"],
        ["k", ref.key],
        ["d", dataId],
        ["s", String(staged.bytes)],
        ["cs", String(chunkBytes)],
        ["e", etag],
        ["ct", attributes.contentType],
        ["md", JSON.stringify(attributes.metadata)],
      ];
      if (attributes.contentMd5 !== undefined) fields.push(["m5", Buffer.from(attributes.contentMd5).toString("base64")]);
      const snapshot = current === undefined ? undefined : { dataId: current.dataId, size: current.size, chunkBytes: current.chunkBytes };
      sent = true;
      const now = await commit(ref.key, keys, writeId, staged.keys, snapshot, pre, fields, reference);
      const meta: ObjectMeta = {
        key: ref.key,
        size: staged.bytes,
        etag,
        contentType: attributes.contentType,
        metadata: { ...attributes.metadata },
        updated: new Date(now),
        generation: "",
      };
      if (attributes.contentMd5 !== undefined) meta.contentMd5 = Uint8Array.from(attributes.contentMd5);
      return meta;
    } catch (err) {
      // After an unanswered commit the version may be live: leave its chunks to the TTL.
      if (!(sent && outcomeUnknown(err))) await discard(ref.key, keys, writeId, staged.keys, indexed, reference);
      throw err;
    }
  }

  return {
    kind: KIND,
    // The host is advisory (see above): `redis://a/k` and `redis://b/k` are one object.
    identity: (ref) => ref.key,
    capabilities,

    async head(ref, signal) {
      const reference = referenceOf(ref);
      const m = await manifestOf(keysOf(ref.key), callFor(`HEAD ${reference}`, reference, signal));
      return m === undefined ? undefined : metaOf(ref.key, m);
    },

    async read(ref, options, signal): Promise<ReadResult> {
      const reference = referenceOf(ref);
      throwIfAborted(signal, reference);
      const keys = keysOf(ref.key);
      const m = await manifestOf(keys, callFor(`READ ${reference}`, reference, signal));
      if (m === undefined) throw new StowdError("NOT_FOUND", `${reference} does not exist`, { reference, backend: KIND });
      const meta = metaOf(ref.key, m);
      checkEtag(meta, options.ifMatchEtag, reference, "nothing was read");
      const { offset, length } = resolveRange(options.range, m.size, reference);
      let closed = false;
      return {
        meta,
        offset,
        length,
        body: readChunks(keys, m, offset, length, signal, reference, () => closed),
        // Nothing is held between chunks; closing just stops further reads.
        close: async () => {
          closed = true;
        },
      };
    },

    async write(ref, body, options, signal) {
      const reference = referenceOf(ref);
      requireKey(ref);
      if (options.size !== undefined && options.size > settings.maxObjectBytes) throw tooLarge(reference, options.size);
      const keys = keysOf(ref.key);
      const writeId = newId();
      const current = await begin(keys, writeId, callFor(`WRITE ${reference}`, reference, signal));
      try {
        // Fail fast, before taking the body; checked again atomically at commit.
        checkPreconditions(current === undefined ? undefined : metaOf(ref.key, current), options.preconditions, reference);
      } catch (err) {
        await discard(ref.key, keys, writeId, [], false, reference);
        throw err;
      }
      const attributes = {
        contentType: contentTypeOrDefault(options.contentType),
        metadata: { ...options.metadata },
        ...(options.contentMd5 === undefined ? {} : { contentMd5: options.contentMd5 }),
      };
      const cs = settings.chunkBytes;
      return writeVersion(
        ref,
        writeId,
        current,
        async (dataId, staged) => {
          const plan = { keyOf: (i: number) => keys.chunk(dataId, i), firstPieceBytes: cs, pieceBytes: cs, base: 0 };
          await stage(body, plan, staged, signal, reference);
          return { chunkBytes: cs };
        },
        options.preconditions,
        attributes,
        signal,
      );
    },

    async append(ref, body, options, signal) {
      const reference = referenceOf(ref);
      requireKey(ref);
      const keys = keysOf(ref.key);
      const writeId = newId();
      const check = (m: Manifest | undefined): void => {
        if (m === undefined) {
          if (!options.createIfMissing) {
            throw new StowdError("NOT_FOUND", `${reference} does not exist; set create_if_missing to create it by appending`, { reference, backend: KIND });
          }
          if (options.ifMatchEtag !== undefined) checkPreconditions(undefined, { ifMatchEtag: options.ifMatchEtag }, reference);
        } else {
          checkEtag(metaOf(ref.key, m), options.ifMatchEtag, reference, "nothing was appended");
        }
        const size = m?.size ?? 0;
        if (options.expectedOffset !== undefined && options.expectedOffset !== size) {
          throw new StowdError("PRECONDITION_FAILED", `${reference} has ${size} bytes, not the expected offset ${options.expectedOffset}; nothing was appended`, {
            reference,
            size,
            field: "header.expected_offset",
          });
        }
      };
      const snapshot = await begin(keys, writeId, callFor(`APPEND ${reference}`, reference, signal));
      const appendId = newId();
      const staged: Staged = { keys: [], bytes: 0 };
      let indexed = false;
      let sent = false;
      try {
        check(snapshot); // fail fast, before taking the body
        if (options.createIfMissing) {
          await addToIndex(ref.key, writeId, callFor(`INDEX ${reference}`, reference, signal));
          indexed = true;
        }
        // Cut the appended bytes on the grid of the size seen now: piece 0 fills the last chunk.
        const pieceCs = snapshot?.chunkBytes ?? settings.chunkBytes;
        const align = (snapshot?.size ?? 0) % pieceCs;
        const plan = {
          keyOf: (i: number) => keys.chunk(appendId, i),
          firstPieceBytes: pieceCs - align,
          pieceBytes: pieceCs,
          base: snapshot?.size ?? 0,
        };
        await stage(body, plan, staged, signal, reference);
        throwIfAborted(signal, reference);
        const call = callFor(`APPEND ${reference}`, reference, never, false);
        const newDataId = newId();
        const etag = newId();
        let current: Snapshot | undefined = snapshot;
        sent = true;
        for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
          const target = current ?? { dataId: newDataId, size: 0, chunkBytes: pieceCs };
          const targets = keys.chunks(target.dataId, chunkCount(target.size + staged.bytes, target.chunkBytes));
          const reply = asList(
            await conn.script(call, APPEND, [keys.manifest, keys.pending, ...staged.keys, ...targets], [
              writeId,
              staged.keys.length,
              targets.length,
              current?.dataId ?? "",
              String(current?.size ?? 0),
              flag(options.createIfMissing),
              flag(options.expectedOffset !== undefined),
              options.expectedOffset ?? 0,
              flag(options.ifMatchEtag !== undefined),
              options.ifMatchEtag ?? "",
              staged.bytes,
              align,
              pieceCs,
              newDataId,
              etag,
              contentTypeOrDefault(options.contentType),
              settings.maxObjectBytes,
              settings.ttlMs,
              ref.key,
            ]),
          );
          switch (reply[0]) {
            case "ok": {
              const m = parseManifest(reply[1], reference);
              if (m === undefined) throw corrupt(reference, "empty after an append");
              return metaOf(ref.key, m);
            }
            case "conflict":
              current = snapshotOf(reply);
              continue;
            case "missing":
              check(undefined);
              break;
            case "mismatch":
              check(reportedManifest(String(reply[1]), Number(reply[2])));
              break;
            case "offset":
              // The etag matched (checked first), so only the offset can fail here.
              check(reportedManifest(options.ifMatchEtag ?? "", Number(reply[1])));
              break;
            case "toolarge":
              throw tooLarge(reference, Number(reply[1]) + staged.bytes);
            case "expired":
              throw new StowdError("DEADLINE_EXCEEDED", `the append to ${reference} took longer than the redis store's staging TTL; nothing was appended`, { reference, backend: KIND });
            case "lost":
              throw new StowdError("BACKEND_UNAVAILABLE", `staged chunks of ${reference} vanished from Redis before the append; nothing was appended, retry`, { reference, backend: KIND });
          }
          throw new StowdError("INTERNAL", `unexpected append reply for ${reference}: ${JSON.stringify(reply[0])}`, { reference, backend: KIND });
        }
        throw new StowdError("BACKEND_UNAVAILABLE", `${reference} changes too often to append (${MAX_CONFLICTS} conflicting writers); nothing was appended, retry`, { reference, backend: KIND });
      } catch (err) {
        if (!(sent && outcomeUnknown(err))) await discard(ref.key, keys, writeId, staged.keys, indexed, reference);
        throw err;
      }
    },

    async list(prefix, options, signal) {
      const reference = referenceOf(prefix);
      const resume = decodePageToken(options.pageToken, prefix.key, options.delimiter, reference);
      const call = callFor(`LIST ${reference}`, reference, signal);
      const metas = new Map<string, ObjectMeta>();
      const stale: string[] = [];
      const skip: { under?: string } = {};
      const batchSize = Math.min(1000, Math.max(options.pageSize + 1, options.delimiter === "" ? 0 : 64));
      // With a delimiter most keys of a batch may roll up into one prefix: verify a few at a time.
      const window = options.delimiter === "" ? batchSize : 16;
      const isSkipped = (key: string) => skip.under !== undefined && key.startsWith(skip.under);

      async function* existingKeys(): AsyncGenerator<string> {
        let min = startBound(prefix.key, resume);
        const max = endBound(prefix.key);
        for (;;) {
          const members = await indexRange(min, max, batchSize, call);
          const lastMember = members[members.length - 1];
          if (lastMember === undefined) return;
          min = lexBound("(", lastMember);
          const keys = members.map(decodeKey).filter((key): key is string => key !== undefined);
          for (let i = 0; i < keys.length; i += window) {
            const group = keys.slice(i, i + window).filter((key) => !isSkipped(key));
            const found = await Promise.all(group.map((key) => manifestOf(keysOf(key), call)));
            for (const [j, key] of group.entries()) {
              if (isSkipped(key)) continue;
              const m = found[j];
              if (m === undefined) {
                stale.push(key);
                continue;
              }
              metas.set(key, metaOf(key, m));
              yield key;
            }
          }
          if (skip.under !== undefined) {
            const past = Buffer.concat([Buffer.from(skip.under, "utf8"), Buffer.from([0xff])]);
            if (Buffer.compare(lastMember, past) < 0) min = lexBound("[", past);
          }
          if (members.length < batchSize) return;
        }
      }

      const page = await pageKeys(existingKeys(), prefix.key, options, reference, (commonPrefix) => (skip.under = commonPrefix));
      // Entries whose object is gone (a crash between index and commit, a delete's last step, a TTL).
      await Promise.all(stale.map((key) => prune(key, formatReference(prefix, key)).catch(() => {})));
      return {
        objects: page.keys.flatMap((key) => {
          const meta = metas.get(key);
          return meta === undefined ? [] : [meta];
        }),
        commonPrefixes: page.commonPrefixes,
        nextPageToken: page.nextPageToken,
      };
    },

    async delete(ref, options, signal) {
      return deleteKey(ref.key, options.ifMatchEtag, signal, referenceOf(ref));
    },

    async deletePrefix(prefix, signal) {
      const reference = referenceOf(prefix);
      const call = callFor(`DELETE PREFIX ${reference}`, reference, signal);
      let count = 0;
      let min = startBound(prefix.key, undefined);
      const max = endBound(prefix.key);
      for (;;) {
        throwIfAborted(signal, reference);
        const members = await indexRange(min, max, 256, call);
        const lastMember = members[members.length - 1];
        if (lastMember === undefined) return count;
        min = lexBound("(", lastMember);
        const keys = members.map(decodeKey).filter((key): key is string => key !== undefined);
        await mapLimit(keys, DELETE_CONCURRENCY, async (key) => {
          if (await deleteKey(key, undefined, signal, formatReference(prefix, key))) count++;
        });
      }
    },

    async copy(source, destination, options, signal) {
      const from = referenceOf(source);
      const to = referenceOf(destination);
      requireKey(destination);
      throwIfAborted(signal, to);
      const sourceKeys = keysOf(source.key);
      const src = await manifestOf(sourceKeys, callFor(`COPY ${from}`, from, signal));
      if (src === undefined) throw new StowdError("NOT_FOUND", `${from} does not exist`, { reference: from, backend: KIND });
      checkEtag(metaOf(source.key, src), options.ifSourceMatchEtag, from, "nothing was copied");
      const keys = keysOf(destination.key);
      const writeId = newId();
      const current = await begin(keys, writeId, callFor(`COPY ${to}`, to, signal));
      try {
        checkPreconditions(current === undefined ? undefined : metaOf(destination.key, current), options.preconditions, to);
      } catch (err) {
        await discard(destination.key, keys, writeId, [], false, to);
        throw err;
      }
      const attributes = { contentType: src.contentType, metadata: src.metadata, ...(src.contentMd5 === undefined ? {} : { contentMd5: src.contentMd5 }) };
      return writeVersion(
        destination,
        writeId,
        current,
        async (dataId, staged) => {
          const count = chunkCount(src.size, src.chunkBytes);
          const indexes = Array.from({ length: count }, (_, i) => i);
          staged.keys.push(...keys.chunks(dataId, count));
          staged.bytes = src.size;
          // Same chunk grid as the source; a copied chunk is bounded by the source's size (appends may grow it).
          await mapLimit(indexes, COPY_CONCURRENCY, async (i) => {
            const length = Math.min(src.chunkBytes, src.size - i * src.chunkBytes);
            const sourceChunk = sourceKeys.chunk(src.dataId, i);
            const target = keys.chunk(dataId, i);
            const call = callFor(`COPY ${from} to ${to}`, to, signal);
            let copied: boolean;
            if (conn.isCluster) {
              const data = await conn.run(call, (c) => c.callBuffer("getrange", [sourceChunk, 0, length - 1]));
              copied = Buffer.isBuffer(data) && data.length === length;
              if (copied) await conn.run(call, (c) => c.call("set", [target, data as Buffer, "PX", settings.stagingTtlMs]));
            } else {
              copied = Number(await conn.script(call, COPY_CHUNK, [sourceChunk, target], [length, settings.stagingTtlMs])) === 1;
            }
            if (!copied) throw await vanished(sourceKeys, src, i, from);
          });
          return { chunkBytes: src.chunkBytes };
        },
        options.preconditions,
        attributes,
        signal,
      );
    },

    async signUrl() {
      throw unsupported(KIND, "signed URLs (Redis cannot sign requests)");
    },

    async close() {
      await conn.close();
    },
  };
}
