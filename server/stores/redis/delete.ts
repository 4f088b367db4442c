// Delete and deletePrefix. One DELETE script removes the manifest and lets
// the version's chunks expire after the read grace period (readers that
// opened it finish); the key then leaves the index. deletePrefix lists the
// index a range at a time and deletes each key.
import { StowdError } from "../../../common/errors.js";
import { formatReference, type Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { deleteByListing } from "../kit/delete-by-listing.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkEtag } from "../kit/preconditions.js";
import type { DeleteOptions } from "../raw-store.js";
import type { RedisCall } from "./connection.js";
import { MAX_CONFLICTS, callFor, keysOf, type RedisContext } from "./context.js";
import { KIND, unexpectedReply } from "./errors.js";
import { chunkCount } from "./keys.js";
import { decodeKey, endBound, indexRange, lexBound, prune, startBound } from "./listing.js";
import { reported, snapshotOf, type Snapshot } from "./manifest.js";
import { DELETE, asList, flag } from "./scripts.js";

/** Deletes in flight at once in a deletePrefix. */
const DELETE_CONCURRENCY = 8;
/** Index members listed per deletePrefix page. */
const DELETE_PAGE = 256;

export async function remove(ctx: RedisContext, ref: Ref, options: DeleteOptions, signal: AbortSignal): Promise<boolean> {
  return deleteKey(ctx, ref.key, options.ifMatchEtag, signal, referenceOf(ref));
}

export async function deletePrefix(ctx: RedisContext, prefix: Ref, signal: AbortSignal): Promise<number> {
  const reference = referenceOf(prefix);
  const call = callFor(`DELETE PREFIX ${reference}`, reference, signal);
  return deleteByListing({
    pages: indexPages(ctx, prefix.key, call, signal),
    remove: (key) => deleteKey(ctx, key, undefined, signal, formatReference(prefix, key)),
    concurrency: DELETE_CONCURRENCY,
    signal,
    reference,
  });
}

/** The keys under `prefixKey` in the index, a page at a time, each page read after the previous one was deleted. */
async function* indexPages(ctx: RedisContext, prefixKey: string, call: RedisCall, signal: AbortSignal): AsyncGenerator<string[]> {
  let min = startBound(prefixKey, undefined);
  const max = endBound(prefixKey);
  for (;;) {
    throwIfAborted(signal, call.reference);
    const members = await indexRange(ctx, min, max, DELETE_PAGE, call);
    const lastMember = members[members.length - 1];
    if (lastMember === undefined) return;
    min = lexBound("(", lastMember);
    yield members.map(decodeKey).filter((key): key is string => key !== undefined);
  }
}

/** Deletes `key`'s current version (if it matches); false when there was none. */
async function deleteKey(
  ctx: RedisContext,
  key: string,
  ifMatchEtag: string | undefined,
  signal: AbortSignal,
  reference: string,
): Promise<boolean> {
  const keys = keysOf(ctx, key);
  const call = callFor(`DELETE ${reference}`, reference, signal, ifMatchEtag === undefined);
  let current: Snapshot | undefined;
  let deleted: boolean | undefined;
  for (let attempt = 0; deleted === undefined; attempt++) {
    if (attempt >= MAX_CONFLICTS)
      throw new StowdError("BACKEND_UNAVAILABLE", `${reference} changes too often to delete; retry`, { reference, backend: KIND });
    const chunks = current === undefined ? [] : keys.chunks(current.dataId, chunkCount(current.size, current.chunkBytes));
    const reply = asList(
      await ctx.conn.script(
        call,
        DELETE,
        [keys.manifest, ...chunks],
        [current?.dataId ?? "", String(current?.size ?? 0), flag(ifMatchEtag !== undefined), ifMatchEtag ?? "", ctx.settings.graceMs],
      ),
    );
    switch (reply[0]) {
      case "ok":
        deleted = true;
        break;
      case "missing":
        deleted = false;
        break;
      case "mismatch":
        checkEtag(reported(key, reply[1], reply[2]), ifMatchEtag, reference, "nothing was deleted");
        throw new StowdError("INTERNAL", `unexpected delete reply for ${reference}`, { reference, backend: KIND });
      case "conflict":
        current = snapshotOf(reply);
        break;
      default:
        throw unexpectedReply("delete", reference, reply[0]);
    }
  }
  await prune(ctx, key, reference).catch(() => {});
  return deleted;
}
