// A small GCS JSON API server for tests: in memory, on a free loopback port,
// implementing what @google-cloud/storage calls for stowd's GCS store
// (uploads, metadata, media with Range, list, delete, rewrite, compose,
// generation preconditions, V4 signed URLs). No GCS emulator runs offline
// here, so GCS is verified against this server, not against Google; what it
// covers and what it does not is listed in docs/gcs-test-server.md.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { KeyObject } from "node:crypto";
import { ClientGone, header, readJson, sendError, sendJson, type Context } from "./gcs/http.js";
import {
  bucketResource,
  checkObjectName,
  checkPreconditions,
  createModel,
  GcsHttpError,
  invalid,
  listObjects,
  mediaHeaders,
  metadataFrom,
  objectResource,
  type StoredObject,
} from "./gcs/model.js";
import { createSignedUrls, isSignedRequest } from "./gcs/signed-urls.js";
import { createUploads } from "./gcs/uploads.js";

export interface GcsTestServerOptions {
  /** Buckets that exist from the start. */
  buckets?: string[];
  /** Public keys (PEM or KeyObject) of the service accounts whose V4 signed URLs are accepted, by client_email. */
  signingKeys?: Record<string, string | KeyObject>;
  /** Lifetime of a resumable upload session; default one week, as on GCS. */
  sessionTtlMs?: number;
  /** Bytes a rewrite copies per call before answering with a rewriteToken; default: all at once. */
  rewriteBytesPerCall?: number;
}

export interface RecordedRequest {
  method: string;
  /** Decoded path, e.g. /storage/v1/b/bucket/o/a/b. */
  path: string;
  query: Record<string, string>;
  contentRange?: string;
  /** The W3C trace context the request carried, when it carried one. */
  traceparent?: string;
}

export interface Fault {
  method?: string;
  /** Substring of (or pattern for) the decoded path. */
  path?: string | RegExp;
  /** Query parameters the request must have, e.g. { alt: "media" }. */
  query?: Record<string, string>;
  /** The status to answer with; "hang" = take the request and never answer (a stalled backend). */
  status: number | "hang";
  /** How many matching requests fail; default 1. */
  times?: number;
}

export interface GcsTestServer {
  /** http://127.0.0.1:port, for the SDK's apiEndpoint. */
  endpoint: string;
  createBucket(name: string): void;
  deleteBucket(name: string): void;
  /** Every request served, oldest first. */
  readonly requests: RecordedRequest[];
  /** Resumable sessions neither finished, cancelled nor expired. */
  openSessions(): number;
  /** Answers the next matching request(s) with `status` and a JSON error body (or not at all) instead of serving them. */
  failNext(fault: Fault): void;
  close(): Promise<void>;
}

const MAX_COMPOSE_SOURCES = 32;

function parseRange(value: string | undefined, size: number): { start: number; end: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (m === null || (m[1] === "" && m[2] === "")) throw invalid(`Malformed Range header ${JSON.stringify(value)}`);
  const unsatisfiable = () => new GcsHttpError(416, "The requested range cannot be satisfied.", "requestedRangeNotSatisfiable");
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (size === 0 || suffix === 0) throw unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (start >= size) throw unsatisfiable();
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (end < start) throw invalid(`Malformed Range header ${JSON.stringify(value)}`);
  return { start, end };
}

interface RewriteState {
  source: StoredObject;
  copied: number;
}

