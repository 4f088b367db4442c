// The answer to a read that serves no bytes (an empty object, or a range
// that resolves to nothing), without a call to the backend for the body.
import type { ObjectMeta, ReadResult } from "../raw-store.js";

export function emptyRead(meta: ObjectMeta, offset: number): ReadResult {
  return { meta, offset, length: 0, body: (async function* () {})(), close: async () => {} };
}
