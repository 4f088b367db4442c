// ReadRaw / WriteRaw on mem:// and file:// through the SDK and through a
// plain grpc-js client, next to the two ceilings (a bare grpc-js stream and a
// bare node:http2 stream of the same bytes). One daemon per store, so the
// file:// numbers are not skewed by a mem:// object held in the same heap.
import { join } from "node:path";
import { stopChild } from "../harness/children.js";
import { startBareGrpcServer, startBareHttp2Server } from "../harness/ceiling-servers.js";
import { startStowdDaemon } from "../harness/stowd-daemon.js";
import type { StreamSection } from "../report/results.js";
import { createBareGrpcTarget } from "../targets/bare-grpc-target.js";
import { createBareHttp2Target } from "../targets/bare-http2-target.js";
import { createStowdGrpcJsTarget } from "../targets/stowd-grpc-js-target.js";
import { createStowdSdkTarget } from "../targets/stowd-sdk-target.js";
import type { StreamTarget } from "../targets/stream-target.js";
import type { ScenarioContext } from "./context.js";
import { runStreamScenario } from "./streams.js";

export const BARE_HTTP2 = "bare node:http2";
export const BARE_GRPC = "bare grpc-js";

export async function runLocalStreams(ctx: ScenarioContext): Promise<StreamSection> {
  const largest = Math.max(...ctx.options.sizes);
  const [http2Server, grpcServer, memDaemon, fileDaemon] = await Promise.all([
    startBareHttp2Server(largest),
    startBareGrpcServer(largest),
    startStowdDaemon({ name: "stowd (mem:// streams)", dir: join(ctx.tmp, "stowd-mem") }),
    startStowdDaemon({ name: "stowd (file:// streams)", dir: join(ctx.tmp, "stowd-file") }),
  ]);
  const children = [http2Server.child, grpcServer.child, memDaemon.child, fileDaemon.child];
  for (const c of children) ctx.started(c.name, c.command);
  const targets: StreamTarget[] = [
    createBareHttp2Target({ port: http2Server.port, serverPid: http2Server.child.pid }),
    createBareGrpcTarget({ port: grpcServer.port, serverPid: grpcServer.child.pid }),
  ];
  for (const [scheme, daemon] of [
    ["mem", memDaemon],
    ["file", fileDaemon],
  ] as const) {
    const common = { port: daemon.grpcPort, serverPid: daemon.child.pid, reference: (name: string) => `${scheme}://bench/${name}` };
    targets.push(createStowdGrpcJsTarget({ label: `stowd ${scheme}:// grpc-js`, ...common }));
    targets.push(createStowdSdkTarget({ label: `stowd ${scheme}:// SDK`, ...common }));
  }
  try {
    return await runStreamScenario({
      id: "local",
      title: "ReadRaw / WriteRaw on memory and local disk, next to the ceilings",
      targets,
      baselines: [BARE_GRPC, BARE_HTTP2],
      sizes: ctx.options.sizes,
      runs: ctx.options.runs,
      payload: ctx.payload,
      children,
      notes: [
        `Ceilings: ${BARE_HTTP2} sends the bytes as plain HTTP/2 DATA in 1 MiB writes; ${BARE_GRPC} sends them as 1 MiB gRPC messages of raw bytes. Neither stores anything.`,
        "grpc-js = a plain @grpc/grpc-js client with the generated messages; SDK = stowd's client/ (createStowdClient, connect-node). Every client uses 8 MiB HTTP/2 windows.",
        "file:// writes are fsynced and renamed into place before WriteRaw answers.",
      ],
      progress: ctx.progress,
    });
  } finally {
    for (const t of targets) t.close();
    await Promise.all(children.map(stopChild));
  }
}
