// The CRC32C of a local file, read as a stream with the SDK's own CRC32C
// (native in Node), so sync compares a file with an object's stored checksum
// by the same function that checks uploads.
import { createReadStream } from "node:fs";
import { nodeCrc32c } from "../client/crc32c-node.js";
import { localError } from "./local-errors.js";

export async function fileCrc32c(path: string, signal: AbortSignal): Promise<number> {
  const crc = await nodeCrc32c();
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, signal })) crc.update(chunk as Buffer);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw localError(err, path, "checksumming");
  }
  return crc.digest();
}
