// The daemon SIGKILLed during WriteRaw, over and over, on file://, s3://
// (Ceph RGW) and redis://. A daemon child process serves all three; each
// round starts writing a new multi-MiB version of one object per backend
// (content derived from a seed), SIGKILLs the daemon after a random delay,
// restarts it and checks, per backend: the object is exactly the version
// before the round or exactly the new one (byte for byte), an acknowledged
// write is never lost, Head agrees with the bytes (size, etag, MD5) and the
// etag is unchanged when the content is, and the listing holds the object
// and nothing else (no temp or partial files).
//
// STOWD_FAULT_KILLS sets the rounds (default 5 in `npm test`; `npm run
// faults` runs 50); STOWD_FAULT_SEED replays a run's random delays.
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { startCephRgw, type CephRgw } from "../servers/ceph-rgw.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";
import { freePort, startDaemonProcess, type DaemonProcess } from "./daemon-process.js";
import { seededChunks } from "./seeded-bytes.js";
import { seededRandom } from "../helpers/seeded-random.js";

const MiB = 1024 * 1024;
/** Above the S3 store's 8 MiB part size, so S3 writes are multipart uploads; 10 Redis chunks. */
const SIZE = 10 * MiB;
const KILLS = Number(process.env.STOWD_FAULT_KILLS ?? 5);
const SEED = Number(process.env.STOWD_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SCHEMES = ["file", "s3", "redis"] as const;
type Scheme = (typeof SCHEMES)[number];

type RawClient = Client<typeof RawStoreService>;

const digests = new Map<string, string>();
function digestOf(seed: string): string {
  let digest = digests.get(seed);
  if (digest === undefined) {
    const hash = createHash("sha256");
    for (const chunk of seededChunks(seed, SIZE)) hash.update(chunk);
    digest = hash.digest("hex");
    digests.set(seed, digest);
  }
  return digest;
}

async function write(
  client: RawClient,
  reference: string,
  seed: string,
): Promise<{ acked: true; etag: string } | { acked: false; error: unknown }> {
  try {
    const response = await client.writeRaw(
      (async function* () {
        yield { body: { case: "header" as const, value: { reference, size: BigInt(SIZE) } } };
        for (const chunk of seededChunks(seed, SIZE, 256 * 1024)) yield { body: { case: "chunk" as const, value: chunk } };
      })(),
    );
    return { acked: true, etag: response.info?.etag ?? "" };
  } catch (error) {
    return { acked: false, error };
  }
}

interface Stored {
  digest: string;
  size: number;
  etag: string;
  md5: string;
}

async function readStored(client: RawClient, reference: string): Promise<Stored> {
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  let size = 0;
  let etag = "";
  for await (const m of client.readRaw({ reference })) {
    if (m.body.case === "header") etag = m.body.value.info?.etag ?? "";
    if (m.body.case !== "chunk") continue;
    sha.update(m.body.value);
    md5.update(m.body.value);
    size += m.body.value.length;
  }
  return { digest: sha.digest("hex"), size, etag, md5: md5.digest("hex") };
}

async function listAll(client: RawClient, prefix: string): Promise<Array<{ reference: string; size: number }>> {
  const out: Array<{ reference: string; size: number }> = [];
  let pageToken = "";
  do {
    const page = await client.list({ reference: prefix, pageSize: 1000, pageToken });
    out.push(...page.objects.map((o) => ({ reference: o.reference, size: Number(o.size) })));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}

let dir: string;
let rgw: CephRgw;
let redis: RedisServer;
let configFile: string;
let grpcPort: number;
let daemon: DaemonProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "stowd-kill-"));
  // Killed multipart uploads leave parts in the gateway: room for all of them.
  [rgw, redis] = await Promise.all([startCephRgw({ bucket: "faults", memstoreBytes: 4 * 1024 * MiB }), startRedisServer()]);
  grpcPort = await freePort();
  configFile = path.join(dir, "stowd.yaml");
  await writeFile(
    configFile,
    `storage:
  type: local
  stow:
    kind: local
    config:
      path: ${path.join(dir, "data")}
  enable-multicontainer: true
  limits:
    maxDownloadMBs: 0
  redis:
    addr: ${redis.addr}
  schemes:
    s3:
      config:
        endpoint: ${rgw.endpoint}
        region: ${rgw.region}
        auth_type: accesskey
        access_key_id: ${rgw.accessKeyId}
        secret_key: ${rgw.secretAccessKey}
        disable_ssl: "true"
server:
  grpcAddress: 127.0.0.1:${grpcPort}
  httpAddress: 127.0.0.1:${await freePort()}
  shutdownGrace: 1s
  logLevel: warn
`,
  );
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  await Promise.all([rgw?.stop(), redis?.stop()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("the daemon SIGKILLed during WriteRaw", () => {
  it(
    `leaves every object exactly its old or its new version (${KILLS} kills on file, s3 and redis)`,
    { timeout: 120_000 + KILLS * 20_000 },
    async () => {
      const random = seededRandom(SEED);
      const reference = (scheme: Scheme) => `${scheme}://faults/kill/object`;
      daemon = await startDaemonProcess(configFile, grpcPort);
      let client = createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl }));

      // Version A, completely, and how long a write takes here.
      const current = new Map<Scheme, { seed: string; etag: string }>();
      let slowestMs = 0;
      for (const scheme of SCHEMES) {
        const started = Date.now();
        const result = await write(client, reference(scheme), `${scheme}-A`);
        slowestMs = Math.max(slowestMs, Date.now() - started);
        if (!result.acked) throw result.error;
        current.set(scheme, { seed: `${scheme}-A`, etag: result.etag });
      }
      // Kill anywhere from before the first byte to a little after the slowest write would end.
      // (Three writes run at once, so most kills still land mid-write.)
      const maxDelayMs = Math.max(50, Math.round(slowestMs * 2));
      const tally = Object.fromEntries(SCHEMES.map((s) => [s, { old: 0, new: 0, acked: 0 }])) as Record<
        Scheme,
        { old: number; new: number; acked: number }
      >;
      const delays: number[] = [];

      for (let round = 1; round <= KILLS; round++) {
        const seeds = Object.fromEntries(SCHEMES.map((s) => [s, `${s}-B${round}`])) as Record<Scheme, string>;
        const writes = SCHEMES.map((scheme) => write(client, reference(scheme), seeds[scheme]));
        const delay = Math.floor(random() * maxDelayMs);
        delays.push(delay);
        await new Promise((resolve) => setTimeout(resolve, delay));
        await daemon.kill();
        const outcomes = await Promise.all(writes);
        daemon = await startDaemonProcess(configFile, grpcPort);
        client = createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl }));

        for (const [index, scheme] of SCHEMES.entries()) {
          const label = `round ${round} (seed ${SEED}, kill after ${delay} ms), ${scheme}`;
          const outcome = outcomes[index]!;
          if (!outcome.acked) {
            // The client saw the daemon die: a connection error, never a success or a vague OK.
            expect(outcome.error, label).toBeInstanceOf(ConnectError);
            expect(
              [Code.Unavailable, Code.Internal, Code.Canceled, Code.Unknown, Code.Aborted],
              `${label}: ${String(outcome.error)}`,
            ).toContain((outcome.error as ConnectError).code);
          }
          const before = current.get(scheme)!;
          const head = await client.head({ reference: reference(scheme) });
          expect(head.exists, label).toBe(true);
          const stored = await readStored(client, reference(scheme));
          const isOld = stored.digest === digestOf(before.seed);
          const isNew = stored.digest === digestOf(seeds[scheme]);
          expect(isOld || isNew, `${label}: the object is neither ${before.seed} nor ${seeds[scheme]} (${stored.size} bytes)`).toBe(true);
          if (outcome.acked) expect(isNew, `${label}: an acknowledged write was lost`).toBe(true);
          // Head agrees with the bytes.
          expect(stored.size, label).toBe(SIZE);
          expect(Number(head.info?.size), label).toBe(SIZE);
          expect(head.info?.etag, label).toBe(stored.etag);
          if (head.info !== undefined && head.info.contentMd5.length > 0)
            expect(Buffer.from(head.info.contentMd5).toString("hex"), label).toBe(stored.md5);
          if (isOld) expect(stored.etag, `${label}: the content is unchanged but the etag is not`).toBe(before.etag);
          else expect(stored.etag, `${label}: a new version kept the old etag`).not.toBe(before.etag);
          if (outcome.acked) expect(stored.etag, label).toBe(outcome.etag);
          // Only the object is listed: no temp, staging or partial entries.
          expect(await listAll(client, `${scheme}://faults/`), label).toEqual([{ reference: reference(scheme), size: SIZE }]);
          tally[scheme][isNew ? "new" : "old"]++;
          if (outcome.acked) tally[scheme].acked++;
          current.set(scheme, isNew ? { seed: seeds[scheme], etag: stored.etag } : before);
        }
      }

      // What the kills left behind outside the listings (reported, not asserted).
      const temps = await readdir(path.join(dir, "data", ".stowd", "tmp")).catch(() => []);
      const s3 = new S3Client({
        endpoint: rgw.endpoint,
        region: rgw.region,
        forcePathStyle: true,
        credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      });
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: "faults" }));
      s3.destroy();
      const redisKeys = (await redis.cli("DBSIZE")).trim();
      // Chunks of killed writes and replaced versions must expire: only the
      // current version's chunks may be kept without a TTL.
      const persistentChunks = Number(
        (
          await redis.cli(
            "EVAL",
            "local n = 0 for _, k in ipairs(redis.call('KEYS', '*')) do if string.find(k, ':c:', 1, true) and redis.call('PTTL', k) == -1 then n = n + 1 end end return n",
            "0",
          )
        ).trim(),
      );
      expect(persistentChunks).toBe(SIZE / MiB);
      console.log(
        [
          `SIGKILL during WriteRaw: ${KILLS} kills, seed ${SEED}, ${SIZE / MiB} MiB versions, delays 0-${maxDelayMs} ms (slowest write ${slowestMs} ms)`,
          ...SCHEMES.map(
            (s) =>
              `  ${s}: old version ${tally[s].old}x, new version ${tally[s].new}x (acknowledged ${tally[s].acked}x); never partial, never lost`,
          ),
          `  left outside the listings: ${temps.length} local temp file(s) in .stowd/tmp, ${uploads.Uploads?.length ?? 0} unfinished S3 multipart upload(s), ${redisKeys} redis key(s) (all but the current version's ${persistentChunks} chunks expire)`,
          `  delays: ${delays.join(" ")}`,
        ].join("\n"),
      );
    },
  );
});
