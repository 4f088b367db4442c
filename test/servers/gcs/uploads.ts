// Uploads, as the JSON API takes them: POST /upload/storage/v1/b/{bucket}/o
// with uploadType=media (the bytes), multipart (JSON metadata + bytes in
// one multipart/related body) or resumable (a session: PUT chunks with
// Content-Range to the session URI, 308 until the last one). Nothing is
// visible until the upload completes; preconditions are checked when a
// resumable session starts and again, atomically, when it commits.
import { randomBytes } from "node:crypto";
import { crc32cBase64 } from "./crc32c.js";
import { header, readBody, readJson, sendJson, type Context } from "./http.js";
import {
  checkObjectName,
  checkPreconditions,
  GcsHttpError,
  invalid,
  md5Base64,
  metadataFrom,
  objectResource,
  preconditionParams,
  type StoredObject,
} from "./model.js";

/** GCS takes non-final chunks of a resumable upload in multiples of 256 KiB. */
export const CHUNK_GRANULARITY = 256 * 1024;

interface Hashes {
  md5Hash?: string | undefined;
  crc32c?: string | undefined;
}

interface Session {
  id: string;
  bucket: string;
  name: string;
  contentType: string | undefined;
  metadata: Record<string, string>;
  hashes: Hashes;
  declaredSize: number | undefined;
  conditions: URLSearchParams;
  chunks: Buffer[];
  received: number;
  created: number;
  result?: StoredObject;
}

export interface UploadOptions {
  /** How long a resumable session stays usable (GCS: one week). */
  sessionTtlMs: number;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalid(`${field} must be a string`);
  return value;
}

/** Checks the MD5 / CRC32C a client declared (resource fields or an X-Goog-Hash header) against the bytes. */
function verifyHashes(data: Buffer, declared: Hashes, xGoogHash: string | undefined): void {
  const fromHeader: Hashes = {};
  for (const part of (xGoogHash ?? "").split(",")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const [kind, value] = [part.slice(0, at).trim(), part.slice(at + 1).trim()];
    if (kind === "md5") fromHeader.md5Hash = value;
    if (kind === "crc32c") fromHeader.crc32c = value;
  }
  for (const expected of [declared.md5Hash, fromHeader.md5Hash]) {
    const actual = md5Base64(data);
    if (expected !== undefined && expected !== actual) {
      throw invalid(`Provided MD5 hash "${expected}" doesn't match calculated MD5 hash "${actual}".`);
    }
  }
  for (const expected of [declared.crc32c, fromHeader.crc32c]) {
    const actual = crc32cBase64(data);
    if (expected !== undefined && expected !== actual) {
      throw invalid(`Provided CRC32C "${expected}" doesn't match calculated CRC32C "${actual}".`);
    }
  }
}

/** Parses the two-part multipart/related body of uploadType=multipart; a truncated body is refused. */
function parseMultipart(
  body: Buffer,
  contentType: string | undefined,
): { metadata: Record<string, unknown>; media: Buffer; mediaType: string | undefined } {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType ?? "")?.[1];
  if (contentType?.toLowerCase().startsWith("multipart/related") !== true || boundary === undefined) {
    throw invalid("uploadType=multipart needs a multipart/related body with a boundary");
  }
  const delimiter = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  if (body.indexOf(delimiter) !== 0) throw invalid("The multipart body does not start with its boundary");
  const parts: Array<{ headers: string; content: Buffer }> = [];
  let pos = delimiter.length;
  let closed = false;
  while (pos <= body.length) {
    if (body.subarray(pos, pos + 2).toString("latin1") === "--") {
      closed = true;
      break;
    }
    if (body.subarray(pos, pos + 2).toString("latin1") !== "\r\n") break;
    const headersEnd = body.indexOf("\r\n\r\n", pos + 2);
    if (headersEnd < 0) break;
    const end = body.indexOf(next, headersEnd + 4);
    if (end < 0) break;
    parts.push({ headers: body.subarray(pos + 2, headersEnd).toString("latin1"), content: body.subarray(headersEnd + 4, end) });
    pos = end + next.length;
  }
  if (!closed) throw invalid("The multipart body is truncated (no closing boundary); nothing was stored");
  if (parts.length !== 2) throw invalid(`A multipart upload has exactly two parts (metadata, media); got ${parts.length}`);
  const [meta, media] = parts as [{ headers: string; content: Buffer }, { headers: string; content: Buffer }];
  let metadata: Record<string, unknown>;
  try {
    metadata = JSON.parse(meta.content.toString("utf8")) as Record<string, unknown>;
  } catch {
    throw invalid("The first multipart part must be the object's JSON metadata");
  }
  const mediaType = /^content-type:\s*(.+)$/im.exec(media.headers)?.[1]?.trim();
  return { metadata, media: Buffer.from(media.content), mediaType };
}

