// The ordered listing index: a sorted set of every key (all scores 0, so
// Redis orders members byte-wise, like compareKeys) in a slot of its own,
// plus a per-key token naming the write that last indexed it. Writers add
// their key before committing; listings and deletes prune entries whose
// object is gone (see index.ts for why that is safe).
import type { ResumePoint } from "../kit/list-pages.js";
import type { RedisCall } from "./connection.js";
import { cleanupCall, keysOf, type RedisContext } from "./context.js";
import { INDEX, PROBE, UNINDEX, asList } from "./scripts.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export async function addToIndex(ctx: RedisContext, key: string, writeId: string, call: RedisCall): Promise<void> {
  await ctx.conn.script(call, INDEX, [ctx.index.keys, ctx.index.tokens], [key, writeId]);
}

/** Removes `key` from the index if no object and no write in progress needs it (see index.ts). */
export async function prune(ctx: RedisContext, key: string, reference: string): Promise<void> {
  const call = cleanupCall(ctx, `UNINDEX ${reference}`, reference);
  const token = await ctx.conn.run(call, (c) => c.call("hget", [ctx.index.tokens, key]));
  const keys = keysOf(ctx, key);
  const [exists, pending] = asList(await ctx.conn.script(call, PROBE, [keys.manifest, keys.pending], []));
  if (Number(exists) !== 0 || Number(pending) !== 0) return;
  await ctx.conn.script(call, UNINDEX, [ctx.index.keys, ctx.index.tokens], [key, typeof token === "string" ? token : ""]);
}

/** Index members in [min, max], up to `count`, as raw bytes. */
export async function indexRange(ctx: RedisContext, min: Buffer, max: Buffer | string, count: number, call: RedisCall): Promise<Buffer[]> {
  const reply = await ctx.conn.run(call, (c) => c.callBuffer("zrangebylex", [ctx.index.keys, min, max, "LIMIT", 0, count]));
  return asList(reply).filter((member): member is Buffer => Buffer.isBuffer(member));
}

/** The key an index member names; undefined for a member this store did not write (not UTF-8). */
export function decodeKey(member: Buffer): string | undefined {
  try {
    return utf8.decode(member);
  } catch {
    return undefined; // not written by this store
  }
}

/** Byte-wise listing bounds for ZRANGEBYLEX ("[" inclusive, "(" exclusive). */
export function lexBound(kind: "[" | "(", key: Buffer | string, past = false): Buffer {
  return Buffer.concat([
    Buffer.from(kind),
    typeof key === "string" ? Buffer.from(key, "utf8") : key,
    past ? Buffer.from([0xff]) : Buffer.alloc(0),
  ]);
}

/** The listing's first bound: the prefix, or just past the resume point. */
export function startBound(prefixKey: string, resume: ResumePoint | undefined): Buffer {
  if (resume === undefined) return lexBound("[", prefixKey);
  return resume.isCommonPrefix ? lexBound("[", resume.entry, true) : lexBound("(", resume.entry);
}

export function endBound(prefixKey: string): Buffer | string {
  // No UTF-8 byte is 0xFF, so prefix + 0xFF is above every key with the prefix.
  return prefixKey === "" ? "+" : lexBound("(", prefixKey, true);
}
