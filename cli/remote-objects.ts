// The objects a bulk command works on: every object under a prefix, or the
// objects a wildcard reference matches, each with its name relative to the
// prefix (what it is called at the destination). A wildcard is only allowed
// in the key, after the container: the part before its first wildcard
// character is listed (no delimiter, so across "/") and the rest is matched
// with picomatch, where * and ? stay within one path segment and ** crosses
// them. A pattern that matches nothing is an error naming it.
import picomatch from "picomatch";
import type { ObjectInfo, StowdClient } from "../client/index.js";
import { StowdError } from "../common/errors.js";

export interface RemoteObject {
  info: ObjectInfo;
  /** The key after the listed prefix (a wildcard's: after its last "/" before the first wildcard). */
  relative: string;
}

const WILDCARD = /[*?[\]{}]/;

export function hasWildcard(reference: string): boolean {
  return WILDCARD.test(keyOf(reference));
}

/** The key part of scheme://container/key ("" when there is none). */
function keyOf(reference: string): string {
  const afterScheme = reference.slice(reference.indexOf("://") + 3);
  const slash = afterScheme.indexOf("/");
  return slash < 0 ? "" : afterScheme.slice(slash + 1);
}

/** Every object whose reference starts with `prefix`, in listing order. */
export async function objectsUnder(client: StowdClient, prefix: string, signal: AbortSignal): Promise<RemoteObject[]> {
  const objects: RemoteObject[] = [];
  for await (const page of client.listPages(prefix, { signal })) {
    for (const info of page.objects) objects.push({ info, relative: info.reference.slice(prefix.length) });
  }
  return objects;
}

/** The objects a wildcard reference matches; NOT_FOUND naming the pattern when there are none. */
export async function objectsMatching(client: StowdClient, pattern: string, signal: AbortSignal): Promise<RemoteObject[]> {
  const key = keyOf(pattern);
  const keyStart = pattern.length - key.length;
  const firstWildcard = keyStart + key.search(WILDCARD);
  // Listed from the last "/" before the wildcard, so the pattern's rest is matched segment by segment.
  const base = pattern.slice(0, pattern.lastIndexOf("/", firstWildcard) + 1);
  const isMatch = picomatch(pattern.slice(base.length), { dot: true });
  const listed = await objectsUnder(client, pattern.slice(0, firstWildcard), signal);
  const matched = listed
    .map(({ info }) => ({ info, relative: info.reference.slice(base.length) }))
    .filter(({ relative }) => isMatch(relative));
  if (matched.length === 0) throw new StowdError("NOT_FOUND", `no object matches ${pattern}`, { field: pattern });
  return matched;
}

/** A reference with a wildcard, or a prefix: the objects either names. */
export function objectsOf(client: StowdClient, reference: string, signal: AbortSignal): Promise<RemoteObject[]> {
  return hasWildcard(reference) ? objectsMatching(client, reference, signal) : objectsUnder(client, reference, signal);
}
