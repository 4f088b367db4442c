// The memory store (`mem://`): for tests and ephemeral use, with the same
// semantics as every other store. Objects are immutable byte arrays replaced
// whole on commit, so a read keeps the snapshot it opened and writes are
// atomic: chunks are buffered and committed synchronously at the end, where
// the preconditions are checked.
import { randomBytes } from "node:crypto";
import { StowdError, unsupported } from "../errors.js";
import { formatReference, type Ref } from "../references/reference.js";
import { abortable, throwIfAborted } from "./abort.js";
import { resolveRange } from "./byte-range.js";
import { contentTypeOrDefault } from "./content-type.js";
import { compareKeys, pageKeys } from "./list-pages.js";
import { checkEtag, checkPreconditions } from "./preconditions.js";
import type { Capabilities, ObjectMeta, RawStore, ReadResult } from "./raw-store.js";
import { containerKeyIdentity } from "./object-identity.js";

const KIND = "memory";
const READ_CHUNK_BYTES = 1 << 20;

interface Entry {
  meta: ObjectMeta;
  data: Uint8Array;
}

const capabilities: Capabilities = {
  rangedReads: true,
  append: true,
  conditionalWrites: true,
  signedUrls: false,
  delimiterListing: true,
  serverSideCopy: true,
};

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

async function collect(body: AsyncIterable<Uint8Array>, signal: AbortSignal, reference: string, sizeHint?: number): Promise<Uint8Array> {
  // With a declared size, copy into one buffer as chunks arrive: holding
  // the chunks and concatenating at the end needs twice the object's size.
  const out = Buffer.allocUnsafe(sizeHint ?? 0);
  let filled = 0;
  const chunks: Uint8Array[] = [];
  for await (const chunk of abortable(body, signal, reference)) {
    if (chunks.length === 0 && filled + chunk.length <= out.length) {
      out.set(chunk, filled);
      filled += chunk.length;
    } else {
      chunks.push(chunk);
    }
  }
  throwIfAborted(signal, reference);
  if (chunks.length === 0 && filled === out.length) return out;
  // Buffer.concat copies, so the caller may reuse its chunks afterwards.
  return Buffer.concat([out.subarray(0, filled), ...chunks]);
}

async function* slices(data: Uint8Array, offset: number, length: number, signal: AbortSignal, reference: string): AsyncGenerator<Uint8Array> {
  for (let at = offset; at < offset + length; at += READ_CHUNK_BYTES) {
    throwIfAborted(signal, reference);
    yield data.subarray(at, Math.min(at + READ_CHUNK_BYTES, offset + length));
  }
}

export function createMemoryStore(): RawStore {
  const containers = new Map<string, Map<string, Entry>>();

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

  function commit(ref: Ref, data: Uint8Array, meta: Omit<ObjectMeta, "key" | "size" | "etag" | "updated" | "generation">): ObjectMeta {
    const entry: Entry = {
      data,
      meta: { ...meta, key: ref.key, size: data.length, etag: newEtag(), updated: new Date(), generation: "" },
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
      const { offset, length } = resolveRange(options.range, entry.data.length, reference);
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
      const data = await collect(body, signal, reference, options.size);
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
        const size = entry?.data.length ?? 0;
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
      const added = await collect(body, signal, reference);
      const entry = check();
      const data = entry === undefined ? added : Buffer.concat([entry.data, added]);
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
