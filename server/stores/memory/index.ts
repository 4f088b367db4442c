// The memory store (`mem://`): for tests and ephemeral use, with the same
// semantics as every other store. Objects are immutable lists of byte
// segments replaced whole on commit, so a read keeps the snapshot it opened
// and writes are atomic: chunks are copied into segments as they arrive and
// committed synchronously at the end, where the preconditions are checked.
//
// Memory follows the bytes that arrived, never a size the client declared
// (a 3 GiB header followed by a few bytes holds a few bytes). Segments are
// 1 MiB; the first one grows geometrically from 64 KiB, so a small object
// takes little more than its size, and nothing is ever copied into one big
// buffer: no object is limited by Node's largest Buffer (4 GiB on Node 20),
// no commit needs twice the object's size, and an append copies what it
// appends plus at most one small old segment, not the whole object. One object may not be larger than
// the memory the daemon can have (maxObjectBytes): a declared size past it
// fails before the body is read, an undeclared one as soon as it passes it.
import { totalmem } from "node:os";
import { randomBytes } from "node:crypto";
import { StowdError, unsupported } from "../../common/errors.js";
import { formatReference, type Ref } from "../references/reference.js";
import { abortable, throwIfAborted } from "./kit/abort.js";
import { resolveRange } from "./kit/byte-range.js";
import { contentTypeOrDefault } from "./kit/content-type.js";
import { compareKeys, pageKeys } from "./kit/list-pages.js";
import { checkEtag, checkPreconditions } from "./kit/preconditions.js";
import type { Capabilities, ObjectMeta, RawStore, ReadResult } from "./raw-store.js";
import { containerKeyIdentity } from "./kit/object-identity.js";

const KIND = "memory";
/** Segment size, and the most one read chunk carries. */
const SEGMENT_BYTES = 1 << 20;
/** The first segment starts this small and doubles up to SEGMENT_BYTES. */
const FIRST_SEGMENT_BYTES = 64 * 1024;

export interface MemoryStoreOptions {
  /**
   * Largest object the store takes, in bytes. Default: the memory the
   * daemon can have (the machine's, or its cgroup limit when lower), since
   * the store keeps every object in the daemon's memory.
   */
  maxObjectBytes?: number;
}

/**
 * An object's bytes: immutable segments in order, each at most
 * SEGMENT_BYTES (a write fills all but the last). Versions and copies share them.
 */
type Segments = readonly Uint8Array[];

interface Entry {
  meta: ObjectMeta;
  data: Segments;
}

const capabilities: Capabilities = {
  rangedReads: true,
  append: true,
  conditionalWrites: true,
  signedUrls: false,
  delimiterListing: true,
  serverSideCopy: true,
};

/** The memory this process can have: the machine's, or its cgroup limit when that is lower. */
function availableMemory(): { bytes: number; what: string } {
  const machine = totalmem();
  const constrained = process.constrainedMemory?.() ?? 0;
  return constrained > 0 && constrained < machine
    ? { bytes: constrained, what: "the daemon's cgroup memory limit" }
    : { bytes: machine, what: "the machine's memory" };
}

function referenceOf(ref: Ref): string {
  return formatReference(ref, ref.key);
}

function copyMeta(meta: ObjectMeta): ObjectMeta {
  const copy: ObjectMeta = { ...meta, metadata: { ...meta.metadata }, updated: new Date(meta.updated) };
  if (meta.contentMd5 !== undefined) copy.contentMd5 = Uint8Array.from(meta.contentMd5);
  return copy;
}

function newEtag(): string {
  return randomBytes(12).toString("hex");
}

function requireKey(ref: Ref): void {
  if (ref.key === "") {
    throw new StowdError("INVALID_REFERENCE", `${referenceOf(ref)} names no object: the key is empty`, { reference: referenceOf(ref), field: "reference" });
  }
}

/** The store's object size limit, and what it comes from, for the error that names it. */
interface SizeLimit {
  bytes: number;
  what: string;
}

