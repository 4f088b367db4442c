// Copy within the local store: a reflink of the source where the file
// system has them, the open source file when its path changed meanwhile,
// committed like a write.
import { rm } from "node:fs/promises";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { checkEtag, checkPreconditions } from "../kit/preconditions.js";
import type { CopyOptions, ObjectMeta } from "../raw-store.js";
import { commit } from "./commit.js";
import { locate, newTempPath, type LocalContext } from "./context.js";
import { notFound, storeError } from "./errors.js";
import { copyObjectToTemp, syncAndStat } from "./files.js";
import { currentForWrite, openObject } from "./lookup.js";

export async function copy(
  ctx: LocalContext,
  source: Ref,
  destination: Ref,
  options: CopyOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const from = locate(ctx, source);
  const to = locate(ctx, destination);
  throwIfAborted(signal, to.reference);
  const opened = await openObject(ctx, from);
  if (opened === undefined) throw notFound(from.reference);
  const tempPath = newTempPath(ctx);
  try {
    checkEtag(opened.meta, options.ifSourceMatchEtag, from.reference, "nothing was copied");
    checkPreconditions((await currentForWrite(ctx, to))?.meta, options.preconditions, to.reference);
    await copyObjectToTemp(from, opened, tempPath, signal, opened.handle);
    const stats = await syncAndStat(tempPath);
    throwIfAborted(signal, to.reference);
    const { contentType, metadata, contentMd5, crc32c } = opened.meta;
    return await commit(ctx, to, signal, async (current) => {
      checkPreconditions(current?.meta, options.preconditions, to.reference);
      return {
        tempPath,
        stats,
        contentType,
        metadata,
        ...(contentMd5 === undefined ? {} : { contentMd5 }),
        ...(crc32c === undefined ? {} : { crc32c }),
      };
    });
  } catch (err) {
    throw storeError(err, to.reference, "copying to");
  } finally {
    await opened.handle.close();
    await rm(tempPath, { force: true });
  }
}
