// Signs and verifies daemon-signed URLs (file://, mem://, redis://). A URL is
//
//   <baseUrl>/signed/<scheme>/<authority>/<key>?X-Stowd-Method=PUT
//     &X-Stowd-Expires=<unix seconds>&X-Stowd-Key-Id=<id>&X-Stowd-Signer=<name>
//     [&X-Stowd-Content-Type=…][&X-Stowd-Content-Length=…][&X-Stowd-Content-MD5=…]
//     &X-Stowd-Signature=<base64url HMAC-SHA256>
//
// The signature covers a canonical string: a version line, then one
// `name:value` line per value above (percent-encoded, so no value can forge
// a line) and the object's reference. Verification recomputes it with the
// key the URL names and compares in constant time. The first configured key
// signs; every listed key verifies (rotation with overlap).
import { createHmac, timingSafeEqual } from "node:crypto";
import { StowdError } from "../../common/errors.js";
import type { SigningKey } from "../config/config.js";
import { formatReference, type Ref } from "../references/reference.js";
import { MAX_SIGNED_URL_SECONDS } from "../stores/kit/signed-urls.js";
import type { DaemonUrlSigner, SignOptions, SignedUrl } from "../stores/raw-store.js";
import { refOfSignedPath, signedPathOf } from "./signed-url-path.js";
import { forbidden, SignedUrlRefusal } from "./signed-url-refusal.js";

/** The first line of the canonical string: a new format gets a new version, and old URLs stop verifying. */
const VERSION = "STOWD-HMAC-SHA256-V1";

const PARAM = {
  method: "X-Stowd-Method",
  expires: "X-Stowd-Expires",
  keyId: "X-Stowd-Key-Id",
  signer: "X-Stowd-Signer",
  contentType: "X-Stowd-Content-Type",
  contentLength: "X-Stowd-Content-Length",
  contentMd5: "X-Stowd-Content-MD5",
  signature: "X-Stowd-Signature",
} as const;

/** What a verified URL allows. */
export interface SignedRequest {
  method: "GET" | "PUT";
  ref: Ref;
  /** The canonical reference (formatReference). */
  reference: string;
  /** Unix seconds. */
  expires: number;
  keyId: string;
  /** The signing caller's name; "" when auth was off. */
  signer: string;
  /** PUT: "" = not signed, any type may be sent. */
  contentType: string;
  contentLength?: number;
  contentMd5?: Buffer;
}

export interface UrlSignerOptions {
  /** The keys in force (signing-keys.ts); the first signs. */
  keys: () => readonly SigningKey[];
  /** What URLs start with (server.signedUrls.baseUrl, or the HTTP listener's address once it listens). */
  baseUrl: () => string;
  /** Seconds since the epoch; tests move it. Default: the clock. */
  now?: () => number;
}

export interface UrlSigner extends DaemonUrlSigner {
  /** The request a signed URL allows, or a 403 / 400 SignedUrlRefusal saying what is wrong with it. */
  verify(path: string, query: URLSearchParams): SignedRequest;
}