export function createUploads(options: UploadOptions) {
  const sessions = new Map<string, Session>();

  function commitChecked(
    ctx: Context,
    bucket: string,
    name: string,
    conditions: URLSearchParams,
    data: Buffer,
    contentType: string | undefined,
    metadata: Record<string, string>,
  ): StoredObject {
    // Check and commit in one synchronous step: no other request can run in between.
    checkPreconditions(conditions, ctx.model.live(bucket, name));
    return ctx.model.commit(bucket, name, { data, contentType, metadata });
  }

  function session(ctx: Context): Session {
    const id = ctx.url.searchParams.get("upload_id") ?? "";
    const found = sessions.get(id);
    if (found !== undefined && Date.now() - found.created > options.sessionTtlMs) sessions.delete(id);
    const live = sessions.get(id);
    if (live === undefined) throw new GcsHttpError(404, "No such upload session (it expired, was cancelled, or failed)", "notFound");
    return live;
  }

  return {
    /** Open (not finished, not expired) resumable sessions. */
    openSessions(): number {
      let open = 0;
      for (const s of sessions.values()) if (s.result === undefined && Date.now() - s.created <= options.sessionTtlMs) open++;
      return open;
    },

    /** POST /upload/storage/v1/b/{bucket}/o */
    async start(ctx: Context, bucket: string): Promise<void> {
      const query = ctx.url.searchParams;
      const uploadType = query.get("uploadType");
      ctx.model.bucket(bucket);
      if (uploadType === "media") {
        const name = query.get("name") ?? "";
        checkObjectName(name);
        const data = await readBody(ctx.req);
        const object = commitChecked(ctx, bucket, name, query, data, header(ctx.req, "content-type"), {});
        sendJson(ctx.res, 200, objectResource(object, ctx.origin));
        return;
      }
      if (uploadType === "multipart") {
        const body = await readBody(ctx.req);
        const { metadata, media, mediaType } = parseMultipart(body, header(ctx.req, "content-type"));
        const name = query.get("name") ?? optionalString(metadata.name, "name") ?? "";
        checkObjectName(name);
        verifyHashes(
          media,
          { md5Hash: optionalString(metadata.md5Hash, "md5Hash"), crc32c: optionalString(metadata.crc32c, "crc32c") },
          header(ctx.req, "x-goog-hash"),
        );
        const contentType = optionalString(metadata.contentType, "contentType") ?? mediaType;
        const object = commitChecked(ctx, bucket, name, query, media, contentType, metadataFrom(metadata.metadata));
        sendJson(ctx.res, 200, objectResource(object, ctx.origin));
        return;
      }
      if (uploadType === "resumable") {
        const resource = await readJson(ctx.req);
        const name = query.get("name") ?? optionalString(resource.name, "name") ?? "";
        checkObjectName(name);
        const conditions = preconditionParams(query);
        checkPreconditions(conditions, ctx.model.live(bucket, name)); // fail early; checked again at commit
        const declared = header(ctx.req, "x-upload-content-length");
        const id = randomBytes(16).toString("hex");
        sessions.set(id, {
          id,
          bucket,
          name,
          contentType: header(ctx.req, "x-upload-content-type") ?? optionalString(resource.contentType, "contentType"),
          metadata: metadataFrom(resource.metadata),
          hashes: { md5Hash: optionalString(resource.md5Hash, "md5Hash"), crc32c: optionalString(resource.crc32c, "crc32c") },
          declaredSize: declared === undefined ? undefined : Number(declared),
          conditions,
          chunks: [],
          received: 0,
          created: Date.now(),
        });
        const location = `${ctx.origin}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
        ctx.res.writeHead(200, { Location: location, "Content-Length": 0 });
        ctx.res.end();
        return;
      }
      throw invalid(`Unsupported uploadType ${JSON.stringify(uploadType)}; the test server takes media, multipart and resumable`);
    },

    /** PUT to a session URI: a chunk, the last chunk, or a status query (`bytes *\/*`). */
    async put(ctx: Context): Promise<void> {
      const s = session(ctx);
      // A chunk whose request broke off is dropped whole (readBody rejects); GCS may keep part of it.
      const body = await readBody(ctx.req);
      if (s.result !== undefined) {
        sendJson(ctx.res, 200, objectResource(s.result, ctx.origin));
        return;
      }
      const range = header(ctx.req, "content-range");
      let start: number;
      let total: number | undefined;
      if (range === undefined) {
        // One PUT with the whole object.
        if (s.received !== 0) throw invalid("A PUT without Content-Range must carry the whole object");
        start = 0;
        total = body.length;
      } else {
        const status = /^bytes \*\/(\*|\d+)$/.exec(range);
        const chunk = /^bytes (\d+)-(\d+)\/(\*|\d+)$/.exec(range);
        if (status !== null) {
          if (body.length !== 0) throw invalid("Content-Range bytes */N carries no bytes");
          start = s.received;
          total = status[1] === "*" ? undefined : Number(status[1]);
        } else if (chunk !== null) {
          start = Number(chunk[1]);
          const end = Number(chunk[2]);
          total = chunk[3] === "*" ? undefined : Number(chunk[3]);
          if (end < start || end - start + 1 !== body.length)
            throw invalid(`Content-Range ${range} does not match the ${body.length} bytes sent`);
        } else {
          throw invalid(`Malformed Content-Range ${JSON.stringify(range)}`);
        }
      }
      if (start > s.received) throw invalid(`The chunk starts at byte ${start}, but only ${s.received} bytes were received`);
      const fresh = body.subarray(s.received - start);
      const isFinal = total !== undefined && start + body.length >= total;
      if (!isFinal && body.length % CHUNK_GRANULARITY !== 0) {
        throw invalid(`A non-final chunk must be a multiple of ${CHUNK_GRANULARITY} bytes; got ${body.length}`);
      }
      if (fresh.length > 0) {
        s.chunks.push(Buffer.from(fresh));
        s.received += fresh.length;
      }
      if (total !== undefined && s.received > total) throw invalid(`Received ${s.received} bytes, more than the declared total ${total}`);
      if (total === undefined || s.received < total) {
        const headers: Record<string, string | number> = { "Content-Length": 0 };
        if (s.received > 0) headers.Range = `bytes=0-${s.received - 1}`;
        ctx.res.writeHead(308, headers);
        ctx.res.end();
        return;
      }
      // The last chunk: verify and commit, or fail the session.
      sessions.delete(s.id);
      const data = Buffer.concat(s.chunks);
      s.chunks = [];
      if (s.declaredSize !== undefined && data.length !== s.declaredSize) {
        throw invalid(`X-Upload-Content-Length declared ${s.declaredSize} bytes, but the upload has ${data.length}`);
      }
      verifyHashes(data, s.hashes, header(ctx.req, "x-goog-hash"));
      s.result = commitChecked(ctx, s.bucket, s.name, s.conditions, data, s.contentType, s.metadata);
      sessions.set(s.id, s);
      sendJson(ctx.res, 200, objectResource(s.result, ctx.origin));
    },

    /** DELETE to a session URI cancels it; GCS answers 499. */
    cancel(ctx: Context): void {
      const s = session(ctx);
      sessions.delete(s.id);
      ctx.res.writeHead(499, { "Content-Length": 0 });
      ctx.res.end();
    },
  };
}
