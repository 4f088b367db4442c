// Real Redis servers for the redis store's tests: one standalone node and a
// 3-master Redis Cluster, each on free loopback ports with its own temp dir,
// no persistence. Every process started here is killed by stop(), and (with
// its temp dir removed) when a test run ends without reaching stop().
import { execFile, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { onProcessExit, startChild, waitUntilReady, type Child } from "../helpers/child-process.js";
import { freePort } from "../helpers/free-port.js";

const run = promisify(execFile);

export interface RedisNode {
  host: string;
  port: number;
}

export interface RedisServer extends RedisNode {
  /** `host:port`, as Flyte's `redis.addr`. */
  addr: string;
  /** Runs a command with redis-cli and returns its raw output. */
  cli(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export interface SlotMove {
  /** Moves up to `limit` keys of the slot to the target (all when omitted); returns how many moved. */
  migrateKeys(limit?: number): Promise<number>;
  /** Moves the remaining keys and assigns the slot to the target on every master. */
  finish(): Promise<void>;
}

export interface RedisCluster {
  nodes: RedisNode[];
  /** Runs a command with redis-cli on node `index` and returns its raw output. */
  cli(index: number, ...args: string[]): Promise<string>;
  /** The hash slot of a Redis key (CLUSTER KEYSLOT). */
  keySlot(key: string): Promise<number>;
  /** Index into `nodes` of the master serving `slot`. */
  ownerOf(slot: number): Promise<number>;
  /** Starts moving `slot` to master `to` (IMPORTING / MIGRATING); keys move with migrateKeys. */
  startSlotMove(slot: number, to: number): Promise<SlotMove>;
  /** Moves `slot` to master `to` completely. */
  moveSlot(slot: number, to: number): Promise<void>;
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";

function requireBinaries(): void {
  for (const binary of ["redis-server", "redis-cli"]) {
    const probe = spawnSync(binary, ["--version"], { stdio: "ignore" });
    if (probe.error !== undefined || probe.status !== 0) {
      throw new Error(
        `${binary} is not installed (needed by the redis store tests); run \`bash scripts/install-test-servers.sh\` to install it`,
      );
    }
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", HOST, "-p", String(port), "--no-auth-warning", ...args], { maxBuffer: 64 << 20 });
  return stdout;
}

function cliAs(password: string | undefined): (port: number, ...args: string[]) => Promise<string> {
  return password === undefined ? cli : (port, ...args) => cli(port, "-a", password, ...args);
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

interface Started {
  node: RedisNode;
  child: Child;
  dir: string;
  /** Unregisters the exit hook that removes `dir`. */
  forgetDir: () => void;
}

/** Starts one redis-server and waits until it answers PING. */
async function startProcess(extraArgs: (dir: string) => string[], password?: string, fixedPort?: number): Promise<Started> {
  requireBinaries();
  const dir = await mkdtemp(path.join(os.tmpdir(), "stowd-redis-"));
  // Last resort when a run dies before afterAll.
  const forgetDir = onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  const port = fixedPort ?? (await freePort());
  const log = path.join(dir, "redis.log");
  const out = openSync(log, "a");
  const args = ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", dir, ...extraArgs(dir)];
  const child = startChild("redis-server", args, { stdio: ["ignore", out, out] });
  closeSync(out);
  const readiness = await waitUntilReady(
    child,
    async () => (await cliAs(password)(port, "PING").catch(() => "")).trim() === "PONG",
    10_000,
    20,
  );
  if (readiness === "exited") throw new Error(`redis-server on port ${port} exited (${child.proc.exitCode}):\n${tail(log)}`);
  if (readiness === "timed out") {
    await child.kill();
    throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${tail(log)}`);
  }
  return { node: { host: HOST, port }, child, dir, forgetDir };
}

async function stopProcess(started: Started): Promise<void> {
  const { child, dir, forgetDir } = started;
  await child.kill(); // no persistence, nothing to flush
  await rm(dir, { recursive: true, force: true });
  forgetDir();
}

/**
 * A standalone redis-server on a free loopback port (or `options.port`, e.g.
 * to bring a killed server back where clients expect it); `args` are extra
 * server options (e.g. --requirepass).
 */
export async function startRedisServer(args: readonly string[] = [], options: { port?: number } = {}): Promise<RedisServer> {
  const password = args[args.indexOf("--requirepass") + 1];
  const started = await startProcess(() => [...args], args.includes("--requirepass") ? password : undefined, options.port);
  const { host, port } = started.node;
  return {
    host,
    port,
    addr: `${host}:${port}`,
    cli: (...args) => cliAs(password)(port, ...args),
    stop: () => stopProcess(started),
  };
}

interface NodeLine {
  id: string;
  port: number;
  slots: Array<[number, number]>;
}

function parseClusterNodes(text: string): NodeLine[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [id = "", address = "", , , , , , , ...slots] = line.trim().split(" ");
      const port = Number(/:(\d+)@/.exec(address)?.[1]);
      const ranges = slots
        .filter((s) => !s.startsWith("["))
        .map((s): [number, number] => {
          const [from, to = from] = s.split("-").map(Number) as [number, number?];
          return [from, to ?? from];
        });
      return { id, port, slots: ranges };
    });
}

/** A Redis Cluster of `masters` masters (no replicas) on free loopback ports. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const processes: Started[] = [];
  const stop = async () => {
    await Promise.all(processes.map(stopProcess));
  };
  try {
    for (let i = 0; i < masters; i++) {
      const busPort = await freePort();
      processes.push(
        await startProcess((dir) => [
          "--cluster-enabled",
          "yes",
          "--cluster-port",
          String(busPort),
          "--cluster-config-file",
          path.join(dir, "nodes.conf"),
          "--cluster-node-timeout",
          "5000",
        ]),
      );
    }
    const nodes = processes.map((p) => p.node);
    await run("redis-cli", ["--cluster", "create", ...nodes.map((n) => `${n.host}:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"]);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(nodes.map((n) => cli(n.port, "CLUSTER", "INFO").catch(() => "")));
      if (infos.every((info) => info.includes("cluster_state:ok"))) break;
      if (Date.now() > deadline) throw new Error(`the redis cluster did not reach cluster_state:ok within 20 s:\n${infos.join("\n")}`);
      await sleep(50);
    }

    const nodeLines = async () => parseClusterNodes(await cli(nodes[0]!.port, "CLUSTER", "NODES"));
    const indexOfPort = (port: number) => nodes.findIndex((n) => n.port === port);
    const ownerOf = async (slot: number) => {
      const owner = (await nodeLines()).find((line) => line.slots.some(([from, to]) => slot >= from && slot <= to));
      if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
      return indexOfPort(owner.port);
    };
    const idOf = async (index: number) => {
      const line = (await nodeLines()).find((l) => l.port === nodes[index]!.port);
      if (line === undefined) throw new Error(`node ${index} is not in CLUSTER NODES`);
      return line.id;
    };

    const startSlotMove = async (slot: number, to: number): Promise<SlotMove> => {
      const from = await ownerOf(slot);
      if (from === to) throw new Error(`slot ${slot} is already served by node ${to}`);
      const source = nodes[from]!;
      const target = nodes[to]!;
      const [sourceId, targetId] = [await idOf(from), await idOf(to)];
      // The order recommended by the CLUSTER SETSLOT docs: importing first, then migrating.
      await cli(target.port, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceId);
      await cli(source.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetId);
      const migrateKeys = async (limit = Infinity) => {
        let moved = 0;
        while (moved < limit) {
          const batch = Math.min(100, limit - moved);
          const keys = (await cli(source.port, "CLUSTER", "GETKEYSINSLOT", String(slot), String(batch)))
            .split("\n")
            .filter((k) => k !== "");
          if (keys.length === 0) break;
          const reply = await cli(source.port, "MIGRATE", target.host, String(target.port), "", "0", "5000", "KEYS", ...keys);
          if (!/OK|NOKEY/.test(reply)) throw new Error(`MIGRATE failed: ${reply}`);
          moved += keys.length;
        }
        return moved;
      };
      return {
        migrateKeys,
        finish: async () => {
          await migrateKeys();
          // Target first, then source, then everyone else, as the docs recommend.
          await cli(target.port, "CLUSTER", "SETSLOT", String(slot), "NODE", targetId);
          await cli(source.port, "CLUSTER", "SETSLOT", String(slot), "NODE", targetId);
          for (const [index, node] of nodes.entries()) {
            if (index !== from && index !== to) await cli(node.port, "CLUSTER", "SETSLOT", String(slot), "NODE", targetId);
          }
        },
      };
    };

    return {
      nodes,
      cli: (index, ...args) => cli(nodes[index]!.port, ...args),
      keySlot: async (key) => Number((await cli(nodes[0]!.port, "CLUSTER", "KEYSLOT", key)).trim()),
      ownerOf,
      startSlotMove,
      moveSlot: async (slot, to) => (await startSlotMove(slot, to)).finish(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
