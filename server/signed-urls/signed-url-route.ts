// Serves daemon-signed URLs on the HTTP port (`/signed/…`, url-signer.ts):
// GET (one Range, If-None-Match, If-Match), HEAD and PUT, through the store
// tree's root, so the cache, the router and the download limit apply exactly
// as they do to ReadRaw, and a PUT is checked and committed exactly as a
// WriteRaw is (checked-body.ts: size, upload limit, MD5, CRC32C, and the
// proof that the client finished its body; nothing is stored otherwise).
// With auth on, the URL's signer must still hold the grants it signed with,
// in the token file in force now. Each request is a call under the daemon's
// call bounds, as an RPC is (bounded-request.ts): admission, the deadline,
// the idle-stream timeout and graceful shutdown. Every refusal is an HTTP
// status, an `x-stowd-reason` header and a text/plain message
// (http-answer.ts). One log line per request.
import { once } from "node:events";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { toJsonString } from "@bufbuild/protobuf";
import { ObjectInfoSchema } from "../../gen/stowd/v1/object_pb.js";
import { StowdError } from "../../common/errors.js";
import type { AdmittedCall, CallLimits } from "../calls/call-limits.js";
import { callerFields, loggedReference, REQUEST_ID_HEADER } from "../calls/call-log.js";
import type { StoreTree } from "../decorators/store-tree.js";
import { nextOrAbort } from "../next-or-abort.js";
import { log } from "../observability/log.js";
import { daemonTracer } from "../observability/tracing.js";
import { traceHttpRoute } from "../observability/tracing-http-route.js";
import type { Metrics } from "../observability/metrics.js";
import type { Principal } from "../security/authenticate.js";
import { allows } from "../security/grants.js";
import { checkBody } from "../services/checked-body.js";
import { toObjectInfo } from "../services/object-info.js";
import { validateContentType } from "../services/validate-request.js";
import { formatCrc32c } from "../stores/kit/crc32c.js";
import type { Preconditions, ReadResult } from "../stores/raw-store.js";
import { answerCors, type CorsAllowance, type CorsPolicy } from "../transports/cors.js";
import { createNodeRequestEnd } from "../transports/http2-request-end.js";
import type { PlainRoute } from "../transports/http-listener.js";
import { admitRequest } from "./bounded-request.js";
import { SIGNED_URL_ROUTE } from "./signed-url-path.js";
import { etagCondition, matchHits, noneMatchHits, quotedEtag } from "./http-conditions.js";
import { httpAnswerOf } from "./http-answer.js";
import { rangeOfHeader } from "./http-range.js";
import { forbidden, SignedUrlRefusal } from "./signed-url-refusal.js";
import type { SignedRequest, UrlSigner } from "./url-signer.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface SignedUrlRouteOptions {
  signer: UrlSigner;
  tree: StoreTree;
  /** server.maxUploadMBs in bytes; 0 = unlimited. */
  maxUploadBytes: number;
  /** The signer by name in the credentials in force now (security.ts); undefined when auth is off. */
  principalNamed: ((name: string) => Principal | undefined) | undefined;
  /** server.cors: browser pages of other origins may use the URLs (preflights answered here). */
  cors?: CorsPolicy | undefined;
  /** Counts and times each request: stowd_http_requests_total{handler="signed_url", method, code, reason}, stowd_http_request_duration_seconds. */
  metrics?: Metrics;
  /** The daemon's call bounds (server.maxConcurrentCalls, the deadlines, server.idleStreamTimeout, shutdown), shared with the RPCs. */
  limits: CallLimits;
}

const SERVED_METHODS = ["GET", "HEAD", "PUT"];

const CORS_ALLOWANCE: CorsAllowance = {
  methods: SERVED_METHODS,
  allowedHeaders: ["content-type", "range", "if-match", "if-none-match", REQUEST_ID_HEADER],
  exposedHeaders: [
    "etag",
    "content-range",
    "content-length",
    "accept-ranges",
    "last-modified",
    "x-stowd-reason",
    "x-stowd-crc32c",
    REQUEST_ID_HEADER,
  ],
};

/**
 * Objects are served from the daemon's own origin, where the web console
 * runs: a stored HTML page must not run as that origin (CSP sandbox), nor
 * a browser guess a type it was not given (nosniff).
 */
const CONTENT_SAFETY = { "content-security-policy": "sandbox", "x-content-type-options": "nosniff" } as const;

/** What the log line and the metrics say of one request. */
interface Outcome {
  status: number;
  reason?: string;
  bytes: number;
  reference?: string;
  signer?: string;
}

