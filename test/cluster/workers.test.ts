// server.workers: 2 as real processes: a primary that serves nothing and two
// workers sharing both ports (port 0 in the config: one free port per
// listener, the same for every worker). Every worker's log line carries
// "worker":<id>, and each test connection tags its calls' request ids, so a
// test sees which worker served which connection. With the cache on, a write
// through one worker is never followed by a stale read through another; a
// worker killed with SIGKILL is replaced while the daemon keeps serving; and
// SIGTERM stops every worker gracefully.
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { DAEMON_COMMAND, startServingProcess, type ServingProcess } from "../helpers/serving-daemon.js";

const START_TIMEOUT_MS = 90_000;

interface Connection {
  /** Tags every call's x-request-id with `c<index>-`. */
  index: number;
  client: StowdClient;
  close(): void;
}

let dir: string;
let daemon: ServingProcess;
const open: Connection[] = [];
let nextConnection = 0;

/** A new HTTP/2 connection to the gRPC port (a client of its own: the primary hands it to the next worker). */
function connect(): Connection {
  const index = nextConnection++;
  const baseUrl = `http://${daemon.grpc}`;
  const sessions = new Http2SessionManager(baseUrl);
  let call = 0;
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager: sessions,
    interceptors: [
      (next) => (req) => {
        req.header.set("x-request-id", `c${index}-${call++}`);
        return next(req);
      },
    ],
  });
  const client = createStowdClient({ transport });
  const connection = {
    index,
    client,
    close: () => {
      client.close();
      sessions.abort();
    },
  };
  open.push(connection);
  return connection;
}

/** The workers whose log lines show calls of `connection`. */
function workersOf(connection: Connection): Set<number> {
  const workers = new Set<number>();
  for (const line of daemon.log) {
    if (!line.includes(`"requestId":"c${connection.index}-`)) continue;
    workers.add((JSON.parse(line) as { worker: number }).worker);
  }
  return workers;
}

/** Opens connections until each of the `wanted` workers served one; returns one connection per worker reached. */
async function connectionsReaching(wanted: number[]): Promise<Map<number, Connection>> {
  const reached = new Map<number, Connection>();
  for (let tries = 0; tries < 16 && wanted.some((w) => !reached.has(w)); tries++) {
    const connection = connect();
    await connection.client.head("file://b/probe");
    // The call's line is written asynchronously: wait for it.
    for (let wait = 0; workersOf(connection).size === 0 && wait < 100; wait++) await new Promise((r) => setTimeout(r, 20));
    const workers = [...workersOf(connection)];
    expect(workers, "a connection stays with one worker").toHaveLength(1);
    if (!reached.has(workers[0]!)) reached.set(workers[0]!, connection);
  }
  expect(
    wanted.filter((w) => !reached.has(w)),
    "workers no connection reached",
  ).toEqual([]);
  return reached;
}