export function createUrlSigner(options: UrlSignerOptions): UrlSigner {
  const now = options.now ?? (() => Date.now() / 1000);
  return {
    sign(ref: Ref, sign: SignOptions): SignedUrl {
      const reference = formatReference(ref, ref.key);
      if (!Number.isInteger(sign.expiresInSeconds) || sign.expiresInSeconds < 1 || sign.expiresInSeconds > MAX_SIGNED_URL_SECONDS) {
        throw new StowdError(
          "INVALID_ARGUMENT",
          `signed URLs expire in 1 s to 7 days (${MAX_SIGNED_URL_SECONDS} s), not ${sign.expiresInSeconds} s`,
          {
            reference,
            field: "expires_in",
          },
        );
      }
      if (sign.method === "GET" && (sign.contentType !== "" || sign.contentMd5 !== undefined || sign.contentLength !== undefined)) {
        const field = sign.contentType !== "" ? "content_type" : sign.contentMd5 !== undefined ? "content_md5" : "content_length";
        throw new StowdError("INVALID_ARGUMENT", `${field}: applies to PUT URLs only; leave it unset for a GET URL of ${reference}`, {
          reference,
          field,
        });
      }
      if (sign.contentLength !== undefined && !(Number.isSafeInteger(sign.contentLength) && sign.contentLength >= 0)) {
        throw new StowdError("INVALID_ARGUMENT", `content_length: must be a size in bytes, not ${sign.contentLength}`, {
          reference,
          field: "content_length",
        });
      }
      const [key] = options.keys();
      if (key === undefined) throw new StowdError("INTERNAL", "no signing key is loaded (server.signedUrls)");
      const expires = Math.floor(now()) + sign.expiresInSeconds;
      const request: SignedRequest = {
        method: sign.method,
        ref,
        reference,
        expires,
        keyId: key.id,
        signer: sign.signer ?? "",
        contentType: sign.contentType,
        ...(sign.contentLength === undefined ? {} : { contentLength: sign.contentLength }),
        ...(sign.contentMd5 === undefined ? {} : { contentMd5: Buffer.from(sign.contentMd5) }),
      };
      const query = new URLSearchParams();
      query.set(PARAM.method, request.method);
      query.set(PARAM.expires, String(expires));
      query.set(PARAM.keyId, key.id);
      query.set(PARAM.signer, request.signer);
      if (request.contentType !== "") query.set(PARAM.contentType, request.contentType);
      if (request.contentLength !== undefined) query.set(PARAM.contentLength, String(request.contentLength));
      if (request.contentMd5 !== undefined) query.set(PARAM.contentMd5, request.contentMd5.toString("base64"));
      query.set(PARAM.signature, signatureOf(key.secret, request).toString("base64url"));
      // The uploader must send the signed type; the rest is checked from the URL itself.
      const requiredHeaders: Record<string, string> =
        request.method === "PUT" && request.contentType !== "" ? { "Content-Type": request.contentType } : {};
      return { url: `${options.baseUrl()}${signedPathOf(ref)}?${query.toString()}`, requiredHeaders, expires: new Date(expires * 1000) };
    },

    verify(path, query) {
      const { reference, ref } = refOfSignedPath(path);
      const one = (name: string): string | undefined => {
        const values = query.getAll(name);
        if (values.length > 1) throw malformed(`${name} is given ${values.length} times`);
        return values[0];
      };
      const required = (name: string): string => {
        const value = one(name);
        if (value === undefined) throw malformed(`${name} is missing`);
        return value;
      };
      const method = required(PARAM.method);
      if (method !== "GET" && method !== "PUT") throw malformed(`${PARAM.method} is ${JSON.stringify(method)}, not GET or PUT`);
      const expiresText = required(PARAM.expires);
      if (!/^\d{1,12}$/.test(expiresText)) throw malformed(`${PARAM.expires} is not unix seconds`);
      const lengthText = one(PARAM.contentLength);
      if (lengthText !== undefined && !/^\d{1,15}$/.test(lengthText)) throw malformed(`${PARAM.contentLength} is not a size in bytes`);
      const md5Text = one(PARAM.contentMd5);
      const request: SignedRequest = {
        method,
        ref,
        reference,
        expires: Number(expiresText),
        keyId: required(PARAM.keyId),
        signer: required(PARAM.signer),
        contentType: one(PARAM.contentType) ?? "",
        ...(lengthText === undefined ? {} : { contentLength: Number(lengthText) }),
        ...(md5Text === undefined ? {} : { contentMd5: Buffer.from(md5Text, "base64") }),
      };
      const given = Buffer.from(required(PARAM.signature), "base64url");
      const key = options.keys().find((k) => k.id === request.keyId);
      if (key === undefined) {
        throw forbidden(
          "UNKNOWN_KEY_ID",
          `this URL was signed with key ${JSON.stringify(request.keyId)}, which this daemon no longer lists in server.signedUrls (it was rotated out, or the URL was changed); ask for a new URL`,
        );
      }
      const expected = signatureOf(key.secret, request);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw forbidden(
          "BAD_SIGNATURE",
          "the signature does not match this URL: it was changed after signing (its path or an X-Stowd-* value); use it exactly as CreateSignedUrl returned it, or ask for a new one",
        );
      }
      const seconds = now();
      if (seconds > request.expires) {
        throw forbidden(
          "EXPIRED",
          `this URL expired at ${new Date(request.expires * 1000).toISOString()} (${Math.floor(seconds - request.expires)} s ago); ask for a new one`,
        );
      }
      return request;
    },
  };
}

function malformed(what: string): SignedUrlRefusal {
  return new SignedUrlRefusal(400, "MALFORMED_URL", `not a complete signed URL: ${what}; use it exactly as CreateSignedUrl returned it`);
}

/** HMAC-SHA256 of the canonical string of `request` under `secret`. */
function signatureOf(secret: string, request: SignedRequest): Buffer {
  const line = (name: string, value: string) => `${name}:${encodeURIComponent(value)}`;
  const canonical = [
    VERSION,
    line("method", request.method),
    line("reference", request.reference),
    line("expires", String(request.expires)),
    line("key-id", request.keyId),
    line("signer", request.signer),
    line("content-type", request.contentType),
    line("content-length", request.contentLength === undefined ? "" : String(request.contentLength)),
    line("content-md5", request.contentMd5 === undefined ? "" : request.contentMd5.toString("base64")),
  ].join("\n");
  return createHmac("sha256", secret).update(canonical, "utf8").digest();
}
