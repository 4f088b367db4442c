// An object's manifest: the hash that describes its current version (size,
// etag, content type, metadata, data id, chunk size), as the store reads it
// and turns it into the ObjectMeta callers see.
import type { ObjectMeta } from "../raw-store.js";
import { corrupt } from "./errors.js";

/** The current version of an object, as its manifest describes it. */
export interface Manifest {
  dataId: string;
  size: number;
  chunkBytes: number;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  contentMd5?: Uint8Array;
  crc32c?: number;
  updated: Date;
}

/** What a script needs to name an object's current chunks (and an append, to extend its CRC32C). */
export interface Snapshot {
  dataId: string;
  size: number;
  chunkBytes: number;
  crc32c?: number;
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

/** The manifest in an HGETALL reply; undefined when the object does not exist. */
export function parseManifest(reply: unknown, reference: string): Manifest | undefined {
  const fields = asRecord(reply);
  if (Object.keys(fields).length === 0) return undefined;
  const { d, s, cs, e, ct, md, m5, c, u } = fields;
  const size = Number(s);
  const chunkBytes = Number(cs);
  if (
    d === undefined ||
    e === undefined ||
    !Number.isSafeInteger(size) ||
    size < 0 ||
    !Number.isSafeInteger(chunkBytes) ||
    chunkBytes <= 0
  ) {
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
  const crc32c = crc32cField(c);
  if (crc32c !== undefined) manifest.crc32c = crc32c;
  return manifest;
}

/** The manifest's `c` field (the CRC32C, in decimal); undefined when absent or not one. */
function crc32cField(value: unknown): number | undefined {
  if (typeof value !== "string" || !/^\d{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= 0xffffffff ? n : undefined;
}

export function metaOf(key: string, m: Manifest): ObjectMeta {
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
  if (m.crc32c !== undefined) meta.crc32c = m.crc32c;
  return meta;
}

/** An ObjectMeta carrying just what a script reported, for the shared precondition messages. */
export function reported(key: string, etag: unknown, size: unknown): ObjectMeta {
  return { key, size: Number(size), etag: String(etag), contentType: "", metadata: {}, updated: new Date(), generation: "" };
}

/** The snapshot a script reported with a "conflict" reply; undefined when the object is gone. */
export function snapshotOf(reply: unknown[]): Snapshot | undefined {
  const [, dataId, size, chunkBytes, crc] = reply as (string | null | undefined)[]; // the scripts reply with strings, nil for a missing field
  if (dataId === "" || dataId === undefined) return undefined;
  const crc32c = crc32cField(crc);
  return { dataId: String(dataId), size: Number(size), chunkBytes: Number(chunkBytes), ...(crc32c === undefined ? {} : { crc32c }) };
}