/** The worker processes: the daemon's children running server/main.ts. */
function workerPids(): number[] {
  const children = readFileSync(`/proc/${daemon.child.pid}/task/${daemon.child.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  return children.map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("server/main.ts");
    } catch {
      return false;
    }
  });
}

const CACHE_HITS = 'stowd_layer_outcomes_total{layer="cache",outcome="hit"}';

/** A series' value, `series` as /metrics prints it: a name, with its labels if it has any. */
async function metricValue(series: string): Promise<number> {
  const text = await (await fetch(`http://${daemon.http}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

async function until(what: string, done: () => boolean, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${daemon.log.slice(-20).join("\n")}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stowd-workers-"));
  const config = join(dir, "workers.yaml");
  await writeFile(
    config,
    [
      "storage:",
      "  type: local",
      "  stow:",
      "    kind: local",
      "    config:",
      `      path: ${join(dir, "data")}`,
      "  enable-multicontainer: true",
      "  cache:",
      "    max_size_mbs: 16",
      "  limits:",
      "    maxDownloadMBs: 0",
      "server:",
      "  workers: 2",
      "  grpcAddress: 127.0.0.1:0",
      "  httpAddress: 127.0.0.1:0",
      "  shutdownGrace: 2s",
      "",
    ].join("\n"),
  );
  daemon = await startServingProcess([...DAEMON_COMMAND, "--config", config], { startTimeoutMs: START_TIMEOUT_MS });
}, START_TIMEOUT_MS + 10_000);

afterAll(async () => {
  for (const connection of open) connection.close();
  await daemon?.child.stop(20_000);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("server.workers: 2", () => {
  it("logs one serving line for both workers, and both serve both ports", async () => {
    const serving = daemon.log.filter((line) => line.includes('"stowd serving"'));
    expect(serving).toHaveLength(1);
    expect(JSON.parse(serving[0]!)).toMatchObject({ workers: 2 });
    expect(workerPids()).toHaveLength(2);

    await connectionsReaching([1, 2]);
    // The HTTP port (connect-node) is shared the same way: a fresh connection per request.
    const httpWorkers = new Set<number>();
    for (let i = 0; i < 16 && httpWorkers.size < 2; i++) {
      const res = await fetch(`http://${daemon.http}/stowd.v1.RawStoreService/Head`, {
        method: "POST",
        headers: { "content-type": "application/json", connection: "close", "x-request-id": `h${i}` },
        body: JSON.stringify({ reference: "file://b/probe" }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({});
      await until("the call's log line", () => daemon.log.some((line) => line.includes(`"requestId":"h${i}"`)), 5_000);
      httpWorkers.add((JSON.parse(daemon.log.find((line) => line.includes(`"requestId":"h${i}"`))!) as { worker: number }).worker);
    }
    expect([...httpWorkers].sort()).toEqual([1, 2]);
    expect((await fetch(`http://${daemon.http}/healthz`)).status).toBe(200);
  });

  it("never serves stale bytes from one worker's cache after a write through another", async () => {
    const connections = [...(await connectionsReaching([1, 2])).values()];
    const reference = "file://b/shared";
    const hitsBefore = await metricValue(CACHE_HITS);
    for (let round = 0; round < 40; round++) {
      const writer = connections[round % connections.length]!;
      const value = `version ${round}`;
      await writer.client.write(reference, value);
      // Every connection reads, twice: the first read fills that worker's cache, the second hits it.
      for (let read = 0; read < 2; read++) {
        const seen = await Promise.all(connections.map(async (c) => Buffer.from(await c.client.readBytes(reference)).toString()));
        expect(seen).toEqual(connections.map(() => value));
      }
    }
    // /metrics sums both workers: every round hit the cache on both.
    expect((await metricValue(CACHE_HITS)) - hitsBefore).toBeGreaterThanOrEqual(40 * connections.length);
  });

  it("sums both workers' metrics in the format the scrape asks for: Prometheus text, or OpenMetrics", async () => {
    const scrape = async (accept?: string) => {
      const res = await fetch(`http://${daemon.http}/metrics`, accept === undefined ? {} : { headers: { accept } });
      return { contentType: res.headers.get("content-type"), text: await res.text() };
    };
    const [openMetrics, text] = await Promise.all([scrape("application/openmetrics-text; version=1.0.0"), scrape()]);
    expect(openMetrics.contentType).toBe("application/openmetrics-text; version=1.0.0; charset=utf-8");
    expect(openMetrics.text.endsWith("# EOF\n")).toBe(true);
    expect(openMetrics.text).toMatch(/^# TYPE grpc_server_handled counter$/m);
    expect(openMetrics.text).toMatch(/^grpc_server_handled_total\{[^}]*grpc_method="ReadRaw"[^}]*\} \d+$/m);
    expect(text.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(text.text).toMatch(/^# TYPE grpc_server_handled_total counter$/m);
    // One daemon, one version: the info series is not summed over the workers.
    for (const { text: body } of [openMetrics, text]) expect(body).toMatch(/^stowd_build_info\{version="[^"]+"\} 1$/m);
  });

  it("replaces a worker killed with SIGKILL and keeps serving on the same ports", async () => {
    const [victim, survivor] = workerPids();
    process.kill(victim!, "SIGKILL");
    await until("the replacement worker", () => daemon.log.some((line) => line.includes('"worker serving"')));
    expect(daemon.log.some((line) => line.includes("a worker exited unexpectedly; starting another"))).toBe(true);
    expect(workerPids()).toContain(survivor);
    expect(workerPids()).toHaveLength(2);
    // The replacement is worker 3; new connections reach it and the survivor on the ports printed at the start.
    const byWorker = await connectionsReaching([3]);
    expect(await byWorker.get(3)!.client.head("file://b/shared")).toBeDefined();
  });

  it("stops every worker gracefully on SIGTERM and exits 0", async () => {
    const workers = workerPids();
    daemon.child.signal("SIGTERM");
    expect(await daemon.child.exited).toBe(0);
    const stopping = daemon.log.filter((line) => line.includes('"msg":"stopping"'));
    // The primary's line and one per worker.
    expect(stopping.filter((line) => line.includes('"worker":'))).toHaveLength(workers.length);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });
});
