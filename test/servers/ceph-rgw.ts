// A throwaway Ceph cluster with an S3 gateway, for the S3 store tests: one
// mon, one memstore OSD (objects live in RAM) and radosgw with the beast
// frontend, all on loopback ports, with cephx off and pools of size 1. No
// mgr: RGW and the OSD work without one, and it saves a process and seconds.
// Everything lives in a temp dir (config, mon store, logs) that stop()
// removes; the daemons are killed on stop(), and on process exit or a
// termination signal if a test run dies before its afterAll.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { constants, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { onProcessExit, startChild, type Child } from "../helpers/child-process.js";
import { freePort } from "../helpers/free-port.js";

const run = promisify(execFile);

const BINARIES = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "monmaptool"] as const;
const INSTALL_HINT = "run `bash scripts/install-test-servers.sh` to install them (Debian packages ceph-mon, ceph-osd, ceph-mgr, radosgw)";

export interface CephRgwOptions {
  /** Bucket to create once the gateway answers; default "stowd-test". */
  bucket?: string;
  /**
   * RGW's `rgw multipart min part size` (S3 and RGW default: 5 MiB). Lower it
   * so tests can exercise multipart uploads with small parts.
   */
  multipartMinPartSizeBytes?: number;
  /** RAM the memstore OSD may use; default 1 GiB. */
  memstoreBytes?: number;
  /** Give up when the gateway does not answer within this time; default 60 s. */
  startTimeoutMs?: number;
}

export interface CephRgw {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The bucket created at start. */
  bucket: string;
  /** The temp dir holding ceph.conf, data and logs. */
  dir: string;
  /** The contents of ceph.conf, for reports. */
  config: string;
  /** Creates another bucket. */
  createBucket(name: string): Promise<void>;
  /** The last lines of a daemon's log ("mon", "osd", "rgw"). */
  logTail(daemon: "mon" | "osd" | "rgw", lines?: number): string;
  /** Kills every daemon and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs the S3 gateway (radosgw) only; the mon and OSD, and the objects, stay. */
  killGateway(): Promise<void>;
  /** Starts the gateway again on the same port and waits until it answers S3 requests. */
  restartGateway(): Promise<void>;
}

interface Daemon {
  name: "mon" | "osd" | "rgw";
  child: Child;
}

async function checkBinaries(): Promise<void> {
  const missing: string[] = [];
  for (const binary of BINARIES) {
    const found = await Promise.any(
      (process.env.PATH ?? "/usr/bin").split(":").map((dir) => access(path.join(dir, binary), constants.X_OK)),
    ).then(
      () => true,
      () => false,
    );
    if (!found) missing.push(binary);
  }
  if (missing.length > 0) throw new Error(`the Ceph test server needs ${missing.join(", ")}, which are not installed: ${INSTALL_HINT}`);
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .slice(-lines - 1)
      .join("\n");
  } catch {
    return `(no log at ${file})`;
  }
}

