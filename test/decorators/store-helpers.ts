// Small helpers for decorator tests: refs, bodies, and a wrapper that counts
// the calls reaching a real (memory) store.
import type { Ref } from "../../server/references/reference.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { never } from "../helpers/store-calls.js";
export { never, readAll } from "../helpers/store-calls.js";

export function ref(key: string, scheme = "mem", container = "b"): Ref {
  return { scheme, container, key, authority: container };
}

export async function* bodyOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

export async function put(store: RawStore, r: Ref, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  await store.write(r, bodyOf(bytes), { contentType: "", metadata: {}, preconditions: {}, size: bytes.length }, never);
}

/** Wraps a store and counts the calls per method that reach it. */
export function counting(inner: RawStore): RawStore & { calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
  return {
    ...inner,
    calls,
    head: (r, s) => (count("head"), inner.head(r, s)),
    read: (r, o, s) => (count("read"), inner.read(r, o, s)),
  };
}
