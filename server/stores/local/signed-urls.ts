// Signed URLs: files on the daemon's disk have no service of their own to honour a URL, so the
// capability is declared false and CreateSignedUrl is answered UNSUPPORTED.
import { unsupported } from "../../../common/errors.js";
import type { SignedUrl } from "../raw-store.js";
import { KIND } from "./errors.js";

export function signUrl(): Promise<SignedUrl> {
  return Promise.reject(unsupported(KIND, "signed URLs"));
}
