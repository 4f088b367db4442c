// The second half of a write or copy: one COMMIT script checks the
// preconditions and swaps the manifest atomically, retrying when another
// writer changed the object since the snapshot; the replaced version's
// chunks stay readable for the read grace period, then expire.
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkPreconditions } from "../kit/preconditions.js";
import type { ObjectMeta, Preconditions } from "../raw-store.js";
import { MAX_CONFLICTS, callFor, keysOf, never, newId, type RedisContext } from "./context.js";
import { KIND, outcomeUnknown, unexpectedReply } from "./errors.js";
import { chunkCount, type ObjectKeys } from "./keys.js";
import { addToIndex } from "./listing.js";
import { reported, snapshotOf, type Manifest, type Snapshot } from "./manifest.js";
import { COMMIT, asList, flag } from "./scripts.js";
import { discard, type Staged } from "./staging.js";

/** What a new version records besides its bytes. */
export interface VersionAttributes {
  contentType: string;
  metadata: Record<string, string>;
  contentMd5?: Uint8Array;
  /** Known before the bytes are staged (a copy's); a write's comes from `fill`. */
  crc32c?: number;
}

/**
 * Writes a new version of `ref`: indexes the key, lets `fill` stage the
 * bytes under a fresh data id, then commits. On failure it discards what
 * was staged, except after an unanswered commit, which may have applied:
 * then the chunks are left to their TTL.
 */
export async function writeVersion(
  ctx: RedisContext,
  ref: Ref,
  writeId: string,
  current: Manifest | undefined,
  fill: (dataId: string, staged: Staged) => Promise<{ chunkBytes: number; crc32c?: number }>,
  pre: Preconditions,
  attributes: VersionAttributes,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = referenceOf(ref);
  const keys = keysOf(ctx, ref.key);
  const dataId = newId();
  const staged: Staged = { keys: [], bytes: 0 };
  let indexed = false;
  let sent = false;
  try {
    await addToIndex(ctx, ref.key, writeId, callFor(`INDEX ${reference}`, reference, signal));
    indexed = true;
    const filled = await fill(dataId, staged);
    const { chunkBytes } = filled;
    const crc32c = filled.crc32c ?? attributes.crc32c;
    throwIfAborted(signal, reference);
    const etag = newId();
    const fields: Array<[string, string]> = [
      ["v", "1"],
      ["k", ref.key],
      ["d", dataId],
      ["s", String(staged.bytes)],
      ["cs", String(chunkBytes)],
      ["e", etag],
      ["ct", attributes.contentType],
      ["md", JSON.stringify(attributes.metadata)],
    ];
    if (attributes.contentMd5 !== undefined) fields.push(["m5", Buffer.from(attributes.contentMd5).toString("base64")]);
    if (crc32c !== undefined) fields.push(["c", String(crc32c)]);
    const snapshot = current === undefined ? undefined : { dataId: current.dataId, size: current.size, chunkBytes: current.chunkBytes };
    sent = true;
    const now = await commit(ctx, ref.key, keys, writeId, staged.keys, snapshot, pre, fields, reference);
    const meta: ObjectMeta = {
      key: ref.key,
      size: staged.bytes,
      etag,
      contentType: attributes.contentType,
      metadata: { ...attributes.metadata },
      updated: new Date(now),
      generation: "",
    };
    if (attributes.contentMd5 !== undefined) meta.contentMd5 = Uint8Array.from(attributes.contentMd5);
    if (crc32c !== undefined) meta.crc32c = crc32c;
    return meta;
  } catch (err) {
    // After an unanswered commit the version may be live: leave its chunks to the TTL.
    if (!(sent && outcomeUnknown(err))) await discard(ctx, ref.key, keys, writeId, staged.keys, indexed, reference);
    throw err;
  }
}

/**
 * Commits a staged version, retrying when another writer changed the
 * object since `snapshot`; precondition failures use the shared messages.
 * Returns the commit time (ms, the server's clock).
 */
async function commit(
  ctx: RedisContext,
  key: string,
  keys: ObjectKeys,
  writeId: string,
  newChunks: string[],
  snapshot: Snapshot | undefined,
  pre: Preconditions,
  fields: Array<[string, string]>,
  reference: string,
): Promise<number> {
  const { settings } = ctx;
  // Once sent, a commit is not tied to the caller's signal: Redis decides its outcome.
  const call = callFor(`COMMIT ${reference}`, reference, never, false);
  let current = snapshot;
  for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
    const oldChunks = current === undefined ? [] : keys.chunks(current.dataId, chunkCount(current.size, current.chunkBytes));
    const reply = asList(
      await ctx.conn.script(
        call,
        COMMIT,
        [keys.manifest, keys.pending, ...newChunks, ...oldChunks],
        [
          writeId,
          newChunks.length,
          oldChunks.length,
          current?.dataId ?? "",
          String(current?.size ?? 0),
          flag(pre.ifNotExists),
          flag(pre.ifExists),
          flag(pre.ifMatchEtag !== undefined),
          pre.ifMatchEtag ?? "",
          settings.ttlMs,
          settings.graceMs,
          ...fields.flat(),
        ],
      ),
    );
    switch (reply[0]) {
      case "ok":
        return Number(reply[1]);
      case "conflict":
        current = snapshotOf(reply);
        continue;
      case "exists":
      case "mismatch":
        checkPreconditions(reported(key, reply[1], reply[2]), pre, reference);
        break;
      case "missing":
        checkPreconditions(undefined, pre, reference);
        break;
      case "expired":
        throw new StowdError(
          "DEADLINE_EXCEEDED",
          `the write of ${reference} took longer than the redis store's staging TTL (${settings.stagingTtlMs / 1000} s, stagingTtlSeconds); nothing was written`,
          { reference, backend: KIND },
        );
      case "lost":
        throw new StowdError(
          "BACKEND_UNAVAILABLE",
          `staged chunks of ${reference} vanished from Redis before the commit (evicted or flushed?); nothing was written, retry the write`,
          {
            reference,
            backend: KIND,
          },
        );
    }
    throw unexpectedReply("commit", reference, reply[0]);
  }
  throw new StowdError(
    "BACKEND_UNAVAILABLE",
    `${reference} changes too often to commit (${MAX_CONFLICTS} conflicting writers); nothing was written, retry`,
    { reference, backend: KIND },
  );
}
