// Signed URLs: files on the daemon's disk have no service of their own to
// honour a URL, so the daemon signs and serves them itself (server/signed-urls/)
// when server.signedUrls has a key; without one CreateSignedUrl is UNSUPPORTED.
import type { DaemonUrlSigner } from "../raw-store.js";
import { daemonSignedUrls } from "../kit/signed-urls.js";
import { KIND } from "./errors.js";

export const signUrlWith = (signer: DaemonUrlSigner | undefined) => daemonSignedUrls(KIND, signer);
