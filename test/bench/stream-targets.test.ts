// The benchmark's client paths move the right bytes: the stream scenario,
// run once with small objects through both ceilings and a real stowd daemon
// (SDK and plain grpc-js), verifies every byte it read; and a wrong byte is
// caught. Functional checks of the harness, not a benchmark: nothing is timed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePayload } from "../../bench/common.js";
import { stopAll } from "../../bench/harness/children.js";
import { startBareGrpcServer, startBareHttp2Server } from "../../bench/harness/ceiling-servers.js";
import { startStowdDaemon, type StowdDaemon } from "../../bench/harness/stowd-daemon.js";
import { createBareGrpcTarget } from "../../bench/targets/bare-grpc-target.js";
import { createBareHttp2Target } from "../../bench/targets/bare-http2-target.js";
import { createStowdGrpcJsTarget } from "../../bench/targets/stowd-grpc-js-target.js";
import { createStowdSdkTarget } from "../../bench/targets/stowd-sdk-target.js";
import type { StreamTarget } from "../../bench/targets/stream-target.js";
import { expectWrongByteCaught, runOnceThroughEveryTarget } from "./every-target-checks.js";

const SIZE = 3 * 1024 * 1024 + 1; // a partial last chunk
const payload = makePayload(SIZE);
let dir: string;
let daemon: StowdDaemon;
let targets: StreamTarget[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "stowd-bench-test-"));
  const [grpcServer, http2Server, d] = await Promise.all([
    startBareGrpcServer(SIZE),
    startBareHttp2Server(SIZE),
    startStowdDaemon({ name: "stowd", dir }),
  ]);
  daemon = d;
  const common = { port: daemon.grpcPort, serverPid: daemon.child.pid, reference: (name: string) => `file://bench/${name}` };
  targets = [
    createBareHttp2Target({ port: http2Server.port, serverPid: http2Server.child.pid }),
    createBareGrpcTarget({ port: grpcServer.port, serverPid: grpcServer.child.pid }),
    createStowdGrpcJsTarget({ label: "stowd grpc-js", ...common }),
    createStowdSdkTarget({ label: "stowd SDK", ...common }),
  ];
});

afterAll(async () => {
  for (const t of targets ?? []) t.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("bench stream targets", () => {
  it("write and read the same bytes through every path, and the scenario records one run per op", async () => {
    const section = await runOnceThroughEveryTarget(targets, "bare grpc-js", payload, [daemon.child]);
    for (const cell of section.cells) {
      expect(cell.runs[0]?.mbps).toBeGreaterThan(0);
      expect(cell.runs[0]?.rss?.peakMiB).toBeGreaterThan(0);
    }
  });

  it("catches a wrong byte on every path", async () => {
    await expectWrongByteCaught(targets, payload);
  });
});
