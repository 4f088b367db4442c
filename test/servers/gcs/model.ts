// The GCS test server's in-memory model: buckets of live objects (no
// versioning: a write replaces the live generation), the JSON resources GCS
// answers with, its preconditions, object-name rules and listing order.
// Objects are immutable once committed, so a download in progress keeps
// serving the generation it started with.
import { createHash } from "node:crypto";
import { crc32cBase64 } from "./crc32c.js";

/** An error answered as GCS's JSON error body `{error: {code, message, errors: [...]}}`. */
export class GcsHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): unknown {
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: "global", reason: this.reason, ...this.extra }],
      },
    };
  }
}

export const noSuchBucket = () => new GcsHttpError(404, "The specified bucket does not exist.", "notFound");
export const noSuchObject = (bucket: string, name: string) => new GcsHttpError(404, `No such object: ${bucket}/${name}`, "notFound");
export const invalid = (message: string) => new GcsHttpError(400, message, "invalid");
export const notImplemented = (what: string) =>
  new GcsHttpError(501, `${what} is not implemented by the GCS test server`, "notImplemented");
const conditionNotMet = (header: string) =>
  new GcsHttpError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet", {
    locationType: "header",
    location: header,
  });

export interface StoredObject {
  bucket: string;
  name: string;
  data: Buffer;
  generation: number;
  metageneration: number;
  contentType: string;
  metadata: Record<string, string>;
  /** Absent for composite objects, as on GCS. */
  md5Hash?: string;
  crc32c: string;
  /** Set for composite objects. */
  componentCount?: number;
  timeCreated: Date;
}

/** What a write supplies; everything else is computed at commit. */
export interface NewObject {
  data: Buffer;
  contentType?: string | undefined;
  metadata?: Record<string, string> | undefined;
  componentCount?: number;
}

export interface Bucket {
  name: string;
  timeCreated: Date;
  objects: Map<string, StoredObject>;
}

const MAX_NAME_BYTES = 1024;
let lastGeneration = 0;

/** Generations are microsecond timestamps on GCS; here they are also strictly increasing. */
function nextGeneration(): number {
  lastGeneration = Math.max(lastGeneration + 1, Date.now() * 1000);
  return lastGeneration;
}

/** GCS's object-name rules (https://cloud.google.com/storage/docs/objects#naming). */
export function checkObjectName(name: string): void {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes === 0 || bytes > MAX_NAME_BYTES) throw invalid(`The object name must be 1-${MAX_NAME_BYTES} bytes of UTF-8; got ${bytes}.`);
  if (/[\r\n]/.test(name)) throw invalid("Object names cannot contain carriage return or line feed characters.");
  if (name === "." || name === "..") throw invalid("Object names cannot be . or ..");
  if (name.startsWith(".well-known/acme-challenge/")) throw invalid("Object names cannot start with .well-known/acme-challenge/");
}

export function md5Base64(data: Uint8Array): string {
  return createHash("md5").update(data).digest("base64");
}

export function etagOf(object: StoredObject): string {
  // GCS's JSON etags are opaque base64 strings that change with the generation and metageneration.
  return Buffer.from(`${object.generation}/${object.metageneration}`).toString("base64");
}

export function createModel() {
  const buckets = new Map<string, Bucket>();

  function bucket(name: string): Bucket {
    const found = buckets.get(name);
    if (found === undefined) throw noSuchBucket();
    return found;
  }

  return {
    buckets,
    bucket,

    createBucket(name: string): Bucket {
      let found = buckets.get(name);
      if (found === undefined) {
        found = { name, timeCreated: new Date(), objects: new Map() };
        buckets.set(name, found);
      }
      return found;
    },

    live(bucketName: string, name: string): StoredObject | undefined {
      return bucket(bucketName).objects.get(name);
    },

    /** The live object, or 404; `generation` (when given) must be the live one (no versioning). */
    get(bucketName: string, name: string, generation?: string | null): StoredObject {
      const object = bucket(bucketName).objects.get(name);
      if (object === undefined || (generation != null && generation !== "" && String(object.generation) !== generation)) {
        throw noSuchObject(bucketName, name);
      }
      return object;
    },

    /** Replaces the live object. Callers check preconditions first, synchronously, so the check and the commit are atomic. */
    commit(bucketName: string, name: string, input: NewObject): StoredObject {
      const target = bucket(bucketName);
      checkObjectName(name);
      const object: StoredObject = {
        bucket: bucketName,
        name,
        data: input.data,
        generation: nextGeneration(),
        metageneration: 1,
        contentType: input.contentType || "application/octet-stream",
        metadata: { ...input.metadata },
        crc32c: crc32cBase64(input.data),
        timeCreated: new Date(),
      };
      if (input.componentCount === undefined) object.md5Hash = md5Base64(input.data);
      else object.componentCount = input.componentCount;
      target.objects.set(name, object);
      return object;
    },

    remove(bucketName: string, name: string): void {
      bucket(bucketName).objects.delete(name);
    },
  };
}

