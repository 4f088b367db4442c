// Object identities (RawStore.identity): the one name of a stored object
// that the cache, locks and sidecars key on, whatever spelling of its
// reference reached the store. Most backends address an object by container
// and key; the ones with aliases (local disk, Redis) define their own.
import type { Ref } from "../../references/reference.js";

/** `container/key`: the identity of backends that address objects by container and key (memory, S3, GCS, Azure). */
export function containerKeyIdentity(ref: Pick<Ref, "container" | "key">): string {
  return `${ref.container}/${ref.key}`;
}
