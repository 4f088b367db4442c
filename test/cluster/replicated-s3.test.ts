// The replicated deployment of deploy/kubernetes/s3/, proved on this
// machine: three daemon processes (server/main.ts with one config file) on
// one Ceph RGW and one redis-server, the cache on and its invalidations
// carried over Redis pub/sub. S3 keys reach the daemons as the Deployment
// hands them over, in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (auth_type
// iam: the SDK's ambient chain). Two claims:
//   - a write through one replica is read through the others, which had the
//     old version cached, at once after it was acknowledged: never stale
//     (a write is acknowledged only after Redis answered the PUBLISH of its
//     invalidation, redis-invalidation-bus.ts);
//   - a replica SIGKILLed under a writer load loses no acknowledged write:
//     every acknowledged object reads back byte for byte through both
//     survivors, and nothing partial exists (an unacknowledged write is
//     either absent or whole).
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { seededBytes } from "../faults/seeded-bytes.js";
import { seededRandom } from "../helpers/seeded-random.js";
import { DAEMON_COMMAND, startServingProcess, type ServingProcess } from "../helpers/serving-daemon.js";
import { startCephRgw, type CephRgw } from "../servers/ceph-rgw.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";

const BUCKET = "replicated";
const KiB = 1024;
const MiB = 1024 * KiB;
/** Above the S3 store's 8 MiB part size: a multipart upload, the write a kill can catch half done. */
const LARGE = 9 * MiB;
const SEED = Number(process.env.STOWD_REPLICATED_SEED ?? Math.floor(Math.random() * 2 ** 31));

interface Replica {
  name: string;
  process: ServingProcess;
  client: StowdClient;
}

let dir: string;
let rgw: CephRgw;
let redis: RedisServer;
let replicas: Replica[] = [];

async function startReplica(name: string, config: string): Promise<Replica> {
  const serving = await startServingProcess(
    [...DAEMON_COMMAND, "--config", config, "--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"],
    {
      startTimeoutMs: 30_000,
      // As the Deployment passes the stowd-s3 Secret's keys (deploy/kubernetes/s3/deployment.yaml).
      env: { AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey },
    },
  );
  return { name, process: serving, client: createStowdClient({ baseUrl: `http://${serving.grpc}` }) };
}

async function cacheHits(replica: Replica): Promise<number> {
  const text = await (await fetch(`http://${replica.process.http}/metrics`)).text();
  return Number(/^stowd_layer_outcomes_total\{layer="cache",outcome="hit"\} (\d+)/m.exec(text)?.[1] ?? "NaN");
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "stowd-replicated-s3-"));
  // Killed multipart uploads leave their parts in the gateway: room for them.
  [rgw, redis] = await Promise.all([startCephRgw({ bucket: BUCKET, memstoreBytes: 2 * 1024 * MiB }), startRedisServer()]);
  const config = join(dir, "stowd.yaml");
  // The storage block of deploy/kubernetes/s3/configmap.yaml, pointed at the test servers.
  await writeFile(
    config,
    [
      "storage:",
      "  type: s3",
      `  container: ${BUCKET}`,
      "  stow:",
      "    kind: s3",
      "    config:",
      "      auth_type: iam",
      `      region: ${rgw.region}`,
      `      endpoint: ${rgw.endpoint}`,
      '      disable_ssl: "true"',
      "  redis:",
      `    addr: ${redis.addr}`,
      "  cache:",
      "    max_size_mbs: 64",
      "  limits:",
      "    maxDownloadMBs: 0",
      "server:",
      "  shutdownGrace: 2s",
      "",
    ].join("\n"),
  );
  replicas = await Promise.all(["a", "b", "c"].map((name) => startReplica(name, config)));
}, 90_000);

