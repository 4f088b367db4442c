// V4 signed URLs for GCS. Signing needs a private key (or, on Google's
// endpoint, ambient credentials with iam.serviceAccounts.signBlob). A PUT
// URL signs its Content-MD5 and Content-Type, and records the MD5 where
// Flyte reads it, so the uploader must send exactly the headers it is given.
import type { GetSignedUrlConfig } from "@google-cloud/storage";
import { StowdError, unsupported } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortError } from "../kit/abort.js";
import { FLYTE_CONTENT_MD5_KEY } from "../kit/flyte-content-md5.js";
import { MAX_SIGNED_URL_SECONDS, refuseContentLength } from "../kit/signed-urls.js";
import type { SignOptions, SignedUrl } from "../raw-store.js";
import { checkedReference, fileOf, nameProblem, type GcsContext } from "./context.js";
import { GCS_KIND } from "./errors.js";
import { settleOrAbort } from "./requests.js";

/** The signed metadata header that records a PUT's MD5 as Flyte's stow does (AddContentMD5Metadata). */
const FLYTE_MD5_HEADER = `x-goog-meta-${FLYTE_CONTENT_MD5_KEY}`;

export async function signUrl(ctx: GcsContext, ref: Ref, options: SignOptions, signal: AbortSignal): Promise<SignedUrl> {
  const reference = checkedReference(ref);
  refuseContentLength(GCS_KIND, options, reference);
  if (!ctx.canSign) {
    throw unsupported(GCS_KIND, "signed URLs without a service-account key (set stow.config json, credentials or keyFilename)");
  }
  const problem = nameProblem(ref.key);
  if (problem !== undefined)
    throw new StowdError("INVALID_REFERENCE", `${reference} cannot be signed: ${problem}`, {
      reference,
      field: "reference",
      backend: GCS_KIND,
    });
  if (!(options.expiresInSeconds > 0 && options.expiresInSeconds <= MAX_SIGNED_URL_SECONDS)) {
    throw new StowdError("INVALID_ARGUMENT", `GCS V4 signed URLs last between 1 s and 7 days; asked for ${options.expiresInSeconds} s`, {
      reference,
      field: "expires_in",
    });
  }
  const expires = new Date(Date.now() + options.expiresInSeconds * 1000);
  const config: GetSignedUrlConfig = { version: "v4", action: options.method === "GET" ? "read" : "write", expires };
  const requiredHeaders: Record<string, string> = {};
  if (options.method === "GET" && (options.contentMd5 !== undefined || options.contentType !== "")) {
    throw new StowdError("INVALID_ARGUMENT", "content_md5 and content_type apply to PUT URLs only", {
      reference,
      field: options.contentMd5 === undefined ? "content_type" : "content_md5",
    });
  }
  if (options.contentMd5 !== undefined) {
    const md5 = Buffer.from(options.contentMd5).toString("base64");
    // GCS checks Content-MD5; the metadata header records it for Flyte.
    config.contentMd5 = md5;
    config.extensionHeaders = { [FLYTE_MD5_HEADER]: md5 };
    requiredHeaders["Content-MD5"] = md5;
    requiredHeaders[FLYTE_MD5_HEADER] = md5;
  }
  if (options.contentType !== "") {
    config.contentType = options.contentType;
    requiredHeaders["Content-Type"] = options.contentType;
  }
  try {
    const [url] = await settleOrAbort(fileOf(ctx, ref).getSignedUrl(config), signal);
    return { url, requiredHeaders, expires };
  } catch (err) {
    if (signal.aborted) throw abortError(signal, reference);
    throw new StowdError(
      "UNAUTHENTICATED",
      `cannot sign a URL for ${reference}: ${(err as Error).message}; signing needs a service-account key or the iam.serviceAccounts.signBlob permission`,
      {
        reference,
        backend: GCS_KIND,
        cause: err,
      },
    );
  }
}
