// The first half of every change: a write registers itself in the object's
// pending set (begin), streams its bytes into staging keys that expire on
// their own (stage), and on failure removes what it staged at once instead
// of waiting for the TTL (discard).
import { abortable } from "../kit/abort.js";
import type { RedisCall } from "./connection.js";
import { callFor, cleanupCall, type RedisContext } from "./context.js";
import { tooLarge } from "./errors.js";
import type { ObjectKeys } from "./keys.js";
import { prune } from "./listing.js";
import { parseManifest, type Manifest } from "./manifest.js";
import { BEGIN, asList } from "./scripts.js";

/** Chunk writes in flight per write: bounds memory at about (n + 1) chunks. */
const STAGE_CONCURRENCY = 3;
/** Keys per DEL when discarding. */
const DEL_BATCH = 256;

/** What a write staged so far. */
export interface Staged {
  /** Keys of the pieces sent so far (some may still be in flight when staging fails). */
  keys: string[];
  bytes: number;
}

/** How `stage` cuts a body into staging keys. */
export interface StagePlan {
  keyOf: (index: number) => string;
  /** Piece 0's size (an append fills the object's last chunk first). */
  firstPieceBytes: number;
  pieceBytes: number;
  /** Bytes the object already has, counted against maxObjectBytes. */
  base: number;
}

/** Registers a write in progress; returns the current manifest. */
export async function begin(ctx: RedisContext, keys: ObjectKeys, writeId: string, call: RedisCall): Promise<Manifest | undefined> {
  const reply = asList(await ctx.conn.script(call, BEGIN, [keys.manifest, keys.pending], [writeId, ctx.settings.stagingTtlMs]));
  return parseManifest(reply[1], call.reference);
}

/**
 * Streams `body` into staging keys: piece 0 holds `firstPieceBytes`, the
 * others `pieceBytes`; a few SETs are in flight at once, each with the
 * staging TTL. Fails with LIMIT_EXCEEDED when `base` (bytes already in
 * the object) plus the body passes maxObjectBytes.
 */
export async function stage(
  ctx: RedisContext,
  body: AsyncIterable<Uint8Array>,
  plan: StagePlan,
  staged: Staged,
  signal: AbortSignal,
  reference: string,
): Promise<void> {
  const { conn, settings } = ctx;
  const inflight: Array<Promise<unknown>> = [];
  let failure: { err: unknown } | undefined;
  const send = async (data: Buffer) => {
    const key = plan.keyOf(staged.keys.length);
    staged.keys.push(key);
    const sending = conn.run(callFor(`WRITE ${reference}`, reference, signal), (c) =>
      c.call("set", [key, data, "PX", settings.stagingTtlMs]),
    );
    sending.catch((err: unknown) => (failure ??= { err }));
    inflight.push(sending);
    if (inflight.length >= STAGE_CONCURRENCY) await inflight.shift()?.catch(() => {});
    if (failure !== undefined) throw failure.err;
  };
  let piece = Buffer.allocUnsafe(plan.firstPieceBytes);
  let filled = 0;
  try {
    for await (const chunk of abortable(body, signal, reference)) {
      staged.bytes += chunk.length;
      if (plan.base + staged.bytes > settings.maxObjectBytes) throw tooLarge(reference, plan.base + staged.bytes, settings.maxObjectBytes);
      for (let at = 0; at < chunk.length;) {
        const n = Math.min(piece.length - filled, chunk.length - at);
        piece.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === piece.length) {
          await send(piece);
          piece = Buffer.allocUnsafe(plan.pieceBytes);
          filled = 0;
        }
      }
    }
    if (filled > 0) await send(piece.subarray(0, filled));
  } finally {
    await Promise.allSettled(inflight);
  }
  if (failure !== undefined) throw failure.err;
}

/** Best effort after a failed write: staged chunks and the registration go now, not at their TTL. */
export async function discard(
  ctx: RedisContext,
  key: string,
  keys: ObjectKeys,
  writeId: string,
  staged: string[],
  indexed: boolean,
  reference: string,
): Promise<void> {
  const call = cleanupCall(ctx, `DISCARD ${reference}`, reference);
  try {
    for (let i = 0; i < staged.length; i += DEL_BATCH) {
      const batch = staged.slice(i, i + DEL_BATCH);
      await ctx.conn.run(call, (c) => c.call("del", batch));
    }
    await ctx.conn.run(call, (c) => c.call("zrem", [keys.pending, writeId]));
    if (indexed) await prune(ctx, key, reference);
  } catch {
    // Staging keys and registrations expire on their own.
  }
}