export type Model = ReturnType<typeof createModel>;

function numberParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  if (!/^-?\d+$/.test(raw)) throw invalid(`Invalid value for ${name}: ${JSON.stringify(raw)}`);
  return Number(raw);
}

/**
 * GCS's generation / metageneration preconditions against the live object
 * (`prefix` = "Source" for a rewrite's source). ifGenerationMatch=0 means
 * "no live object"; any NotMatch condition fails when there is no live object.
 */
export function checkPreconditions(query: URLSearchParams, current: StoredObject | undefined, prefix = ""): void {
  const generationMatch = numberParam(query, `if${prefix}GenerationMatch`);
  if (generationMatch !== undefined && (generationMatch === 0 ? current !== undefined : current?.generation !== generationMatch)) {
    throw conditionNotMet(`If-${prefix ? "Source-" : ""}Generation-Match`);
  }
  const generationNotMatch = numberParam(query, `if${prefix}GenerationNotMatch`);
  if (generationNotMatch !== undefined && (current === undefined || current.generation === generationNotMatch)) {
    throw conditionNotMet(`If-${prefix ? "Source-" : ""}Generation-Not-Match`);
  }
  const metagenerationMatch = numberParam(query, `if${prefix}MetagenerationMatch`);
  if (metagenerationMatch !== undefined && current?.metageneration !== metagenerationMatch) {
    throw conditionNotMet(`If-${prefix ? "Source-" : ""}Metageneration-Match`);
  }
  const metagenerationNotMatch = numberParam(query, `if${prefix}MetagenerationNotMatch`);
  if (metagenerationNotMatch !== undefined && (current === undefined || current.metageneration === metagenerationNotMatch)) {
    throw conditionNotMet(`If-${prefix ? "Source-" : ""}Metageneration-Not-Match`);
  }
}

/** The precondition parameters of a request, kept for a resumable session's commit. */
export function preconditionParams(query: URLSearchParams): URLSearchParams {
  const kept = new URLSearchParams();
  for (const name of ["ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch"]) {
    const value = query.get(name);
    if (value !== null) kept.set(name, value);
  }
  return kept;
}

export function objectResource(object: StoredObject, origin: string): Record<string, unknown> {
  const path = `b/${encodeURIComponent(object.bucket)}/o/${encodeURIComponent(object.name)}`;
  const resource: Record<string, unknown> = {
    kind: "storage#object",
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${origin}/storage/v1/${path}`,
    mediaLink: `${origin}/download/storage/v1/${path}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: String(object.generation),
    metageneration: String(object.metageneration),
    contentType: object.contentType,
    storageClass: "STANDARD",
    size: String(object.data.length),
    crc32c: object.crc32c,
    etag: etagOf(object),
    timeCreated: object.timeCreated.toISOString(),
    updated: object.timeCreated.toISOString(),
    timeStorageClassUpdated: object.timeCreated.toISOString(),
  };
  if (object.md5Hash !== undefined) resource.md5Hash = object.md5Hash;
  if (object.componentCount !== undefined) resource.componentCount = object.componentCount;
  if (Object.keys(object.metadata).length > 0) resource.metadata = { ...object.metadata };
  return resource;
}