function tooLarge(reference: string, size: number, limit: SizeLimit, declared: boolean): StowdError {
  const howBig = declared ? `its declared size is ${size} bytes` : `it reached ${size} bytes`;
  return new StowdError(
    "LIMIT_EXCEEDED",
    `${reference} is too large for the memory store: ${howBig}, and mem:// keeps every object in the daemon's memory, at most ${limit.bytes} bytes per object (${limit.what}); store it on a disk or cloud backend; nothing was stored`,
    { reference, size, limit: limit.bytes, backend: KIND, ...(declared ? { field: "header.size" } : {}) },
  );
}

/**
 * Copies chunks into segments as they arrive: memory grows with the bytes
 * received (at most one partly filled segment ahead), never with a size
 * announced up front. A size hint only caps segment capacities, so an object
 * of a declared size needs no trimming copy at the end.
 */
class SegmentWriter {
  private readonly done: Uint8Array[] = [];
  private current: Uint8Array = new Uint8Array(0);
  private filled = 0;
  private size = 0;

  /** `base`: bytes the object already has (an append), counted against the limit. */
  constructor(
    private readonly reference: string,
    private readonly limit: SizeLimit,
    private readonly sizeHint?: number,
    private readonly base = 0,
  ) {}

  write(chunk: Uint8Array): void {
    const total = this.base + this.size + chunk.length;
    if (total > this.limit.bytes) throw tooLarge(this.reference, total, this.limit, false);
    for (let at = 0; at < chunk.length; ) {
      if (this.filled === this.current.length) this.grow(chunk.length - at);
      const n = Math.min(chunk.length - at, this.current.length - this.filled);
      this.current.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      this.size += n;
      at += n;
    }
  }

  /** The segments written; the writer is not used afterwards. */
  finish(): Uint8Array[] {
    if (this.filled === 0) return this.done;
    // Keep a mostly full last segment as it is; copy a mostly empty one to its size.
    const last = this.filled === this.current.length ? this.current : this.filled * 2 >= this.current.length ? this.current.subarray(0, this.filled) : this.current.slice(0, this.filled);
    return [...this.done, last];
  }

  /** Room for at least one more byte, with `wanted` bytes of the chunk at hand still to place. */
  private grow(wanted: number): void {
    // What the current segment would need to hold the rest of a body of the hinted size.
    const ahead = this.sizeHint !== undefined && this.sizeHint > this.size ? this.filled + this.sizeHint - this.size : Infinity;
    if (this.done.length === 0 && this.current.length < SEGMENT_BYTES) {
      // The first segment doubles, copying what it holds (under 1 MiB in all).
      const capacity = Math.min(SEGMENT_BYTES, Math.max(FIRST_SEGMENT_BYTES, 2 * this.current.length, this.filled + wanted), Math.max(ahead, this.filled + 1));
      const next = allocate(capacity);
      next.set(this.current.subarray(0, this.filled));
      this.current = next;
      return;
    }
    this.done.push(this.current);
    this.current = allocate(Math.min(SEGMENT_BYTES, Math.max(ahead - this.filled, 1)));
    this.filled = 0;
  }
}

/** A segment of its own (not a slice of Node's shared pool, which a stored object would keep alive). */
function allocate(bytes: number): Uint8Array {
  return Buffer.allocUnsafeSlow(bytes);
}

async function collect(body: AsyncIterable<Uint8Array>, signal: AbortSignal, writer: SegmentWriter, reference: string): Promise<Uint8Array[]> {
  for await (const chunk of abortable(body, signal, reference)) writer.write(chunk);
  throwIfAborted(signal, reference);
  return writer.finish();
}

function sizeOf(data: Segments): number {
  let size = 0;
  for (const segment of data) size += segment.length;
  return size;
}

