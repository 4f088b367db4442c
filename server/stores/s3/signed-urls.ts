// Presigned S3 URLs (SigV4). A PUT URL signs its Content-Type and
// Content-MD5, and records the MD5 where Flyte reads it, so the uploader
// must send exactly the headers it is given.
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { FLYTE_CONTENT_MD5_KEY } from "../kit/flyte-content-md5.js";
import { MAX_SIGNED_URL_SECONDS, refuseContentLength } from "../kit/signed-urls.js";
import type { SignOptions, SignedUrl } from "../raw-store.js";
import { locate, requireS3Key, type S3Context } from "./context.js";
import { S3_KIND } from "./errors.js";
import { base64 } from "./metadata.js";
import { traceHeaderNames } from "../../observability/tracing-context.js";

export async function signUrl(ctx: S3Context, ref: Ref, options: SignOptions): Promise<SignedUrl> {
  const loc = locate(ref);
  requireS3Key(ref, loc);
  refuseContentLength(S3_KIND, options, loc.reference);
  if (!Number.isInteger(options.expiresInSeconds) || options.expiresInSeconds < 1 || options.expiresInSeconds > MAX_SIGNED_URL_SECONDS) {
    throw new StowdError(
      "INVALID_ARGUMENT",
      `signed URLs for S3 expire in 1 s to 7 days (${MAX_SIGNED_URL_SECONDS} s), not ${options.expiresInSeconds} s`,
      {
        reference: loc.reference,
        field: "expires_in",
      },
    );
  }
  const expires = new Date(Date.now() + options.expiresInSeconds * 1000);
  // With tracing on, the client adds trace headers to every request (trace-context.ts): a URL must not require them.
  if (options.method === "GET") {
    const url = await getSignedUrl(ctx.client, new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }), {
      expiresIn: options.expiresInSeconds,
      unsignableHeaders: new Set(traceHeaderNames()),
    });
    return { url, requiredHeaders: {}, expires };
  }
  // Every header below is signed, so the uploader must send exactly these.
  const requiredHeaders: Record<string, string> = {};
  const md5Base64 = options.contentMd5 === undefined ? undefined : base64(options.contentMd5);
  if (options.contentType !== "") requiredHeaders["Content-Type"] = options.contentType;
  if (md5Base64 !== undefined) {
    requiredHeaders["Content-MD5"] = md5Base64;
    // Flyte reads the MD5 of an object from this metadata key.
    requiredHeaders[`x-amz-meta-${FLYTE_CONTENT_MD5_KEY}`] = md5Base64;
  }
  const url = await getSignedUrl(
    ctx.client,
    new PutObjectCommand({
      Bucket: loc.bucket,
      Key: loc.key,
      ...(options.contentType === "" ? {} : { ContentType: options.contentType }),
      ...(md5Base64 === undefined ? {} : { ContentMD5: md5Base64, Metadata: { [FLYTE_CONTENT_MD5_KEY]: md5Base64 } }),
    }),
    {
      expiresIn: options.expiresInSeconds,
      signableHeaders: new Set(["content-type", "content-md5"]),
      unsignableHeaders: new Set(traceHeaderNames()),
      unhoistableHeaders: new Set([`x-amz-meta-${FLYTE_CONTENT_MD5_KEY}`]),
    },
  );
  return { url, requiredHeaders, expires };
}