/** The headers GCS sends with an object's bytes (the SDK validates downloads with x-goog-hash). */
export function mediaHeaders(object: StoredObject): Record<string, string | number> {
  const hashes = [`crc32c=${object.crc32c}`, ...(object.md5Hash === undefined ? [] : [`md5=${object.md5Hash}`])].join(",");
  return {
    "Content-Type": object.contentType,
    ETag: `"${etagOf(object)}"`,
    "Accept-Ranges": "bytes",
    "x-goog-generation": String(object.generation),
    "x-goog-metageneration": String(object.metageneration),
    "x-goog-hash": hashes,
    "x-goog-stored-content-length": object.data.length,
    "x-goog-stored-content-encoding": "identity",
  };
}

export function bucketResource(bucket: Bucket, origin: string): Record<string, unknown> {
  return {
    kind: "storage#bucket",
    id: bucket.name,
    selfLink: `${origin}/storage/v1/b/${encodeURIComponent(bucket.name)}`,
    name: bucket.name,
    projectNumber: "0",
    metageneration: "1",
    location: "US",
    storageClass: "STANDARD",
    etag: "CAE=",
    timeCreated: bucket.timeCreated.toISOString(),
    updated: bucket.timeCreated.toISOString(),
  };
}

/** User metadata from a JSON resource: string values only; null (delete) means absent. */
export function metadataFrom(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalid("metadata must be an object of strings");
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (entry === null) continue;
    if (typeof entry !== "string") throw invalid(`metadata.${key} must be a string`);
    out[key] = entry;
  }
  return out;
}

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

interface ListEntry {
  name: string;
  isPrefix: boolean;
  object?: StoredObject;
}

/**
 * objects.list: names in UTF-8 byte order, rolled up at the delimiter,
 * items and prefixes counted together against maxResults (as on GCS). The
 * page token names the last entry served.
 */
export function listObjects(bucket: Bucket, query: URLSearchParams, origin: string): Record<string, unknown> {
  for (const unsupported of ["versions", "matchGlob", "softDeleted", "includeFoldersAsPrefixes"]) {
    const value = query.get(unsupported);
    if (value !== null && value !== "false") throw notImplemented(`objects.list with ${unsupported}`);
  }
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const startOffset = query.get("startOffset") ?? "";
  const endOffset = query.get("endOffset") ?? "";
  const maxResults = Math.min(1000, numberParam(query, "maxResults") ?? 1000);
  if (maxResults < 1) throw invalid("maxResults must be positive");
  let after: { name: string; isPrefix: boolean } | undefined;
  const token = query.get("pageToken");
  if (token) {
    try {
      after = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { name: string; isPrefix: boolean };
    } catch {
      throw invalid("Invalid pageToken");
    }
    if (typeof after?.name !== "string") throw invalid("Invalid pageToken");
  }
  const names = [...bucket.objects.keys()]
    .filter(
      (name) =>
        name.startsWith(prefix) &&
        (startOffset === "" || byUtf8(name, startOffset) >= 0) &&
        (endOffset === "" || byUtf8(name, endOffset) < 0),
    )
    .sort(byUtf8);
  const entries: ListEntry[] = [];
  for (const name of names) {
    const cut = delimiter === "" ? -1 : name.indexOf(delimiter, prefix.length);
    const entry: ListEntry =
      cut < 0
        ? { name, isPrefix: false, object: bucket.objects.get(name)! }
        : { name: name.slice(0, cut + delimiter.length), isPrefix: true };
    const previous = entries[entries.length - 1];
    if (entry.isPrefix && previous?.isPrefix && previous.name === entry.name) continue;
    if (after !== undefined) {
      // Served already: at or before the last entry, or under the last rolled-up prefix.
      const order = byUtf8(entry.name, after.name);
      if (order <= 0 || (after.isPrefix && entry.name.startsWith(after.name))) continue;
    }
    entries.push(entry);
  }
  const page = entries.slice(0, maxResults);
  const result: Record<string, unknown> = { kind: "storage#objects" };
  const items = page.filter((e) => !e.isPrefix).map((e) => objectResource(e.object!, origin));
  const prefixes = page.filter((e) => e.isPrefix).map((e) => e.name);
  if (items.length > 0) result.items = items;
  if (prefixes.length > 0) result.prefixes = prefixes;
  const last = page[page.length - 1];
  if (entries.length > maxResults && last !== undefined) {
    result.nextPageToken = Buffer.from(JSON.stringify({ name: last.name, isPrefix: last.isPrefix }), "utf8").toString("base64url");
  }
  return result;
}
