// V4 signed URLs (XML API paths `/{bucket}/{object}?X-Goog-Signature=...`):
// the signature is verified against the service account's public key the
// test registered, following Google's V4 signing process (canonical request,
// string to sign, RSA-SHA256), and the expiry is enforced. Only GET and PUT
// of whole objects are served on these paths.
import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import type { ServerResponse } from "node:http";
import { header, readBody, type Context } from "./http.js";
import { checkObjectName, GcsHttpError, md5Base64, mediaHeaders } from "./model.js";

const MAX_EXPIRES_SECONDS = 7 * 24 * 3600;

class XmlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendXmlError(res: ServerResponse, err: XmlError): void {
  const escaped = err.message.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const body = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${err.code}</Code><Message>${escaped}</Message></Error>`;
  res.writeHead(err.status, { "Content-Type": "application/xml; charset=UTF-8", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** The SDK's (and Google's) strict encoding: everything but A-Z a-z 0-9 - . _ ~ is %XX. */
function strictEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/** `YYYYMMDDTHHMMSSZ` → Date. */
function parseGoogDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return undefined;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export function isSignedRequest(url: URL): boolean {
  return url.searchParams.has("X-Goog-Signature");
}

export function createSignedUrls(keys: Record<string, string | KeyObject>) {
  const publicKeys = new Map(Object.entries(keys).map(([email, key]) => [email, typeof key === "string" ? createPublicKey(key) : key]));

  function verifySignature(ctx: Context, rawPath: string): void {
    const q = ctx.url.searchParams;
    const get = (name: string) => q.get(name) ?? "";
    if (get("X-Goog-Algorithm") !== "GOOG4-RSA-SHA256")
      throw new XmlError(400, "InvalidArgument", "Only X-Goog-Algorithm=GOOG4-RSA-SHA256 is supported");
    const [email = "", ...scopeParts] = get("X-Goog-Credential").split("/");
    const scope = scopeParts.join("/");
    const key = publicKeys.get(email);
    if (key === undefined) throw new XmlError(403, "InvalidAccessKeyId", `Unknown service account ${JSON.stringify(email)}`);
    const date = parseGoogDate(get("X-Goog-Date"));
    const expires = Number(get("X-Goog-Expires"));
    if (date === undefined || !Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES_SECONDS) {
      throw new XmlError(400, "AuthorizationQueryParametersError", "X-Goog-Date or X-Goog-Expires is missing or invalid");
    }
    if (Date.now() > date.getTime() + expires * 1000) throw new XmlError(400, "ExpiredToken", "The provided token has expired.");
    const signedHeaders = get("X-Goog-SignedHeaders")
      .split(";")
      .filter((h) => h !== "");
    if (!signedHeaders.includes("host")) throw new XmlError(400, "AuthorizationQueryParametersError", "host must be a signed header");
    const canonicalHeaders = signedHeaders
      .map((name) => {
        // The SDK signs the host name without the port (Google's host has none); so does this check.
        const value = name === "host" ? (header(ctx.req, "host") ?? "").replace(/:\d+$/, "") : header(ctx.req, name);
        if (value === undefined) throw new XmlError(403, "SignatureDoesNotMatch", `The signed header ${name} is missing from the request`);
        return `${name}:${value.trim().replace(/\s{2,}/g, " ")}\n`;
      })
      .join("");
    const canonicalQuery = [...q]
      .filter(([name]) => name !== "X-Goog-Signature")
      .map(([name, value]) => [strictEncode(name), strictEncode(value)] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `${name}=${value}`)
      .join("&");
    const payload =
      header(ctx.req, "x-goog-content-sha256") !== undefined && signedHeaders.includes("x-goog-content-sha256")
        ? header(ctx.req, "x-goog-content-sha256")!
        : "UNSIGNED-PAYLOAD";
    const canonicalRequest = [ctx.req.method, rawPath, canonicalQuery, canonicalHeaders, signedHeaders.join(";"), payload].join("\n");
    const stringToSign = ["GOOG4-RSA-SHA256", get("X-Goog-Date"), scope, createHash("sha256").update(canonicalRequest).digest("hex")].join(
      "\n",
    );
    const signature = Buffer.from(get("X-Goog-Signature"), "hex");
    if (!verify("RSA-SHA256", Buffer.from(stringToSign), key, signature)) {
      throw new XmlError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
    }
  }

  return {
    /** GET or PUT /{bucket}/{object} with V4 query authentication. */
    async handle(ctx: Context, bucket: string, name: string, rawPath: string): Promise<void> {
      try {
        verifySignature(ctx, rawPath);
        if (ctx.req.method === "GET") {
          const object = ctx.model.live(bucket, name);
          if (object === undefined) throw new XmlError(404, "NoSuchKey", "The specified key does not exist.");
          for (const [key, value] of Object.entries(object.metadata)) ctx.res.setHeader(`x-goog-meta-${key}`, value);
          ctx.res.writeHead(200, { ...mediaHeaders(object), "Content-Length": object.data.length });
          ctx.res.end(object.data);
          return;
        }
        if (ctx.req.method === "PUT") {
          checkObjectName(name);
          ctx.model.bucket(bucket);
          const data = await readBody(ctx.req);
          const contentMd5 = header(ctx.req, "content-md5");
          if (contentMd5 !== undefined && contentMd5 !== md5Base64(data)) {
            throw new XmlError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
          }
          const metadata: Record<string, string> = {};
          for (const [key, value] of Object.entries(ctx.req.headers)) {
            // Node lower-cases header names, as GCS does for x-goog-meta-* keys.
            if (key.startsWith("x-goog-meta-") && typeof value === "string") metadata[key.slice("x-goog-meta-".length)] = value;
          }
          const object = ctx.model.commit(bucket, name, { data, contentType: header(ctx.req, "content-type"), metadata });
          ctx.res.writeHead(200, { ...mediaHeaders(object), "Content-Length": 0 });
          ctx.res.end();
          return;
        }
        throw new XmlError(405, "MethodNotAllowed", `The test server serves only GET and PUT on signed URLs, not ${ctx.req.method}`);
      } catch (err) {
        if (err instanceof GcsHttpError) {
          sendXmlError(ctx.res, new XmlError(err.status, err.status === 404 ? "NoSuchBucket" : "InvalidArgument", err.message));
          return;
        }
        if (err instanceof XmlError) {
          sendXmlError(ctx.res, err);
          return;
        }
        throw err;
      }
    },
  };
}
