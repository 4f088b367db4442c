// The bare node:http file server, the ceiling of daemon-signed URLs: plain
// HTTP/1.1 GET and PUT of files in one directory, with nothing in between
// (no signature, no store tree, no checksums). Run as a child process by
// bench/main.ts (`node --import tsx bench/ceilings/bare-http-file-server.ts DIR`);
// binds 127.0.0.1 on a free port and prints `{"port":N}` once it serves.
//   GET /NAME  streams DIR/NAME with fs.createReadStream (256 KiB reads, as stowd's file:// store)
//   PUT /NAME  writes the body to a temp file, fsyncs it and renames it to DIR/NAME
//              (as a file:// WriteRaw commits), then answers the byte count
import { createReadStream, createWriteStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { announcePort, exitWithBenchmark } from "./ceiling-process.js";

const dir = process.argv[2];
if (dir === undefined || dir === "") {
  console.error("usage: bare-http-file-server.ts DIR");
  process.exit(2);
}
const dataDir = dir;

/** The same read size as stowd's file:// store (256 KiB per read). */
const READ_BYTES = 256 * 1024;

/** A file name from the request path: one segment of safe characters, or undefined. */
function fileOf(url: string | undefined): string | undefined {
  const name = decodeURIComponent(new URL(url ?? "/", "http://bench").pathname.slice(1));
  return /^[A-Za-z0-9._-]+$/.test(name) ? join(dataDir, name) : undefined;
}

async function download(file: string, res: http.ServerResponse): Promise<void> {
  const { size } = await stat(file);
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
  await pipeline(createReadStream(file, { highWaterMark: READ_BYTES }), res);
}

async function upload(file: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const temp = `${file}.${process.pid}.upload`;
  let received = 0;
  req.on("data", (chunk: Buffer) => (received += chunk.length));
  try {
    await pipeline(req, createWriteStream(temp));
    const handle = await open(temp, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(String(received));
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const file = fileOf(req.url);
  const served =
    file === undefined
      ? Promise.reject(new Error(`no file name in ${req.url}`))
      : req.method === "GET"
        ? download(file, res)
        : req.method === "PUT"
          ? upload(file, req, res)
          : Promise.reject(new Error(`${req.method} is not served`));
  served.catch((err: unknown) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(err instanceof Error && "code" in err && err.code === "ENOENT" ? 404 : 400, { "content-type": "text/plain" });
    res.end(`${err instanceof Error ? err.message : String(err)}\n`);
  });
});
server.listen(0, "127.0.0.1", () => announcePort((server.address() as AddressInfo).port));
exitWithBenchmark();