afterAll(async () => {
  for (const r of replicas) r.client.close();
  await Promise.all(replicas.map((r) => r.process.child.stop(20_000)));
  await Promise.all([rgw?.stop(), redis?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("three replicas on one S3 bucket, cache invalidations over one Redis", () => {
  it("serve a write through one replica through the others, which had the old version cached, at once after it was acknowledged", async () => {
    const reference = `s3://${BUCKET}/stale-check/object`;
    const rounds = 45;
    const read = async (r: Replica) => Buffer.from(await r.client.readBytes(reference)).toString();
    /** Reads until a read of `expected` is a cache hit (an invalidation that lands during a fill drops that fill). */
    const answeredFromCache = async (r: Replica, expected: string) => {
      for (const deadline = Date.now() + 2_000; ;) {
        const hits = await cacheHits(r);
        expect(await read(r), `read through ${r.name}`).toBe(expected);
        if ((await cacheHits(r)) > hits) return;
        if (Date.now() > deadline) throw new Error(`${r.name} did not answer ${reference} from its cache within 2 s`);
      }
    };
    for (let round = 0; round < rounds; round++) {
      // Every replica takes its turn as the writer; the other two read, at once after the acknowledgement.
      const writer = replicas[round % replicas.length]!;
      const readers = replicas.filter((r) => r !== writer);
      const value = `version ${round} written through ${writer.name} ${"x".repeat(round * 37)}`;
      await writer.client.write(reference, value);
      await Promise.all(
        readers.map(async (r) =>
          expect(await read(r), `round ${round}, read through ${r.name} right after the write through ${writer.name}`).toBe(value),
        ),
      );
      // Then until the reader answers it from its cache, so every later round overwrites a version the readers hold.
      await Promise.all(readers.map((r) => answeredFromCache(r, value)));
    }
  });

  it(
    "lose no acknowledged write when a replica is SIGKILLed under a writer load, and leave nothing partial",
    { timeout: 60_000 },
    async () => {
      const [a, b, victim] = replicas as [Replica, Replica, Replica];
      const random = seededRandom(SEED);
      interface Attempt {
        reference: string;
        seed: string;
        size: number;
        acknowledged: boolean;
      }
      const attempts: Attempt[] = [];
      let acknowledged = 0;
      let largeAcknowledged = 0;
      /** One writer: new objects through the victim until a write fails (the victim is gone). */
      const writer = async (id: number, large: boolean) => {
        for (let n = 0; ; n++) {
          const seed = `${SEED}-w${id}-${n}`;
          const size = large ? LARGE : 1 + Math.floor(random() * 64 * KiB);
          const attempt: Attempt = { reference: `s3://${BUCKET}/kill-load/w${id}/${n}`, seed, size, acknowledged: false };
          attempts.push(attempt);
          try {
            await victim.client.write(attempt.reference, seededBytes(seed, size));
          } catch {
            return;
          }
          attempt.acknowledged = true;
          acknowledged++;
          if (large) largeAcknowledged++;
        }
      };
      // Two writers of small objects and one of multipart-sized ones, all at once.
      const load = Promise.all([writer(0, false), writer(1, false), writer(2, true)]);
      // Kill mid-load: once a good number of writes (a large one among them) were acknowledged, while every writer has one in flight.
      for (const deadline = Date.now() + 30_000; acknowledged < 30 || largeAcknowledged < 1;) {
        if (Date.now() > deadline) throw new Error(`the load made too little progress: ${acknowledged} writes acknowledged in 30 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      await victim.process.child.kill();
      await load;
      const unacknowledged = attempts.filter((t) => !t.acknowledged);
      expect(unacknowledged.length, "writes in flight at the kill").toBeGreaterThan(0);

      // Every acknowledged write, byte for byte, through both survivors (16 reads at a time).
      const confirmed = attempts.filter((t) => t.acknowledged);
      for (let i = 0; i < confirmed.length; i += 16) {
        await Promise.all(
          confirmed.slice(i, i + 16).map(async (attempt) => {
            const expected = { size: attempt.size, sha256: sha256(seededBytes(attempt.seed, attempt.size)) };
            for (const survivor of [a, b]) {
              const bytes = await survivor.client.readBytes(attempt.reference);
              expect({ size: bytes.length, sha256: sha256(bytes) }, `${attempt.reference} through ${survivor.name}`).toEqual(expected);
            }
          }),
        );
      }
      // An unacknowledged write is absent or whole, never partial.
      let landed = 0;
      for (const attempt of unacknowledged) {
        const info = await a.client.head(attempt.reference);
        if (info === undefined) continue;
        landed++;
        const bytes = await b.client.readBytes(attempt.reference);
        expect(sha256(bytes), `${attempt.reference}: unacknowledged, present, so it must be whole`).toBe(
          sha256(seededBytes(attempt.seed, attempt.size)),
        );
      }
      // The listing holds attempted objects only, each at its full size: no staging or partial entries.
      const listed: Record<string, number> = {};
      for await (const entry of a.client.list(`s3://${BUCKET}/kill-load/`)) {
        if (entry.kind === "object") listed[entry.info.reference] = Number(entry.info.size);
      }
      const bySize = Object.fromEntries(attempts.map((t) => [t.reference, t.size]));
      for (const [reference, size] of Object.entries(listed)) expect(size, reference).toBe(bySize[reference]);
      expect(Object.keys(listed).length).toBe(attempts.length - unacknowledged.length + landed);
      console.log(
        `replica SIGKILLed under load (seed ${SEED}): ${attempts.length - unacknowledged.length} writes acknowledged (${largeAcknowledged} of ${LARGE / MiB} MiB), all read back through both survivors; ${unacknowledged.length} in flight at the kill, ${landed} of them landed whole, none partial`,
      );
    },
  );
});