export async function startGcsTestServer(options: GcsTestServerOptions = {}): Promise<GcsTestServer> {
  const model = createModel();
  for (const name of options.buckets ?? []) model.createBucket(name);
  const uploads = createUploads({ sessionTtlMs: options.sessionTtlMs ?? 7 * 24 * 3600 * 1000 });
  const signed = createSignedUrls(options.signingKeys ?? {});
  const requests: RecordedRequest[] = [];
  const faults: Array<Required<Pick<Fault, "status" | "times">> & Fault> = [];
  const rewrites = new Map<string, RewriteState>();
  let rewriteCounter = 0;

  function takeFault(request: RecordedRequest): Fault | undefined {
    const index = faults.findIndex(
      (f) =>
        (f.method === undefined || f.method === request.method) &&
        (f.path === undefined || (typeof f.path === "string" ? request.path.includes(f.path) : f.path.test(request.path))) &&
        Object.entries(f.query ?? {}).every(([name, value]) => request.query[name] === value),
    );
    const fault = faults[index];
    if (fault === undefined) return undefined;
    if (--fault.times <= 0) faults.splice(index, 1);
    return fault;
  }

  function getObject(ctx: Context, bucket: string, name: string): void {
    const q = ctx.url.searchParams;
    const object = model.get(bucket, name, q.get("generation"));
    checkPreconditions(q, object);
    if (q.get("alt") !== "media") {
      sendJson(ctx.res, 200, objectResource(object, ctx.origin));
      return;
    }
    const size = object.data.length;
    const range = parseRange(header(ctx.req, "range"), size);
    if (range === undefined) {
      ctx.res.writeHead(200, { ...mediaHeaders(object), "Content-Length": size });
      ctx.res.end(object.data);
      return;
    }
    ctx.res.writeHead(206, {
      ...mediaHeaders(object),
      "Content-Length": range.end - range.start + 1,
      "Content-Range": `bytes ${range.start}-${range.end}/${size}`,
    });
    ctx.res.end(object.data.subarray(range.start, range.end + 1));
  }

  function deleteObject(ctx: Context, bucket: string, name: string): void {
    const q = ctx.url.searchParams;
    checkPreconditions(q, model.get(bucket, name, q.get("generation")));
    model.remove(bucket, name);
    ctx.res.writeHead(204);
    ctx.res.end();
  }

  async function compose(ctx: Context, bucket: string, name: string): Promise<void> {
    const body = await readJson(ctx.req);
    checkObjectName(name);
    const sources = body.sourceObjects;
    if (!Array.isArray(sources) || sources.length < 1 || sources.length > MAX_COMPOSE_SOURCES) {
      throw invalid(`compose takes 1 to ${MAX_COMPOSE_SOURCES} sourceObjects`);
    }
    const parts = sources.map((raw: unknown) => {
      // Generations are int64: strings in the JSON API, numbers from some clients.
      const source = raw as { name?: unknown; generation?: string | number; objectPreconditions?: { ifGenerationMatch?: string | number } };
      if (typeof source.name !== "string") throw invalid("every source object needs a name");
      const object = model.get(bucket, source.name, source.generation === undefined ? null : String(source.generation));
      const expected = source.objectPreconditions?.ifGenerationMatch;
      if (expected !== undefined && String(expected) !== String(object.generation)) {
        throw new GcsHttpError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet");
      }
      return object;
    });
    const destination = (body.destination ?? {}) as { contentType?: unknown; metadata?: unknown };
    checkPreconditions(ctx.url.searchParams, model.live(bucket, name));
    const object = model.commit(bucket, name, {
      data: Buffer.concat(parts.map((p) => p.data)),
      contentType: typeof destination.contentType === "string" ? destination.contentType : undefined,
      metadata: metadataFrom(destination.metadata),
      componentCount: parts.reduce((n, p) => n + (p.componentCount ?? 1), 0),
    });
    sendJson(ctx.res, 200, objectResource(object, ctx.origin));
  }

  async function rewrite(ctx: Context, sourceBucket: string, sourceName: string, destBucket: string, destName: string): Promise<void> {
    const q = ctx.url.searchParams;
    const resource = await readJson(ctx.req);
    checkObjectName(destName);
    model.bucket(destBucket);
    const token = q.get("rewriteToken");
    let state: RewriteState | undefined;
    if (token) {
      state = rewrites.get(token);
      if (state === undefined) throw invalid("Invalid rewriteToken");
    } else {
      const source = model.get(sourceBucket, sourceName, q.get("sourceGeneration"));
      checkPreconditions(q, source, "Source");
      state = { source, copied: 0 };
    }
    const perCall = Number(q.get("maxBytesRewrittenPerCall") ?? options.rewriteBytesPerCall ?? Infinity);
    const size = state.source.data.length;
    state.copied = Math.min(size, state.copied + perCall);
    if (state.copied < size) {
      const next = token ?? `rw${++rewriteCounter}`;
      rewrites.set(next, state);
      sendJson(ctx.res, 200, {
        kind: "storage#rewriteResponse",
        totalBytesRewritten: String(state.copied),
        objectSize: String(size),
        done: false,
        rewriteToken: next,
      });
      return;
    }
    if (token) rewrites.delete(token);
    // An empty resource copies the source's content type and metadata, as on GCS.
    const given = Object.keys(resource).some((key) => key === "contentType" || key === "metadata");
    const source = state.source;
    checkPreconditions(q, model.live(destBucket, destName));
    const object = model.commit(destBucket, destName, {
      data: source.data,
      contentType: given ? (typeof resource.contentType === "string" ? resource.contentType : undefined) : source.contentType,
      metadata: given ? metadataFrom(resource.metadata) : source.metadata,
      ...(source.componentCount === undefined ? {} : { componentCount: source.componentCount }),
    });
    sendJson(ctx.res, 200, {
      kind: "storage#rewriteResponse",
      totalBytesRewritten: String(size),
      objectSize: String(size),
      done: true,
      resource: objectResource(object, ctx.origin),
    });
  }

  async function route(ctx: Context, rawPath: string): Promise<void> {
    const method = ctx.req.method ?? "GET";
    let segments: string[];
    try {
      segments = rawPath.split("/").slice(1).map(decodeURIComponent);
    } catch {
      throw invalid("The path has a malformed percent-escape");
    }
    const [s0, s1, s2, bucket, s4, object, s6, ...rest] = segments;
    if (s0 === "storage" && s1 === "v1" && s2 === "b" && bucket !== undefined) {
      if (s4 === undefined && method === "GET") {
        sendJson(ctx.res, 200, bucketResource(model.bucket(bucket), ctx.origin));
        return;
      }
      if (s4 === "o" && object === undefined && method === "GET") {
        sendJson(ctx.res, 200, listObjects(model.bucket(bucket), ctx.url.searchParams, ctx.origin));
        return;
      }
      if (s4 === "o" && object !== undefined && s6 === undefined) {
        if (method === "GET") return getObject(ctx, bucket, object);
        if (method === "DELETE") return deleteObject(ctx, bucket, object);
      }
      if (s4 === "o" && object !== undefined && s6 === "compose" && rest.length === 0 && method === "POST")
        return compose(ctx, bucket, object);
      if (
        s4 === "o" &&
        object !== undefined &&
        s6 === "rewriteTo" &&
        rest.length === 4 &&
        rest[0] === "b" &&
        rest[2] === "o" &&
        method === "POST"
      ) {
        return rewrite(ctx, bucket, object, rest[1]!, rest[3]!);
      }
    }
    if (s0 === "upload" && s1 === "storage" && s2 === "v1" && bucket === "b" && object === "o" && s4 !== undefined && s6 === undefined) {
      // /upload/storage/v1/b/{bucket}/o
      const uploadBucket = s4;
      if (method === "POST") return uploads.start(ctx, uploadBucket);
      if (method === "PUT" && ctx.url.searchParams.has("upload_id")) return uploads.put(ctx);
      if (method === "DELETE" && ctx.url.searchParams.has("upload_id")) return uploads.cancel(ctx);
    }
    if (isSignedRequest(ctx.url) && s0 !== undefined && s0 !== "" && segments.length >= 2) {
      return signed.handle(ctx, s0, segments.slice(1).join("/"), rawPath);
    }
    throw new GcsHttpError(501, `${method} ${rawPath} is not implemented by the GCS test server`, "notImplemented");
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
    const rawPath = (req.url ?? "/").split("?")[0] ?? "/";
    const ctx: Context = { req, res, url, origin: url.origin, model };
    const record: RecordedRequest = { method: req.method ?? "GET", path: safeDecode(rawPath), query: Object.fromEntries(url.searchParams) };
    const contentRange = header(req, "content-range");
    if (contentRange !== undefined) record.contentRange = contentRange;
    const traceparent = header(req, "traceparent");
    if (traceparent !== undefined) record.traceparent = traceparent;
    requests.push(record);
    try {
      const fault = takeFault(record);
      if (fault?.status === "hang") {
        req.resume();
        return; // closed by close()
      }
      if (fault !== undefined)
        throw new GcsHttpError(fault.status, `Injected fault: ${fault.status}`, fault.status === 403 ? "forbidden" : "backendError");
      await route(ctx, rawPath);
    } catch (err) {
      if (err instanceof ClientGone) return; // the client went away: nothing to answer, nothing committed
      req.resume(); // discard an unread body so the connection stays usable
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof GcsHttpError) sendError(res, err);
      else sendError(res, new GcsHttpError(500, `GCS test server error: ${String(err)}`, "backendError"));
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    createBucket: (name) => void model.createBucket(name),
    deleteBucket: (name) => void model.buckets.delete(name),
    requests,
    openSessions: () => uploads.openSessions(),
    failNext: (fault) => void faults.push({ ...fault, times: fault.times ?? 1 }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