export async function startCephRgw(options: CephRgwOptions = {}): Promise<CephRgw> {
  await checkBinaries();
  const dir = await mkdtemp(path.join(tmpdir(), "stowd-ceph-"));
  // The daemons die with this process; their temp dir goes too.
  let forgetDir: (() => void) | undefined = onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  const logDir = path.join(dir, "log");
  const daemons: Daemon[] = [];
  const bucket = options.bucket ?? "stowd-test";
  const accessKeyId = "STOWDTESTACCESSKEY00";
  const secretAccessKey = "stowd-test-secret-key-0000000000000000000";
  const region = "us-east-1";
  const monPort = await freePort();
  const rgwPort = await freePort();
  const endpoint = `http://127.0.0.1:${rgwPort}`;
  const conf = path.join(dir, "ceph.conf");
  const logs = { mon: path.join(logDir, "mon.a.log"), osd: path.join(logDir, "osd.0.log"), rgw: path.join(logDir, "client.rgw.log") };

  const config = [
    "[global]",
    `fsid = ${randomUUID()}`,
    `mon host = v2:127.0.0.1:${monPort}`,
    "public addr = 127.0.0.1",
    "ms bind ipv4 = true",
    "ms bind ipv6 = false",
    // No cephx. Pacific daemons insist on "secure" mode towards the mon,
    // which auth none cannot provide, so allow crc everywhere.
    "auth cluster required = none",
    "auth service required = none",
    "auth client required = none",
    "ms mon client mode = crc",
    "ms mon service mode = crc",
    "ms mon cluster mode = crc",
    "ms client mode = crc",
    "ms service mode = crc",
    "ms cluster mode = crc",
    // One OSD: pools of one replica, small PG counts, no host-level spreading.
    "osd pool default size = 1",
    "osd pool default min size = 1",
    "mon allow pool size one = true",
    "osd pool default pg num = 8",
    "osd pool default pgp num = 8",
    "osd pool default pg autoscale mode = off",
    "osd crush chooseleaf type = 0",
    "mon max pg per osd = 1000",
    // Commit map changes at once instead of batching them for a second:
    // RGW creates its pools one by one at first start.
    "paxos propose interval = 0.05",
    "paxos min wait = 0.01",
    // A nearly full CI disk must not stop the mon (it only holds a small store here).
    "mon data avail warn = 1",
    "mon data avail crit = 0",
    "osd objectstore = memstore",
    `memstore device bytes = ${options.memstoreBytes ?? 1 << 30}`,
    "keyring = /dev/null",
    `run dir = ${path.join(dir, "run")}`,
    `admin socket = ${path.join(dir, "run", "$name.asok")}`,
    `log file = ${path.join(logDir, "$name.log")}`,
    `pid file = ${path.join(dir, "run", "$name.pid")}`,
    `mon data = ${path.join(dir, "mon")}`,
    `osd data = ${path.join(dir, "osd")}`,
    "",
    "[client]",
    // Background threads a short-lived test gateway does not need.
    "rgw enable gc threads = false",
    "rgw enable lc threads = false",
    "rgw enable quota threads = false",
    "rgw dynamic resharding = false",
    ...(options.multipartMinPartSizeBytes === undefined ? [] : [`rgw multipart min part size = ${options.multipartMinPartSizeBytes}`]),
    "",
    "[client.rgw]",
    `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
    "",
  ].join("\n");

  async function exec(binary: string, args: string[], logName: string): Promise<string> {
    try {
      const { stdout } = await run(binary, ["-c", conf, ...args], { timeout: 60_000, maxBuffer: 16 << 20 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message?: string };
      throw new Error(
        `${binary} ${args.join(" ")} failed: ${e.message ?? String(err)}\n${e.stderr ?? ""}\n--- ${logName} log ---\n${tail(path.join(logDir, logName), 30)}`,
        {
          cause: err,
        },
      );
    }
  }

  function startDaemon(name: Daemon["name"], binary: string, args: string[]): void {
    const out = openSync(path.join(logDir, `${name}.stdout`), "a");
    const child = startChild(binary, ["-f", "-c", conf, ...args], { stdio: ["ignore", out, out] });
    closeSync(out);
    daemons.push({ name, child });
  }

  function failure(what: string, daemon: Daemon["name"], cause?: unknown): Error {
    const dead = daemons
      .filter((d) => !d.child.isRunning())
      .map((d) => `${d.name} exited (${d.child.proc.exitCode ?? d.child.proc.signalCode})`);
    return new Error(
      `Ceph RGW test server: ${what}${dead.length > 0 ? ` [${dead.join(", ")}]` : ""}\n--- ${daemon} log (${logs[daemon]}) ---\n${tail(logs[daemon], 40)}`,
      cause === undefined ? undefined : { cause },
    );
  }

  async function stop(): Promise<void> {
    if (forgetDir === undefined) return;
    forgetDir();
    forgetDir = undefined;
    // memstore keeps nothing worth flushing, and radosgw takes seconds to
    // honour SIGTERM, so kill outright.
    await Promise.all(daemons.map((d) => d.child.kill()));
    await rm(dir, { recursive: true, force: true });
  }

  const s3 = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });

  async function createBucket(name: string): Promise<void> {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  }

  try {
    await mkdir(logDir, { recursive: true });
    await mkdir(path.join(dir, "run"), { recursive: true });
    await mkdir(path.join(dir, "mon"), { recursive: true });
    await mkdir(path.join(dir, "osd"), { recursive: true });
    await writeFile(conf, config);
    const fsid = /fsid = (\S+)/.exec(config)?.[1] ?? "";
    const monmap = path.join(dir, "monmap");
    await run("monmaptool", ["--create", "--fsid", fsid, "--addv", "a", `[v2:127.0.0.1:${monPort}]`, monmap]);
    await exec("ceph-mon", ["--mkfs", "-i", "a", "--monmap", monmap], "mon.a.log");
    startDaemon("mon", "ceph-mon", ["-i", "a"]);

    const osdUuid = randomUUID();
    const id = (await exec("ceph", ["--connect-timeout", "30", "osd", "new", osdUuid], "mon.a.log")).trim();
    await exec("ceph-osd", ["--mkfs", "-i", id, "--osd-uuid", osdUuid], "osd.0.log");
    startDaemon("osd", "ceph-osd", ["-i", id]);

    // Creates the realm, zone and pools (waiting for the OSD) before the gateway starts.
    await exec(
      "radosgw-admin",
      ["user", "create", "--uid=stowd-test", "--display-name=stowd test", `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`],
      "client.admin.log",
    );
    startDaemon("rgw", "radosgw", ["-n", "client.rgw"]);

    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    for (;;) {
      const down = daemons.find((d) => !d.child.isRunning());
      if (down !== undefined) throw failure(`the ${down.name} daemon exited during startup`, down.name);
      try {
        await createBucket(bucket);
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw failure(`the gateway at ${endpoint} did not answer S3 requests within ${options.startTimeoutMs ?? 60_000} ms`, "rgw", err);
        await sleep(100);
      }
    }
  } catch (err) {
    s3.destroy();
    await stop();
    throw err;
  }

  async function killGateway(): Promise<void> {
    for (const daemon of daemons.filter((d) => d.name === "rgw")) await daemon.child.kill();
  }

  async function restartGateway(): Promise<void> {
    await killGateway();
    startDaemon("rgw", "radosgw", ["-n", "client.rgw"]);
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    for (;;) {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw failure(`the restarted gateway at ${endpoint} did not answer within ${options.startTimeoutMs ?? 60_000} ms`, "rgw", err);
        await sleep(100);
      }
    }
  }

  return {
    killGateway,
    restartGateway,
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    bucket,
    dir,
    config,
    createBucket,
    logTail: (daemon, lines = 40) => tail(logs[daemon], lines),
    stop: async () => {
      s3.destroy();
      await stop();
    },
  };
}
