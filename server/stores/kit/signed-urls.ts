// What every backend's signed URLs share.
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import type { DaemonUrlSigner, SignOptions, SignedUrl } from "../raw-store.js";

// The longest expiry stowd signs or asks a backend to sign: S3's SigV4 limit
// (GCS V4 has the same), so a URL is valid for the same span on every backend.
export const MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600;

/**
 * INVALID_ARGUMENT for content_length on a backend that signs its own URLs
 * (S3, GCS, Azure): their services check a PUT's size only against the
 * Content-Length the client sends, so a signed size could not be enforced,
 * and a URL that promises a check it cannot make is worse than none.
 */
export function refuseContentLength(backend: string, options: SignOptions, reference: string): void {
  if (options.contentLength === undefined) return;
  throw new StowdError(
    "INVALID_ARGUMENT",
    `content_length: ${backend} signed URLs cannot enforce an upload's size (${backend} checks only the Content-Length the uploader sends); leave content_length unset for ${reference}, or check the size after the upload with Head`,
    { reference, field: "content_length", backend },
  );
}

/**
 * The signUrl operation of a backend with no HTTP service of its own
 * (file://, mem://, redis://): the daemon signs the URL and serves it
 * itself (server/signed-urls/). Without a signer (server.signedUrls has no
 * keys) it answers UNSUPPORTED, naming the keys that turn it on.
 */
export function daemonSignedUrls(
  backend: string,
  signer: DaemonUrlSigner | undefined,
): (ctx: unknown, ref: Ref, options: SignOptions) => Promise<SignedUrl> {
  // A promise either way, so a refusal reaches the caller as a rejection like any store error.
  return (_ctx, ref, options) =>
    new Promise((resolve) => {
      if (signer === undefined) {
        throw new StowdError(
          "UNSUPPORTED",
          `the ${backend} backend has no service of its own to serve a URL, so the daemon signs and serves them itself once it has a signing key: set server.signedUrls.keys or server.signedUrls.keyFile`,
          { backend },
        );
      }
      resolve(signer.sign(ref, options));
    });
}
