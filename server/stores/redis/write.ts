// Write and append. A write stages its chunks under a fresh data id and
// commits them as a new version (commit.ts). An append stages only the new
// bytes, cut on the chunk grid of the object as it is now, and one APPEND
// script checks the preconditions and splices them onto the current version
// (filling its last chunk first), retrying when a writer got in between.
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { appendedCrc32c, trackCrc32c } from "../kit/crc32c.js";
import { referenceOf, requireKey } from "../kit/object-reference.js";
import { checkAppend, checkPreconditions } from "../kit/preconditions.js";
import type { AppendOptions, ObjectMeta, WriteOptions } from "../raw-store.js";
import { writeVersion } from "./commit.js";
import { MAX_CONFLICTS, callFor, keysOf, never, newId, type RedisContext } from "./context.js";
import { KIND, corrupt, outcomeUnknown, tooLarge, unexpectedReply } from "./errors.js";
import { chunkCount } from "./keys.js";
import { addToIndex } from "./listing.js";
import { metaOf, parseManifest, reported, snapshotOf, type Snapshot } from "./manifest.js";
import { APPEND, asList, flag } from "./scripts.js";
import { begin, discard, stage, type Staged } from "./staging.js";

export async function write(
  ctx: RedisContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const { settings } = ctx;
  const reference = referenceOf(ref);
  requireKey(ref, reference);
  if (options.size !== undefined && options.size > settings.maxObjectBytes)
    throw tooLarge(reference, options.size, settings.maxObjectBytes);
  const keys = keysOf(ctx, ref.key);
  const writeId = newId();
  const current = await begin(ctx, keys, writeId, callFor(`WRITE ${reference}`, reference, signal));
  try {
    // Fail fast, before taking the body; checked again atomically at commit.
    checkPreconditions(current === undefined ? undefined : metaOf(ref.key, current), options.preconditions, reference);
  } catch (err) {
    await discard(ctx, ref.key, keys, writeId, [], false, reference);
    throw err;
  }
  const attributes = {
    contentType: contentTypeOrDefault(options.contentType),
    metadata: { ...options.metadata },
    ...(options.contentMd5 === undefined ? {} : { contentMd5: options.contentMd5 }),
  };
  const cs = settings.chunkBytes;
  return writeVersion(
    ctx,
    ref,
    writeId,
    current,
    async (dataId, staged) => {
      const plan = { keyOf: (i: number) => keys.chunk(dataId, i), firstPieceBytes: cs, pieceBytes: cs, base: 0 };
      const tracked = trackCrc32c(body, options.crc32c);
      await stage(ctx, tracked.body, plan, staged, signal, reference);
      return { chunkBytes: cs, crc32c: tracked.crc32c.value() };
    },
    options.preconditions,
    attributes,
    signal,
  );
}

export async function append(
  ctx: RedisContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: AppendOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const { conn, settings } = ctx;
  const reference = referenceOf(ref);
  requireKey(ref, reference);
  const keys = keysOf(ctx, ref.key);
  const writeId = newId();
  const check = (current: ObjectMeta | undefined): void => checkAppend(current, options, reference, KIND);
  const snapshot = await begin(ctx, keys, writeId, callFor(`APPEND ${reference}`, reference, signal));
  const appendId = newId();
  const staged: Staged = { keys: [], bytes: 0 };
  let indexed = false;
  let sent = false;
  try {
    check(snapshot === undefined ? undefined : metaOf(ref.key, snapshot)); // fail fast, before taking the body
    if (options.createIfMissing) {
      await addToIndex(ctx, ref.key, writeId, callFor(`INDEX ${reference}`, reference, signal));
      indexed = true;
    }
    // Cut the appended bytes on the grid of the size seen now: piece 0 fills the last chunk.
    const pieceCs = snapshot?.chunkBytes ?? settings.chunkBytes;
    const align = (snapshot?.size ?? 0) % pieceCs;
    const plan = {
      keyOf: (i: number) => keys.chunk(appendId, i),
      firstPieceBytes: pieceCs - align,
      pieceBytes: pieceCs,
      base: snapshot?.size ?? 0,
    };
    const tracked = trackCrc32c(body, options.crc32c);
    await stage(ctx, tracked.body, plan, staged, signal, reference);
    throwIfAborted(signal, reference);
    const appendedCrc = tracked.crc32c.value();
    const call = callFor(`APPEND ${reference}`, reference, never, false);
    const newDataId = newId();
    const etag = newId();
    let current: Snapshot | undefined = snapshot;
    sent = true;
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const target = current ?? { dataId: newDataId, size: 0, chunkBytes: pieceCs };
      const targets = keys.chunks(target.dataId, chunkCount(target.size + staged.bytes, target.chunkBytes));
      // The CRC32C of the version the script checks it appends to (data id and size), extended.
      const crc32c = appendedCrc32c(current, appendedCrc, staged.bytes);
      const reply = asList(
        await conn.script(
          call,
          APPEND,
          [keys.manifest, keys.pending, ...staged.keys, ...targets],
          [
            writeId,
            staged.keys.length,
            targets.length,
            current?.dataId ?? "",
            String(current?.size ?? 0),
            flag(options.createIfMissing),
            flag(options.expectedOffset !== undefined),
            options.expectedOffset ?? 0,
            flag(options.ifMatchEtag !== undefined),
            options.ifMatchEtag ?? "",
            staged.bytes,
            align,
            pieceCs,
            newDataId,
            etag,
            contentTypeOrDefault(options.contentType),
            settings.maxObjectBytes,
            settings.ttlMs,
            ref.key,
            crc32c === undefined ? "" : String(crc32c),
          ],
        ),
      );
      switch (reply[0]) {
        case "ok": {
          const m = parseManifest(reply[1], reference);
          if (m === undefined) throw corrupt(reference, "empty after an append");
          return metaOf(ref.key, m);
        }
        case "conflict":
          current = snapshotOf(reply);
          continue;
        case "missing":
          check(undefined);
          break;
        case "mismatch":
          check(reported(ref.key, reply[1], reply[2]));
          break;
        case "offset":
          // The etag matched (checked first), so only the offset can fail here.
          check(reported(ref.key, options.ifMatchEtag ?? "", reply[1]));
          break;
        case "toolarge":
          throw tooLarge(reference, Number(reply[1]) + staged.bytes, settings.maxObjectBytes);
        case "expired":
          throw new StowdError(
            "DEADLINE_EXCEEDED",
            `the append to ${reference} took longer than the redis store's staging TTL; nothing was appended`,
            { reference, backend: KIND },
          );
        case "lost":
          throw new StowdError(
            "BACKEND_UNAVAILABLE",
            `staged chunks of ${reference} vanished from Redis before the append; nothing was appended, retry`,
            { reference, backend: KIND },
          );
      }
      throw unexpectedReply("append", reference, reply[0]);
    }
    throw new StowdError(
      "BACKEND_UNAVAILABLE",
      `${reference} changes too often to append (${MAX_CONFLICTS} conflicting writers); nothing was appended, retry`,
      { reference, backend: KIND },
    );
  } catch (err) {
    if (!(sent && outcomeUnknown(err))) await discard(ctx, ref.key, keys, writeId, staged.keys, indexed, reference);
    throw err;
  }
}
