// Daemon-signed URLs (GET and PUT under /signed/ on the HTTP port) with a
// plain node:http client, next to ReadRaw / WriteRaw of the same objects with
// the plain grpc-js client, and to the ceiling of the path: a bare node:http
// server streaming the same bytes from and to files. One daemon per store, as
// in the local stream section.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { stopChild } from "../harness/children.js";
import { startBareHttpFileServer } from "../harness/ceiling-servers.js";
import { startStowdDaemon } from "../harness/stowd-daemon.js";
import type { StreamSection } from "../report/results.js";
import { BARE_HTTP_FILES, createBareHttpTarget } from "../targets/bare-http-target.js";
import { createStowdGrpcJsTarget } from "../targets/stowd-grpc-js-target.js";
import { createStowdSignedUrlTarget } from "../targets/stowd-signed-url-target.js";
import type { StreamTarget } from "../targets/stream-target.js";
import type { ScenarioContext } from "./context.js";
import { runStreamScenario } from "./streams.js";

/** The baseline the signed URLs are compared with besides the ceiling. */
export const FILE_GRPC_JS = "stowd file:// grpc-js";

export async function runSignedUrls(ctx: ScenarioContext): Promise<StreamSection> {
  const bareDir = join(ctx.tmp, "bare-http-files");
  mkdirSync(bareDir, { recursive: true });
  const [httpServer, fileDaemon, memDaemon] = await Promise.all([
    startBareHttpFileServer(bareDir),
    startStowdDaemon({ name: "stowd (file:// signed URLs)", dir: join(ctx.tmp, "stowd-signed-file"), signedUrls: true }),
    startStowdDaemon({ name: "stowd (mem:// signed URLs)", dir: join(ctx.tmp, "stowd-signed-mem"), signedUrls: true }),
  ]);
  const children = [httpServer.child, fileDaemon.child, memDaemon.child];
  for (const c of children) ctx.started(c.name, c.command);
  const targets: StreamTarget[] = [createBareHttpTarget({ port: httpServer.port, serverPid: httpServer.child.pid })];
  for (const [scheme, daemon] of [
    ["file", fileDaemon],
    ["mem", memDaemon],
  ] as const) {
    const common = { port: daemon.grpcPort, serverPid: daemon.child.pid, reference: (name: string) => `${scheme}://bench/${name}` };
    targets.push(createStowdSignedUrlTarget({ label: `stowd ${scheme}:// signed URL`, ...common }));
    targets.push(createStowdGrpcJsTarget({ label: `stowd ${scheme}:// grpc-js`, ...common }));
  }
  try {
    return await runStreamScenario({
      id: "signed",
      title: "Daemon-signed URLs (HTTP/1.1 GET and PUT) next to ReadRaw / WriteRaw and a bare node:http file server",
      targets,
      baselines: [BARE_HTTP_FILES, FILE_GRPC_JS],
      sizes: ctx.options.sizes,
      runs: ctx.options.runs,
      payload: ctx.payload,
      children,
      notes: [
        `${BARE_HTTP_FILES}: node:http GET streams a file with fs.createReadStream (256 KiB reads, as stowd's file:// store); PUT writes a temp file, fsyncs and renames it (as a file:// write commits). No signature, no checksum.`,
        "signed URL: the URLs are signed with CreateSignedUrl before each run (untimed); the GET (body consumed and discarded) or PUT (1 MiB writes with backpressure) is timed. The same node:http client, one kept-alive HTTP/1.1 connection, for the signed URLs and the bare server. The PUT is checked as a WriteRaw is (size, CRC32C) and committed the same way.",
        "grpc-js = ReadRaw / WriteRaw with the plain @grpc/grpc-js client and 8 MiB HTTP/2 windows, as in the local stream section. ÷ stowd file:// grpc-js compares every row with file:// ReadRaw / WriteRaw, the mem:// rows included.",
        "op: ReadRaw is the HTTP GET on the signed URL and bare rows, WriteRaw the HTTP PUT. file:// reads come from the page cache on every path.",
      ],
      progress: ctx.progress,
    });
  } finally {
    for (const t of targets) t.close();
    await Promise.all(children.map(stopChild));
  }
}
