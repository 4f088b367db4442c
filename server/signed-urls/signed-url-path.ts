// Where a daemon-signed URL points: `/signed/<scheme>/<authority>/<key>`,
// each part percent-encoded (the key segment by segment, so its "/" stay
// readable). An empty authority (`file:///b/k`) leaves an empty segment.
// Parsing rebuilds the reference and runs it through the services' own
// parser, so a path names exactly the object its reference would.
import { StowdError } from "../../common/errors.js";
import { escapePath, formatReference, parseReference, type Ref } from "../references/reference.js";

/** The HTTP port's route for signed URLs (served from server/daemon.ts; http-listener's plainRouteFor matches the prefix). */
export const SIGNED_URL_ROUTE = "/signed/";

export function signedPathOf(ref: Ref): string {
  const key = ref.key.split("/").map(encodeURIComponent).join("/");
  return `${SIGNED_URL_ROUTE}${encodeURIComponent(ref.scheme)}/${encodeURIComponent(ref.authority)}/${key}`;
}

/** The reference a signed URL's path names; INVALID_REFERENCE for a path that names none. */
function referenceOfSignedPath(path: string): string {
  const parts = path.slice(SIGNED_URL_ROUTE.length).split("/");
  if (!path.startsWith(SIGNED_URL_ROUTE) || parts.length < 3) {
    throw new StowdError(
      "INVALID_REFERENCE",
      `the path ${JSON.stringify(path)} is not ${SIGNED_URL_ROUTE}<scheme>/<container>/<key>; use the URL exactly as CreateSignedUrl returned it`,
    );
  }
  let decoded: string[];
  try {
    decoded = parts.map(decodeURIComponent);
  } catch {
    throw new StowdError(
      "INVALID_REFERENCE",
      `the path ${JSON.stringify(path)} has a bad percent-encoding; use the URL exactly as CreateSignedUrl returned it`,
    );
  }
  const [scheme = "", authority = "", ...key] = decoded;
  return `${scheme}://${authority}/${escapePath(key.join("/"))}`;
}

/** The parsed reference of a signed URL's path, and its canonical form (what the signature covers). */
export function refOfSignedPath(path: string): { reference: string; ref: Ref } {
  const ref = parseReference(referenceOfSignedPath(path));
  return { reference: formatReference(ref, ref.key), ref };
}