export function signedUrlRoute(options: SignedUrlRouteOptions): PlainRoute {
  const { signer, tree, maxUploadBytes, principalNamed } = options;
  const store = tree.root;

  /** With auth on, the signer's grants now must still allow what it signed (sign, and read or write). */
  function checkSigner(request: SignedRequest): void {
    if (principalNamed === undefined) return;
    if (request.signer === "") {
      throw forbidden(
        "SIGNER_NOT_ALLOWED",
        "this URL was signed while authentication was off, and it is on now: ask for a new URL with a token that may sign it",
      );
    }
    const principal = principalNamed(request.signer);
    if (principal === undefined) {
      throw forbidden(
        "SIGNER_NOT_ALLOWED",
        `${request.signer}, who signed this URL, is no longer in the token file (server.auth.tokenFile); ask for a new URL with a current token`,
      );
    }
    const access = request.method === "GET" ? "read" : "write";
    for (const operation of [access, "sign"] as const) {
      if (!allows(principal.grants, operation, request.ref)) {
        throw forbidden(
          "SIGNER_NOT_ALLOWED",
          `${request.signer}, who signed this URL, may no longer ${operation} ${request.reference} (the token file's grants changed); ask for a new URL with a token that may`,
        );
      }
    }
  }

  async function serveRead(
    req: NodeRequest,
    res: NodeResponse,
    request: SignedRequest,
    call: AdmittedCall,
    signal: AbortSignal,
    outcome: Outcome,
  ): Promise<void> {
    const { ref } = request;
    const ifNoneMatch = etagCondition(req.headers["if-none-match"]);
    const ifMatch = etagCondition(req.headers["if-match"]);
    let ifMatchEtag: string | undefined;
    if (ifMatch !== undefined || ifNoneMatch !== undefined) {
      const meta = await store.head(ref, signal);
      if (ifMatch !== undefined) {
        // The matching etag goes to the read, so that it serves exactly that version or fails.
        if (meta === undefined || !matchHits(ifMatch, meta.etag)) {
          throw new StowdError(
            "PRECONDITION_FAILED",
            `${request.reference} ${meta === undefined ? "does not exist" : `has etag "${meta.etag}"`}, which If-Match does not name`,
            {
              reference: request.reference,
            },
          );
        }
        ifMatchEtag = meta.etag;
      }
      if (ifNoneMatch !== undefined && meta !== undefined && noneMatchHits(ifNoneMatch, meta.etag)) {
        res.writeHead(304, { etag: quotedEtag(meta.etag), "last-modified": meta.updated.toUTCString() });
        res.end();
        outcome.status = 304;
        return;
      }
    }
    const range = rangeOfHeader(req.headers.range);
    const opened = await store.read(
      ref,
      { ...(range === undefined ? {} : { range }), ...(ifMatchEtag === undefined ? {} : { ifMatchEtag }) },
      signal,
    );
    try {
      const { meta } = opened;
      // A range of an empty object is the whole (empty) object: there is no byte to name in Content-Range.
      const partial = range !== undefined && meta.size > 0;
      const headers: Record<string, string> = {
        ...CONTENT_SAFETY,
        "content-type": meta.contentType === "" ? "application/octet-stream" : meta.contentType,
        "content-length": String(opened.length),
        etag: quotedEtag(meta.etag),
        "last-modified": meta.updated.toUTCString(),
        "accept-ranges": "bytes",
      };
      if (partial) headers["content-range"] = `bytes ${opened.offset}-${opened.offset + opened.length - 1}/${meta.size}`;
      // The checksum is of the whole object: sent with the whole object only.
      else if (meta.crc32c !== undefined) headers["x-stowd-crc32c"] = formatCrc32c(meta.crc32c);
      outcome.status = partial ? 206 : 200;
      res.writeHead(outcome.status, headers);
      if (req.method === "HEAD") {
        res.end();
        return;
      }
      await sendBody(res, opened, request.reference, outcome, call, signal);
    } finally {
      await opened.close();
    }
  }

  async function serveWrite(
    req: NodeRequest,
    res: NodeResponse,
    request: SignedRequest,
    call: AdmittedCall,
    signal: AbortSignal,
    outcome: Outcome,
  ): Promise<void> {
    const sentType = req.headers["content-type"] ?? "";
    if (request.contentType !== "" && sentType !== request.contentType) {
      throw forbidden(
        "CONTENT_TYPE_MISMATCH",
        `this URL was signed for Content-Type ${JSON.stringify(request.contentType)}, and the request sent ${sentType === "" ? "none" : JSON.stringify(sentType)}; send the headers CreateSignedUrl returned in required_headers`,
      );
    }
    const contentType = validateContentType(request.contentType === "" ? sentType : request.contentType, "Content-Type");
    const lengthHeader = req.headers["content-length"];
    const sentLength = lengthHeader === undefined ? undefined : Number(lengthHeader);
    if (request.contentLength !== undefined && sentLength !== undefined && sentLength !== request.contentLength) {
      throw new StowdError(
        "SIZE_MISMATCH",
        `this URL was signed for an upload of exactly ${request.contentLength} bytes, and the request declares ${sentLength} (Content-Length); nothing was stored`,
        { reference: request.reference, size: sentLength, limit: request.contentLength, field: "Content-Length" },
      );
    }
    const declaredSize = request.contentLength ?? sentLength;
    if (declaredSize !== undefined && maxUploadBytes > 0 && declaredSize > maxUploadBytes) {
      throw new StowdError(
        "LIMIT_EXCEEDED",
        `the upload to ${request.reference} (${declaredSize} bytes) exceeds the upload limit of ${maxUploadBytes} bytes (server.maxUploadMBs = ${maxUploadBytes / 2 ** 20}); nothing was stored`,
        { reference: request.reference, size: declaredSize, limit: maxUploadBytes },
      );
    }
    const preconditions = putPreconditions(req);
    let received = 0;
    // Stops waiting at once when the request is aborted (a bound, the client left), even for a client that sends nothing more.
    async function* counted(): AsyncGenerator<Uint8Array> {
      const chunks = (req as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      let ended = false;
      try {
        for (;;) {
          const next = await nextOrAbort(chunks, signal);
          if (next.done === true) break;
          received += next.value.length;
          call.touch();
          yield next.value;
        }
        ended = true;
        // The rest is the daemon's own work (the commit), bounded by the deadline, not the idle timer.
        call.requestsEnded();
      } finally {
        // Stopped early by the consumer: the request is let go, as a for-await would. Not after an abort: a read is
        // still pending on a client that may send nothing, and return() would wait for it; the connection's close
        // (or its timeouts) ends that read.
        if (!ended && !signal.aborted) await chunks.return?.();
      }
    }
    const checked = checkBody(counted(), {
      reference: request.reference,
      signal,
      end: createNodeRequestEnd(req),
      maxBytes: maxUploadBytes,
      ...(declaredSize === undefined ? {} : { declaredSize }),
      ...(request.contentMd5 === undefined ? {} : { md5: request.contentMd5 }),
    });
    try {
      const meta = await store.write(
        request.ref,
        checked.body,
        {
          contentType,
          metadata: {},
          preconditions,
          ...(request.contentMd5 === undefined ? {} : { contentMd5: request.contentMd5 }),
          ...(declaredSize === undefined ? {} : { size: declaredSize }),
          crc32c: checked.crc32c,
        },
        signal,
      );
      outcome.status = 200;
      res.writeHead(200, { "content-type": "application/json", etag: quotedEtag(meta.etag) });
      res.end(`${toJsonString(ObjectInfoSchema, toObjectInfo(request.ref, meta))}\n`);
    } finally {
      outcome.bytes = received;
    }
  }

  const route: PlainRoute = (req, res) => {
    const startedAt = performance.now();
    const method = req.method ?? "";
    const outcome: Outcome = { status: 0, bytes: 0 };
    // Aborted when the client goes away before the answer is out, or when a call bound fires: a PUT then stores nothing.
    const aborted = new AbortController();
    let call: AdmittedCall | undefined;
    let finished = false;
    res.once("finish", () => (finished = true));
    res.once("close", () => {
      if (!finished) {
        const nothing = method === "PUT" ? "; nothing was stored" : "";
        aborted.abort(new StowdError("CANCELLED", `the client closed the request before it finished${nothing}`));
      }
    });
    const serve = async (): Promise<void> => {
      // A HEAD or a preflight moves no body: like a unary call, it has a deadline and no idle timer.
      call = admitRequest(options.limits, aborted, method === "GET" || method === "PUT");
      if (options.cors !== undefined && answerCors(options.cors, req, res, CORS_ALLOWANCE)) {
        outcome.status = res.statusCode;
        return;
      }
      if (!SERVED_METHODS.includes(method)) {
        throw new SignedUrlRefusal(405, "METHOD_NOT_ALLOWED", `signed URLs answer ${SERVED_METHODS.join(", ")}, not ${method}`, {
          allow: SERVED_METHODS.join(", "),
        });
      }
      const url = new URL(req.url ?? "/", "http://signed.invalid");
      const request = signer.verify(url.pathname, url.searchParams);
      outcome.reference = request.reference;
      outcome.signer = request.signer;
      const allowed = request.method === "GET" ? ["GET", "HEAD"] : ["PUT"];
      if (!allowed.includes(method)) {
        throw forbidden(
          "WRONG_METHOD",
          `this URL was signed for ${request.method}${request.method === "GET" ? " (and HEAD)" : ""}, not ${method}; ask for a ${method === "PUT" ? "PUT" : "GET"} URL`,
        );
      }
      checkSigner(request);
      if (request.method === "GET") await serveRead(req, res, request, call, aborted.signal, outcome);
      else await serveWrite(req, res, request, call, aborted.signal, outcome);
    };
    serve()
      .catch((err: unknown) => {
        // Whatever a store or a stream threw once the client left or a bound fired, the outcome is that.
        const answer = httpAnswerOf(aborted.signal.aborted ? aborted.signal.reason : err, method);
        outcome.status = answer.status;
        outcome.reason = answer.reason;
        if (answer.status === 500) log("error", "signed URL request failed", { err: err instanceof Error ? err.message : String(err) });
        if (res.headersSent) {
          // Mid-body: end the transfer uncleanly, so the client cannot take a short body for the whole.
          res.destroy();
          return;
        }
        res.writeHead(answer.status, { ...answer.headers, "content-type": "text/plain; charset=utf-8", "x-stowd-reason": answer.reason });
        if (method === "HEAD") res.end();
        else res.end(`${answer.message}\n`);
      })
      .finally(() => {
        call?.finish();
        const fields = {
          method,
          ...(outcome.reference === undefined ? {} : { reference: loggedReference(outcome.reference) }),
          status: outcome.status,
          ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
          bytes: outcome.bytes,
          // The caller is whoever signed the URL (with auth on, a principal of the token file).
          ...callerFields(outcome.signer === undefined || outcome.signer === "" ? undefined : { name: outcome.signer, via: "signed URL" }),
          durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
        };
        // As the RPC call log: error only for the daemon's own failures; a refusal, shutdown or cut-off transfer is info.
        log(outcome.status === 500 ? "error" : "info", "signed url", fields);
        const labels = { handler: "signed_url", method: httpMethodLabel(method), code: String(outcome.status) };
        options.metrics?.httpRequests.inc({ ...labels, reason: outcome.status < 400 ? "OK" : (outcome.reason ?? "UNKNOWN") });
        options.metrics?.httpDuration.observe(labels, (performance.now() - startedAt) / 1000);
      });
  };
  // A span per request when tracing is on (observability/tracing.ts); nothing otherwise.
  const tracer = daemonTracer();
  return tracer === undefined ? route : traceHttpRoute(tracer, SIGNED_URL_ROUTE, route);
}

/** The method label: the methods the route answers (OPTIONS for CORS preflights), "other" for anything a client may send. */
function httpMethodLabel(method: string): string {
  return SERVED_METHODS.includes(method) || method === "OPTIONS" ? method : "other";
}

/** If-None-Match: * (create only) and If-Match (one etag, or * for "must exist") of a PUT. */
function putPreconditions(req: NodeRequest): Preconditions {
  const noneMatch = etagCondition(req.headers["if-none-match"]);
  const match = etagCondition(req.headers["if-match"]);
  if (noneMatch !== undefined && !noneMatch.any) {
    throw new StowdError("INVALID_ARGUMENT", "a PUT takes If-None-Match: * (create only) and no other If-None-Match", {
      field: "If-None-Match",
    });
  }
  if (match !== undefined && !match.any && match.etags.length !== 1) {
    throw new StowdError("INVALID_ARGUMENT", "a PUT takes If-Match with one etag, or *", { field: "If-Match" });
  }
  if (noneMatch !== undefined && match !== undefined) {
    throw new StowdError("INVALID_ARGUMENT", "If-None-Match: * and If-Match cannot both hold; send one", { field: "If-Match" });
  }
  if (noneMatch !== undefined) return { ifNotExists: true };
  if (match === undefined) return {};
  return match.any ? { ifExists: true } : { ifMatchEtag: match.etags[0]! };
}

/**
 * A store's chunk goes out in pieces of this size, so that the idle-stream
 * timeout sees a slow reader's progress at this grain (not a whole chunk of a
 * MiB or more per touch).
 */
const WRITE_PIECE_BYTES = 64 * 1024;

/**
 * Streams the opened read with backpressure; a body that ends short fails (the
 * caller destroys the response). A reader that stops reading stops the
 * touches, so the idle-stream timeout cuts it off.
 */
async function sendBody(
  res: NodeResponse,
  opened: ReadResult,
  reference: string,
  outcome: Outcome,
  call: AdmittedCall,
  signal: AbortSignal,
): Promise<void> {
  for await (const chunk of opened.body) {
    for (let at = 0; at < chunk.length; at += WRITE_PIECE_BYTES) {
      const piece = chunk.subarray(at, at + WRITE_PIECE_BYTES);
      outcome.bytes += piece.length;
      call.touch();
      // The union of the two response types has no callable write; both take a chunk alike.
      if (!(res as http.ServerResponse).write(piece)) await once(res, "drain", { signal });
    }
  }
  if (outcome.bytes !== opened.length) {
    throw new StowdError("INTERNAL", `${reference} yielded ${outcome.bytes} bytes instead of ${opened.length}; the transfer was cut`, {
      reference,
    });
  }
  res.end();
}
