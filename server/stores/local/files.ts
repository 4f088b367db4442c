// Moving bytes between a body and files: batched writes at a position,
// chunked reads of an open file, fsync, and copies of an object's file into
// a temp file (a reflink where the file system has them).
import { constants, type BigIntStats } from "node:fs";
import { copyFile, lstat, open, type FileHandle } from "node:fs/promises";
import { StowdError } from "../../../common/errors.js";
import { abortable, throwIfAborted } from "../kit/abort.js";
import { allocateWithHeadroom } from "../kit/message-headroom.js";
import type { Location } from "./context.js";
import { KIND, errnoCode, fromLocalError } from "./errors.js";
import type { Found } from "./lookup.js";
import { identityOf, sameIdentity } from "./sidecar.js";

/**
 * Read chunk size. 256 KiB, not 1 MiB: a slow reader holds its last chunk
 * while the messages cut from it drain (256 readers at 256 KiB/s: daemon
 * peak RSS 554 MiB, was 1,316 with 1 MiB), and smaller buffers are reused
 * warm instead of page-faulted in fresh (full-speed reads: ~15 page faults
 * per MB, was ~80; CPU per GB about halved).
 */
const READ_CHUNK_BYTES = 256 << 10;
/** Read chunks from this size up get room for a message header in front. */
const HEADROOM_FROM_BYTES = 64 << 10;
/** Small body chunks are gathered into writes of about this size. */
const WRITE_BATCH_BYTES = 256 << 10;

async function writeAll(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Writes `body` at `position`, batching small chunks; returns the bytes written. */
export async function writeBody(
  handle: FileHandle,
  body: AsyncIterable<Uint8Array>,
  position: number,
  signal: AbortSignal,
  reference: string,
): Promise<number> {
  let at = position;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const data = pending.length === 1 && pending[0] !== undefined ? pending[0] : Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    await writeAll(handle, data, at);
    at += data.length;
  };
  for await (const chunk of abortable(body, signal, reference)) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
  }
  await flush();
  return at - position;
}

/** Reads `length` bytes from `position` of an open file, in chunks of at most READ_CHUNK_BYTES. */
export async function* readChunks(
  handle: FileHandle,
  position: number,
  length: number,
  signal: AbortSignal,
  reference: string,
): AsyncGenerator<Buffer> {
  let at = position;
  const end = position + length;
  while (at < end) {
    throwIfAborted(signal, reference);
    const size = Math.min(READ_CHUNK_BYTES, end - at);
    // Room in front for the ReadRaw message header, so the gRPC port sends a
    // large chunk without a copy; a small one is cheaper from Node's pool.
    const buffer = size >= HEADROOM_FROM_BYTES ? allocateWithHeadroom(size) : Buffer.allocUnsafe(size);
    for (let filled = 0; filled < size;) {
      const { bytesRead } = await handle.read(buffer, filled, size - filled, at + filled);
      if (bytesRead === 0) {
        throw new StowdError("INTERNAL", `the file of ${reference} became shorter while it was read (changed outside stowd)`, {
          reference,
          backend: KIND,
        });
      }
      filled += bytesRead;
    }
    at += size;
    yield buffer;
  }
}

export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems cannot fsync directories; the rename itself has happened.
  }
}

/** fsyncs a finished temp file and returns its stats (the identity its sidecar entry records). */
export async function syncAndStat(file: string): Promise<BigIntStats> {
  const handle = await open(file, "r+");
  try {
    await handle.sync();
    return await handle.stat({ bigint: true });
  } finally {
    await handle.close();
  }
}

/** Copies the open file into a new temp file (when a path copy cannot be trusted). */
async function copyFromHandle(source: FileHandle, size: number, tempPath: string, signal: AbortSignal, reference: string): Promise<void> {
  const target = await open(tempPath, "w");
  try {
    await writeBody(target, readChunks(source, 0, size, signal, reference), 0, signal, reference);
  } finally {
    await target.close();
  }
}

/**
 * A temp file holding a copy of `found`, made by reflink/copy of the path,
 * verified to be that very file; failing that, copied from `handle` when
 * given. False when no verified copy could be made.
 */
export async function copyObjectToTemp(
  loc: Location,
  found: Found,
  tempPath: string,
  signal: AbortSignal,
  handle?: FileHandle,
): Promise<boolean> {
  try {
    await copyFile(loc.file, tempPath, constants.COPYFILE_FICLONE);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw fromLocalError(err, loc.reference, "copying");
  }
  // Committed files are never modified in place, so the same identity means the same bytes.
  const now = await lstat(loc.file, { bigint: true }).catch(() => undefined);
  if (now !== undefined && now.isFile() && sameIdentity(identityOf(now), identityOf(found.stats))) return true;
  if (handle === undefined) return false;
  await copyFromHandle(handle, Number(found.stats.size), tempPath, signal, loc.reference);
  return true;
}
