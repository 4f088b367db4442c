// server.workers: 2 as real processes with server.signedUrls.keyFile: every
// worker honours a URL any of them signed (one key set), and a SIGHUP to the
// primary reaches every worker, each re-reading the key file, so a key taken
// out is refused by all of them.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient } from "../../client/index.js";
import { DAEMON_COMMAND, startServingProcess, type ServingProcess } from "../helpers/serving-daemon.js";
import { httpRequest } from "./plain-http.js";
import { SECRET_A, SECRET_B } from "./signed-url-daemon.js";

let dir: string;
let keyFile: string;
let daemon: ServingProcess;

const writeKeys = (keys: Array<{ id: string; secret: string }>) => writeFile(keyFile, stringify({ keys }));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stowd-signed-workers-"));
  keyFile = join(dir, "keys.yaml");
  await writeKeys([
    { id: "new", secret: SECRET_B },
    { id: "old", secret: SECRET_A },
  ]);
  const config = join(dir, "stowd.yaml");
  await writeFile(
    config,
    stringify({
      storage: { type: "local", stow: { kind: "local", config: { path: join(dir, "data") } }, "enable-multicontainer": true },
      server: { grpcAddress: "127.0.0.1:0", httpAddress: "127.0.0.1:0", workers: 2, signedUrls: { keyFile } },
    }),
  );
  daemon = await startServingProcess([...DAEMON_COMMAND, "--config", config], { startTimeoutMs: 90_000 });
}, 120_000);

afterAll(async () => {
  await daemon?.child.stop(15_000);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The workers whose "signed url" log lines show `status`, after `from` lines. */
function workersAnswering(status: number, from: number): Set<number> {
  const workers = new Set<number>();
  for (const line of daemon.log.slice(from)) {
    if (!line.includes('"msg":"signed url"')) continue;
    const entry = JSON.parse(line) as { worker: number; status: number };
    if (entry.status === status) workers.add(entry.worker);
  }
  return workers;
}

describe("signed URLs with two workers", () => {
  it("every worker serves them, and every worker stops honouring a key the SIGHUP'd key file no longer lists", async () => {
    const client = createStowdClient({ baseUrl: `http://${daemon.grpc}`, timeoutMs: 30_000 });
    try {
      await client.write("file://bucket/shared", "one file, two workers");
      // Sign with the old key: it is the only one left to sign after the first rewrite below.
      await writeKeys([
        { id: "old", secret: SECRET_A },
        { id: "new", secret: SECRET_B },
      ]);
      daemon.child.signal("SIGHUP");
      await expect.poll(() => daemon.log.filter((l) => l.includes("reloaded signed-URL keys")).length, { timeout: 10_000 }).toBe(2);
      const { url } = await client.createSignedUrl("file://bucket/shared", { method: "GET", expiresInSeconds: 600 });
      expect(new URL(url).searchParams.get("X-Stowd-Key-Id")).toBe("old");

      // New connections (no agent) go to the workers in turn.
      const before = daemon.log.length;
      for (let i = 0; i < 8; i++) {
        const res = await httpRequest(url);
        expect(res.status).toBe(200);
        expect(res.body.toString()).toBe("one file, two workers");
      }
      await expect.poll(() => workersAnswering(200, before).size, { timeout: 5000 }).toBe(2);

      await writeKeys([{ id: "new", secret: SECRET_B }]);
      daemon.child.signal("SIGHUP");
      await expect.poll(() => daemon.log.filter((l) => l.includes("reloaded signed-URL keys")).length, { timeout: 10_000 }).toBe(4);
      const after = daemon.log.length;
      for (let i = 0; i < 8; i++) {
        const res = await httpRequest(url);
        expect(res.status).toBe(403);
        expect(res.headers["x-stowd-reason"]).toBe("UNKNOWN_KEY_ID");
      }
      await expect.poll(() => workersAnswering(403, after).size, { timeout: 5000 }).toBe(2);
    } finally {
      client.close();
    }
  });
});
