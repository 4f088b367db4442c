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
  updated: Date;
}

/** What a script needs to name an object's current chunks. */
export interface Snapshot {
  dataId: string;
  size: number;
  chunkBytes: number;
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
  const { d, s, cs, e, ct, md, m5, u } = fields;
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
  return manifest;
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
  return meta;
}

/** An ObjectMeta carrying just what a script reported, for the shared precondition messages. */
export function reported(key: string, etag: unknown, size: unknown): ObjectMeta {
  return { key, size: Number(size), etag: String(etag), contentType: "", metadata: {}, updated: new Date(), generation: "" };
}

/** The snapshot a script reported with a "conflict" reply; undefined when the object is gone. */
export function snapshotOf(reply: unknown[]): Snapshot | undefined {
  const [, dataId, size, chunkBytes] = reply as (string | null | undefined)[]; // the scripts reply with strings, nil for a missing field
  return dataId === "" || dataId === undefined ? undefined : { dataId: String(dataId), size: Number(size), chunkBytes: Number(chunkBytes) };
}
