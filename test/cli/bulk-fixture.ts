// What every bulk-command test file starts with: a real daemon (mem:// and
// file://), an SDK client to set up and check objects, a temp directory, and
// the CLI run against that daemon.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { runStowd, type RunOptions, type StowdResult } from "./stowd-process.js";

export interface BulkFixture {
  daemon: TestDaemon;
  client: StowdClient;
  /** A temp directory, removed after the file's tests. */
  dir: string;
  /** Runs the CLI against the daemon. */
  stowd(args: string[], options?: RunOptions): Promise<StowdResult>;
}

/** Registers beforeAll / afterAll hooks; the fields are set once beforeAll has run. */
export function useBulkFixture(): BulkFixture {
  const fixture = {
    stowd: (args: string[], options: RunOptions = {}) => runStowd(args, { address: fixture.daemon.grpcAddress, ...options }),
  } as BulkFixture;
  beforeAll(async () => {
    fixture.daemon = await startTestDaemon();
    fixture.client = createStowdClient({ baseUrl: fixture.daemon.grpcUrl, timeoutMs: 60_000 });
    fixture.dir = await mkdtemp(join(tmpdir(), "stowd-cli-bulk-"));
  });
  afterAll(async () => {
    fixture.client?.close();
    await fixture.daemon?.close();
    if (fixture.dir) await rm(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}

/** A prefix no other test uses, ending with "/". */
export const freshPrefix = (base: string) => `${base}/${randomUUID()}/`;