async function* slices(data: Segments, offset: number, length: number, signal: AbortSignal, reference: string): AsyncGenerator<Uint8Array> {
  let start = 0;
  const end = offset + length;
  for (const segment of data) {
    const segmentEnd = start + segment.length;
    if (segmentEnd > offset && start < end) {
      throwIfAborted(signal, reference);
      yield segment.subarray(Math.max(offset, start) - start, Math.min(end, segmentEnd) - start);
    }
    if (segmentEnd >= end) return;
    start = segmentEnd;
  }
}

export function createMemoryStore(options: MemoryStoreOptions = {}): RawStore {
  const containers = new Map<string, Map<string, Entry>>();
  const limit: SizeLimit =
    options.maxObjectBytes === undefined ? availableMemory() : { bytes: options.maxObjectBytes, what: "the memory store's maxObjectBytes" };

  function objects(container: string): Map<string, Entry> {
    let map = containers.get(container);
    if (map === undefined) {
      map = new Map();
      containers.set(container, map);
    }
    return map;
  }

  function current(ref: Ref): Entry | undefined {
    return containers.get(ref.container)?.get(ref.key);
  }

  function commit(ref: Ref, data: Segments, meta: Omit<ObjectMeta, "key" | "size" | "etag" | "updated" | "generation">): ObjectMeta {
    const entry: Entry = {
      data,
      meta: { ...meta, key: ref.key, size: sizeOf(data), etag: newEtag(), updated: new Date(), generation: "" },
    };
    objects(ref.container).set(ref.key, entry);
    return copyMeta(entry.meta);
  }

  function existing(ref: Ref): Entry {
    const entry = current(ref);
    if (entry === undefined) {
      throw new StowdError("NOT_FOUND", `${referenceOf(ref)} does not exist`, { reference: referenceOf(ref), backend: KIND });
    }
    return entry;
  }

  /**
   * An object's segments followed by the appended ones. Only a small old
   * last segment and the first appended one are copied, into one, when they
   * fit in a segment together: a run of appends costs what it appends, not
   * the object's size each time, and never leaves two neighbours that would
   * fit in one segment (so segments stay half full on average).
   */
  function joined(entry: Entry, added: Segments, reference: string): Segments {
    const size = entry.meta.size + sizeOf(added);
    if (size > limit.bytes) throw tooLarge(reference, size, limit, false);
    const old = entry.data;
    const tail = old.at(-1);
    const first = added[0];
    if (tail === undefined || first === undefined || tail.length + first.length > SEGMENT_BYTES) return [...old, ...added];
    const merged = allocate(tail.length + first.length);
    merged.set(tail);
    merged.set(first, tail.length);
    return [...old.slice(0, -1), merged, ...added.slice(1)];
  }

  function keysUnder(prefix: Ref): Array<[string, Entry]> {
    const map = containers.get(prefix.container);
    if (map === undefined) return [];
    return [...map].filter(([key]) => key.startsWith(prefix.key)).sort(([a], [b]) => compareKeys(a, b));
  }

  return {
    kind: KIND,
    identity: containerKeyIdentity,
    capabilities,

    async head(ref) {
      const entry = current(ref);
      return entry === undefined ? undefined : copyMeta(entry.meta);
    },

    async read(ref, options, signal): Promise<ReadResult> {
      const reference = referenceOf(ref);
      throwIfAborted(signal, reference);
      const entry = existing(ref);
      checkEtag(entry.meta, options.ifMatchEtag, reference, "nothing was read");
      const { offset, length } = resolveRange(options.range, entry.meta.size, reference);
      return {
        meta: copyMeta(entry.meta),
        offset,
        length,
        body: slices(entry.data, offset, length, signal, reference),
        close: async () => {},
      };
    },

    async write(ref, body, options, signal) {
      const reference = referenceOf(ref);
      requireKey(ref);
      checkPreconditions(current(ref)?.meta, options.preconditions, reference); // fail fast, before reading the body
      if (options.size !== undefined && options.size > limit.bytes) throw tooLarge(reference, options.size, limit, true);
      const data = await collect(body, signal, new SegmentWriter(reference, limit, options.size), reference);
      checkPreconditions(current(ref)?.meta, options.preconditions, reference);
      return commit(ref, data, {
        contentType: contentTypeOrDefault(options.contentType),
        metadata: { ...options.metadata },
        ...(options.contentMd5 === undefined ? {} : { contentMd5: Uint8Array.from(options.contentMd5) }),
      });
    },

    async append(ref, body, options, signal) {
      const reference = referenceOf(ref);
      requireKey(ref);
      // Everything below runs synchronously after the body is buffered, so
      // checking against the current object and replacing it is atomic.
      const check = (): Entry | undefined => {
        const entry = current(ref);
        if (entry === undefined) {
          if (!options.createIfMissing) {
            throw new StowdError("NOT_FOUND", `${reference} does not exist; set create_if_missing to create it by appending`, { reference, backend: KIND });
          }
          if (options.ifMatchEtag !== undefined) checkPreconditions(undefined, { ifMatchEtag: options.ifMatchEtag }, reference);
        } else {
          checkEtag(entry.meta, options.ifMatchEtag, reference, "nothing was appended");
        }
        const size = entry?.meta.size ?? 0;
        if (options.expectedOffset !== undefined && options.expectedOffset !== size) {
          throw new StowdError("PRECONDITION_FAILED", `${reference} has ${size} bytes, not the expected offset ${options.expectedOffset}; nothing was appended`, {
            reference,
            size,
            field: "header.expected_offset",
          });
        }
        return entry;
      };
      check(); // fail fast, before reading the body
      const added = await collect(body, signal, new SegmentWriter(reference, limit, undefined, current(ref)?.meta.size ?? 0), reference);
      const entry = check();
      const data = entry === undefined ? added : joined(entry, added, reference);
      return commit(ref, data, {
        contentType: entry?.meta.contentType ?? contentTypeOrDefault(options.contentType),
        metadata: { ...entry?.meta.metadata },
      });
    },

    async list(prefix, options) {
      const snapshot = keysUnder(prefix);
      const byKey = new Map(snapshot);
      const page = await pageKeys(
        snapshot.map(([key]) => key),
        prefix.key,
        options,
        referenceOf(prefix),
      );
      return {
        objects: page.keys.flatMap((key) => {
          const entry = byKey.get(key);
          return entry === undefined ? [] : [copyMeta(entry.meta)];
        }),
        commonPrefixes: page.commonPrefixes,
        nextPageToken: page.nextPageToken,
      };
    },

    async delete(ref, options) {
      const entry = current(ref);
      if (entry === undefined) return false;
      checkEtag(entry.meta, options.ifMatchEtag, referenceOf(ref), "nothing was deleted");
      return containers.get(ref.container)?.delete(ref.key) ?? false;
    },

    async deletePrefix(prefix) {
      const map = containers.get(prefix.container);
      let count = 0;
      for (const [key] of keysUnder(prefix)) if (map?.delete(key)) count++;
      return count;
    },

    async copy(source, destination, options, signal) {
      const reference = referenceOf(destination);
      requireKey(destination);
      throwIfAborted(signal, reference);
      const from = existing(source);
      checkEtag(from.meta, options.ifSourceMatchEtag, referenceOf(source), "nothing was copied");
      checkPreconditions(current(destination)?.meta, options.preconditions, reference);
      const { contentType, metadata, contentMd5 } = from.meta;
      // Entries are never mutated, so the copy can share the bytes.
      return commit(destination, from.data, {
        contentType,
        metadata: { ...metadata },
        ...(contentMd5 === undefined ? {} : { contentMd5: Uint8Array.from(contentMd5) }),
      });
    },

    async signUrl() {
      throw unsupported(KIND, "signed URLs");
    },

    async close() {
      containers.clear();
    },
  };
}
