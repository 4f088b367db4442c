// Write and append. The body goes to a temp file on the root's file system,
// is fsynced, and is committed (commit.ts) after the preconditions pass
// again under the key's lock. An append is copy-on-write: a copy of the
// current version plus the appended bytes replaces the object whole.
import type { BigIntStats } from "node:fs";
import { open, rm } from "node:fs/promises";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { appendedCrc32c, trackCrc32c } from "../kit/crc32c.js";
import { checkAppend, checkPreconditions } from "../kit/preconditions.js";
import type { AppendOptions, ObjectMeta, WriteOptions } from "../raw-store.js";
import { commit } from "./commit.js";
import { locate, newTempPath, type LocalContext } from "./context.js";
import { KIND, storeError } from "./errors.js";
import { copyObjectToTemp, readChunks, syncAndStat, writeBody } from "./files.js";
import { currentForWrite } from "./lookup.js";

export async function write(
  ctx: LocalContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const loc = locate(ctx, ref);
  // Fail fast (conflicts, links, preconditions) before taking the body; checked again at commit.
  checkPreconditions((await currentForWrite(ctx, loc))?.meta, options.preconditions, loc.reference);
  const tempPath = newTempPath(ctx);
  const tracked = trackCrc32c(body, options.crc32c);
  try {
    const handle = await open(tempPath, "wx");
    let stats: BigIntStats;
    try {
      await writeBody(handle, tracked.body, 0, signal, loc.reference);
      await handle.sync();
      stats = await handle.stat({ bigint: true });
    } finally {
      await handle.close();
    }
    throwIfAborted(signal, loc.reference);
    return await commit(ctx, loc, signal, async (current) => {
      checkPreconditions(current?.meta, options.preconditions, loc.reference);
      return {
        tempPath,
        stats,
        contentType: contentTypeOrDefault(options.contentType),
        metadata: options.metadata,
        ...(options.contentMd5 === undefined ? {} : { contentMd5: options.contentMd5 }),
        crc32c: tracked.crc32c.value(),
      };
    });
  } catch (err) {
    throw storeError(err, loc.reference, "writing");
  } finally {
    await rm(tempPath, { force: true });
  }
}

export async function append(
  ctx: LocalContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: AppendOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const loc = locate(ctx, ref);
  // Copy-on-write, optimistically: copy the current version and append to
  // the copy outside the lock; at commit, if the object changed
  // meanwhile, rebuild from the new version and the appended bytes.
  const snapshot = await currentForWrite(ctx, loc);
  checkAppend(snapshot?.meta, options, loc.reference, KIND);
  const tempPath = newTempPath(ctx);
  const tracked = trackCrc32c(body, options.crc32c);
  let rebuiltPath: string | undefined;
  try {
    const baseKnown = snapshot === undefined || (await copyObjectToTemp(loc, snapshot, tempPath, signal));
    const handle = await open(tempPath, baseKnown && snapshot !== undefined ? "r+" : "w");
    const base = baseKnown ? (snapshot?.meta.size ?? 0) : 0;
    let stats: BigIntStats;
    try {
      await writeBody(handle, tracked.body, base, signal, loc.reference);
      await handle.sync();
      stats = await handle.stat({ bigint: true });
    } finally {
      await handle.close();
    }
    throwIfAborted(signal, loc.reference);
    return await commit(ctx, loc, signal, async (current) => {
      checkAppend(current?.meta, options, loc.reference, KIND);
      const crc32c = appendedCrc32c(current?.meta, tracked.crc32c.value(), Number(stats.size) - base);
      const attributes = {
        contentType: current?.meta.contentType ?? contentTypeOrDefault(options.contentType),
        metadata: current?.meta.metadata ?? {},
        ...(crc32c === undefined ? {} : { crc32c }),
      };
      const unchanged = baseKnown && current?.meta.etag === snapshot?.meta.etag;
      if (unchanged) return { tempPath, stats, ...attributes };
      // Rebuild under the lock: the current version, then the appended bytes.
      const rebuilt = newTempPath(ctx);
      rebuiltPath = rebuilt;
      const appended = await open(tempPath, "r");
      try {
        if (current !== undefined && !(await copyObjectToTemp(loc, current, rebuilt, signal))) {
          throw new StowdError("INTERNAL", `${loc.reference} changed outside stowd during an append; nothing was appended`, {
            reference: loc.reference,
            backend: KIND,
          });
        }
        const target = await open(rebuilt, current === undefined ? "w" : "r+");
        try {
          await writeBody(
            target,
            readChunks(appended, base, Number(stats.size) - base, signal, loc.reference),
            current?.meta.size ?? 0,
            signal,
            loc.reference,
          );
        } finally {
          await target.close();
        }
      } finally {
        await appended.close();
      }
      return { tempPath: rebuilt, stats: await syncAndStat(rebuilt), ...attributes };
    });
  } catch (err) {
    throw storeError(err, loc.reference, "appending to");
  } finally {
    await rm(tempPath, { force: true });
    if (rebuiltPath !== undefined) await rm(rebuiltPath, { force: true });
  }
}
