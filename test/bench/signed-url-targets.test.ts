// The signed URL section's client paths move the right bytes: the stream
// scenario, run once with a small object through the bare node:http file
// server and a real stowd daemon's signed URLs (file:// and mem://), verifies
// every byte it read; and a wrong byte is caught. Functional checks of the
// harness, not a benchmark: nothing is timed.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePayload } from "../../bench/common.js";
import { stopAll } from "../../bench/harness/children.js";
import { startBareHttpFileServer } from "../../bench/harness/ceiling-servers.js";
import { startStowdDaemon, type StowdDaemon } from "../../bench/harness/stowd-daemon.js";
import { createBareHttpTarget } from "../../bench/targets/bare-http-target.js";
import { createStowdSignedUrlTarget } from "../../bench/targets/stowd-signed-url-target.js";
import type { StreamTarget } from "../../bench/targets/stream-target.js";
import { expectWrongByteCaught, runOnceThroughEveryTarget } from "./every-target-checks.js";

const SIZE = 3 * 1024 * 1024 + 1; // a partial last chunk
const payload = makePayload(SIZE);
let dir: string;
let daemon: StowdDaemon;
let targets: StreamTarget[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "stowd-bench-signed-test-"));
  mkdirSync(join(dir, "bare"));
  const [httpServer, d] = await Promise.all([
    startBareHttpFileServer(join(dir, "bare")),
    startStowdDaemon({ name: "stowd", dir: join(dir, "stowd"), signedUrls: true }),
  ]);
  daemon = d;
  const common = { port: daemon.grpcPort, serverPid: daemon.child.pid };
  targets = [
    createBareHttpTarget({ port: httpServer.port, serverPid: httpServer.child.pid }),
    createStowdSignedUrlTarget({ label: "stowd file:// signed URL", ...common, reference: (name) => `file://bench/${name}` }),
    createStowdSignedUrlTarget({ label: "stowd mem:// signed URL", ...common, reference: (name) => `mem://bench/${name}` }),
  ];
});

afterAll(async () => {
  for (const t of targets ?? []) t.close();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("bench signed URL targets", () => {
  it("write and read the same bytes through every path, and the scenario records one run per op", async () => {
    const section = await runOnceThroughEveryTarget(targets, "bare node:http file server", payload, [daemon.child]);
    for (const cell of section.cells) expect(cell.runs[0]?.mbps).toBeGreaterThan(0);
  });

  it("catches a wrong byte on every path", async () => {
    await expectWrongByteCaught(targets, payload);
  });

  it("names the HTTP status and the daemon's reason when a signed URL is refused", async () => {
    const signed = targets[1];
    await signed?.reset("missing");
    await expect(signed?.read("missing", SIZE)).rejects.toThrow(/GET answered HTTP 404/);
  });
});
