// Signed URLs: Redis has no HTTP endpoint or request signing, so the daemon
// signs and serves the URLs itself (server/signed-urls/) when server.signedUrls
// has a key; without one CreateSignedUrl is UNSUPPORTED.
import type { DaemonUrlSigner } from "../raw-store.js";
import { daemonSignedUrls } from "../kit/signed-urls.js";
import { KIND } from "./errors.js";

export const signUrlWith = (signer: DaemonUrlSigner | undefined) => daemonSignedUrls(KIND, signer);
