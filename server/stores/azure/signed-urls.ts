// Service SAS URLs for Azure blobs, signed with the account key (without
// one, no URL can be signed). Copies use the same signing for the short-lived
// read SAS Copy Blob From URL needs on its source.
import { BlobSASPermissions, SASProtocol, generateBlobSASQueryParameters } from "@azure/storage-blob";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { referenceOf } from "../kit/object-reference.js";
import { refuseContentLength } from "../kit/signed-urls.js";
import type { SignOptions, SignedUrl } from "../raw-store.js";
import { blobOf, checkRef, type AzureContext } from "./context.js";
import { AZURE_KIND } from "./errors.js";

/** SAS start times lie this far back, so a URL works at once on a server whose clock is behind. */
const SIGNING_CLOCK_SKEW_MS = 5 * 60_000;

/** The SAS query for `ref` ("r", "cw", ...), valid from now (less the skew) until `expiresOn`; undefined without an account key. */
export function blobSas(ctx: AzureContext, ref: Ref, permissions: string, expiresOn: Date, protocol?: SASProtocol): string | undefined {
  if (ctx.sharedKey === undefined) return undefined;
  return generateBlobSASQueryParameters(
    {
      containerName: ref.container,
      blobName: ref.key,
      permissions: BlobSASPermissions.parse(permissions),
      startsOn: new Date(Date.now() - SIGNING_CLOCK_SKEW_MS),
      expiresOn,
      ...(protocol === undefined ? {} : { protocol }),
    },
    ctx.sharedKey,
  ).toString();
}

export async function signUrl(ctx: AzureContext, ref: Ref, options: SignOptions): Promise<SignedUrl> {
  const reference = referenceOf(ref);
  checkRef(ctx, ref, true);
  refuseContentLength(AZURE_KIND, options, reference);
  const expires = new Date(Date.now() + options.expiresInSeconds * 1000);
  // PUT: create a new blob or overwrite one, nothing else.
  const sas = blobSas(
    ctx,
    ref,
    options.method === "GET" ? "r" : "cw",
    expires,
    ctx.endpoint.startsWith("https:") ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
  );
  if (sas === undefined) {
    throw new StowdError(
      "UNSUPPORTED",
      `the azure backend signs URLs with the account key, and none is configured (stow.config.key); cannot sign ${reference}`,
      { reference, backend: AZURE_KIND },
    );
  }
  const requiredHeaders: Record<string, string> = {};
  if (options.method === "PUT") {
    requiredHeaders["x-ms-blob-type"] = "BlockBlob";
    if (options.contentType !== "") requiredHeaders["Content-Type"] = options.contentType;
    if (options.contentMd5 !== undefined) requiredHeaders["Content-MD5"] = Buffer.from(options.contentMd5).toString("base64");
  }
  return { url: `${blobOf(ctx, ref).url}?${sas}`, requiredHeaders, expires };
}
