// Head and read. A read streams from the file it opened, so an overwrite
// (a rename over the path) never mixes versions; the handle is closed when
// the body ends, is abandoned, or the read is closed.
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { resolveRange } from "../kit/byte-range.js";
import { checkEtag } from "../kit/preconditions.js";
import type { ObjectMeta, ReadOptions, ReadResult } from "../raw-store.js";
import { locate, type LocalContext } from "./context.js";
import { notFound } from "./errors.js";
import { readChunks } from "./files.js";
import { headAt, openObject } from "./lookup.js";

export async function head(ctx: LocalContext, ref: Ref): Promise<ObjectMeta | undefined> {
  return (await headAt(ctx, locate(ctx, ref)))?.meta;
}

export async function read(ctx: LocalContext, ref: Ref, options: ReadOptions, signal: AbortSignal): Promise<ReadResult> {
  const loc = locate(ctx, ref);
  throwIfAborted(signal, loc.reference);
  const opened = await openObject(ctx, loc);
  if (opened === undefined) throw notFound(loc.reference);
  const { handle, meta } = opened;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  try {
    checkEtag(meta, options.ifMatchEtag, loc.reference, "nothing was read");
    const { offset, length } = resolveRange(options.range, meta.size, loc.reference);
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        yield* readChunks(handle, offset, length, signal, loc.reference);
      } finally {
        await close();
      }
    }
    return { meta, offset, length, body: body(), close };
  } catch (err) {
    await close();
    throw err;
  }
}
