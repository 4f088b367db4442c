// The redis store's key layout. Every key of one object (manifest, pending
// writes, chunks of every version) carries the same `{hashtag}`, so Redis
// Cluster keeps them in one hash slot and one Lua script may touch them all.
// The listing index is one sorted set in a slot of its own.
//
//   <p>:{<tag>}:m:<key>        hash: the manifest of the current version
//   <p>:{<tag>}:p:<key>        sorted set: writes in progress (id -> deadline ms)
//   <p>:{<tag>}:c:<data>:<i>   string: chunk i of data id <data>
//   <p>:{<p>:idx}:keys         sorted set, all scores 0: every key, byte-wise ordered
//   <p>:{<p>:idx}:tokens       hash: key -> id of the write that last indexed it
//
// The tag is a short hash of the key; the key itself is spelled out in the
// manifest and pending names, so two keys sharing a tag never share state.
import { createHash } from "node:crypto";

export const DEFAULT_KEY_PREFIX = "stowd";

export interface ObjectKeys {
  /** The hashtag, braces included. */
  tag: string;
  manifest: string;
  pending: string;
  chunk(dataId: string, index: number): string;
  /** Chunk keys 0..count-1 of a data id. */
  chunks(dataId: string, count: number): string[];
}

export interface IndexKeys {
  keys: string;
  tokens: string;
}

export function objectKeys(prefix: string, key: string): ObjectKeys {
  const tag = `{${createHash("sha1").update(key, "utf8").digest("hex").slice(0, 10)}}`;
  const chunk = (dataId: string, index: number) => `${prefix}:${tag}:c:${dataId}:${index}`;
  return {
    tag,
    manifest: `${prefix}:${tag}:m:${key}`,
    pending: `${prefix}:${tag}:p:${key}`,
    chunk,
    chunks: (dataId, count) => Array.from({ length: count }, (_, i) => chunk(dataId, i)),
  };
}

export function indexKeys(prefix: string): IndexKeys {
  return { keys: `${prefix}:{${prefix}:idx}:keys`, tokens: `${prefix}:{${prefix}:idx}:tokens` };
}

/** Number of chunks of `size` bytes cut into `chunkBytes` pieces. */
export function chunkCount(size: number, chunkBytes: number): number {
  return Math.ceil(size / chunkBytes);
}
