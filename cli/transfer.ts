// Streams between this machine and the daemon: a local file or stdin up into
// an object, an object down into a local file or stdout. Nothing is read
// whole into memory; chunks flow through with backpressure, counted for the
// progress bar on the way. A download lands under a temp name beside the
// destination and is renamed into place only when complete, so a failed or
// interrupted download never leaves a truncated file under the real name.
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ObjectInfo, ReadOptions, StowdClient, WriteOptions } from "../client/index.js";
import { StowdError } from "../common/errors.js";
import { fsErrorOr, localError } from "./local-errors.js";
import { referenceBasename } from "./location.js";
import { contentTypeOf } from "./content-type.js";
import { createProgress, type Progress } from "./progress.js";
import { UsageError } from "./usage-error.js";

/** Read size for local files: the SDK's 1 MiB message size, so each read is one message. */
const READ_BYTES = 1024 * 1024;

export type UploadSource = { kind: "local"; path: string } | { kind: "stdin"; stream: Readable };

export interface UploadOptions {
  client: StowdClient;
  source: UploadSource;
  reference: string;
  /** Content type, metadata and preconditions of the write. */
  write: Omit<WriteOptions, "size" | "signal">;
  progress: boolean;
  /** A bulk transfer's shared bar to count into, instead of a bar of this file's own. */
  sharedBar?: Progress;
  signal: AbortSignal;
}

export async function upload(options: UploadOptions): Promise<ObjectInfo> {
  const { client, source, reference, signal } = options;
  if (source.kind === "stdin") {
    // Unknown size: no bar (there is no total to show), the daemon stores what arrives.
    try {
      return await client.write(reference, source.stream, { ...options.write, signal });
    } finally {
      // After a failure or Ctrl-C stdin may still be open; it must not keep the process alive.
      source.stream.destroy();
    }
  }
  const path = source.path;
  // Opened before the call, so a missing or unreadable file is reported as such, not as a failed upload.
  const file = await open(path, "r").catch((err: unknown) => {
    throw localError(err, path, "opening");
  });
  try {
    const info = await file.stat();
    if (info.isDirectory()) throw new UsageError(`${path} is a directory; copy it with cp -r`);
    // A regular file has a size to declare and show; a named pipe or device (stowd put /dev/stdin) has none.
    const size = info.isFile() ? info.size : undefined;
    const bar =
      options.sharedBar ??
      createProgress({
        enabled: options.progress && size !== undefined,
        total: size ?? 0,
        label: `${basename(path)} -> ${reference}`,
      });
    const stream = file.createReadStream({ highWaterMark: READ_BYTES, autoClose: false });
    try {
      // The declared size makes the daemon refuse a file that changed length while it was read.
      const sized = size === undefined ? options.write : { ...options.write, size };
      const write = sized.contentType === undefined ? { ...sized, contentType: contentTypeOf(path) } : sized;
      return await client.write(reference, counted(stream, bar), { ...write, signal });
    } catch (err) {
      throw fsErrorOr(err, path, "reading");
    } finally {
      if (bar !== options.sharedBar) bar.stop();
      stream.destroy();
    }
  } finally {
    await file.close();
  }
}

export type DownloadTarget = { kind: "local"; path: string } | { kind: "stdout"; stream: Writable };

export interface DownloadOptions {
  client: StowdClient;
  reference: string;
  target: DownloadTarget;
  read?: Omit<ReadOptions, "signal">;
  progress: boolean;
  /** A bulk transfer's shared bar to count into, instead of a bar of this file's own. */
  sharedBar?: Progress;
  signal: AbortSignal;
}

export interface Downloaded {
  info: ObjectInfo;
  /** The local file written; undefined for stdout. */
  path: string | undefined;
  bytes: number;
}

export async function download(options: DownloadOptions): Promise<Downloaded> {
  const { client, reference, target, signal } = options;
  const path = target.kind === "local" ? await localDestination(target.path, reference) : undefined;
  const handle = await client.read(reference, { ...options.read, signal });
  const bar =
    options.sharedBar ??
    createProgress({
      enabled: options.progress,
      total: handle.length,
      label: `${reference} -> ${path ?? "stdout"}`,
    });
  try {
    if (path === undefined) {
      await pipeline(counted(handle.chunks, bar), (target as { stream: Writable }).stream, { end: false });
    } else {
      await writeAtomically(path, counted(handle.chunks, bar));
    }
  } catch (err) {
    handle.cancel();
    throw fsErrorOr(err, path ?? "stdout", "writing");
  } finally {
    if (bar !== options.sharedBar) bar.stop();
  }
  return { info: handle.info, path, bytes: handle.length };
}

/** An existing directory (or a path ending with "/") gets the object's name inside it. */
async function localDestination(path: string, reference: string): Promise<string> {
  const existing = await stat(path).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === "ENOENT") return undefined;
    throw localError(err, path, "checking");
  });
  if (existing?.isDirectory() === true) return join(path, referenceBasename(reference));
  if (path.endsWith("/")) throw new StowdError("NOT_FOUND", `local directory ${path} does not exist`, { field: path });
  return path;
}

/** A download's temp file: `.NAME.stowd-XXXXXXXX.part`. */
const PARTIAL_DOWNLOAD = /^\..+\.stowd-[0-9a-f]{8}\.part$/;

/** Whether a local file name is a download's temp file (one a killed CLI left behind is never renamed into place). */
export function isPartialDownload(name: string): boolean {
  return PARTIAL_DOWNLOAD.test(name);
}

async function writeAtomically(path: string, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.stowd-${randomBytes(4).toString("hex")}.part`);
  try {
    await pipeline(chunks, createWriteStream(temp, { flags: "wx" }));
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

async function* counted(source: AsyncIterable<Uint8Array>, bar: Progress): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    bar.add(chunk.byteLength);
    yield chunk;
  }
}
