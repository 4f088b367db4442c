// A streamed S3 write must not grow the daemon with the object's size. A real
// daemon process with an s3:// scheme on a throwaway Ceph RGW takes a 512 MiB
// WriteRaw (a multipart upload of 64 parts of 8 MiB, 4 at a time, the store's
// defaults). Its peak RSS over the write (VmHWM after a clear_refs reset,
// else VmRSS sampled every 20 ms) must stay below
//
//   RSS before the write + (4 parts in flight + 1 being read) x 8 MiB + 120 MiB
//
// where the slack covers the request side (grpc-js's per-stream message queue
// and the in-flight byte budget), the SDK's and sockets' buffers, and parts
// already done that V8 has not collected yet (runs in parallel with other
// test files rose up to +73 MiB). Before the fix in server/stores/s3/multipart.ts every part
// stayed reachable until the upload ended: +509 MiB here (the whole object;
// +244 to +273 MiB for 256 MiB, even with gc() forced every 100 ms); after
// it, +60 to +63 MiB, the same as for 256 MiB.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createStowdClient } from "../../client/index.js";
import { startCephRgw, type CephRgw } from "../servers/ceph-rgw.js";
import { startChildDaemon, type ChildDaemon } from "./child-daemon.js";
import { MiB } from "./clients.js";

const SIZE_MIB = 512;
const PART_MIB = 8;
const CONCURRENCY = 4;
const SLACK_MIB = 120;

let rgw: CephRgw | undefined;
let daemon: ChildDaemon | undefined;

beforeAll(async () => {
  rgw = await startCephRgw({ bucket: "s3mem", memstoreBytes: 1024 * MiB });
  daemon = await startChildDaemon([], {}, [
    "s3:",
    "  config:",
    `    endpoint: ${rgw.endpoint}`,
    `    region: ${rgw.region}`,
    "    auth_type: accesskey",
    `    access_key_id: ${rgw.accessKeyId}`,
    `    secret_key: ${rgw.secretAccessKey}`,
    '    disable_ssl: "true"',
  ]);
}, 120_000);
afterAll(async () => {
  await daemon?.cleanup();
  await rgw?.stop();
});

/** `mib` MiB in 1 MiB chunks, without holding them in this process. */
async function* body(mib: number): AsyncGenerator<Uint8Array> {
  const chunk = Buffer.alloc(MiB, 7);
  for (let i = 0; i < mib; i++) yield chunk;
}

it(`keeps daemon RSS below (RSS before) + ${CONCURRENCY + 1} x ${PART_MIB} MiB + ${SLACK_MIB} MiB while writing ${SIZE_MIB} MiB to s3://`, async () => {
  const d = daemon as ChildDaemon;
  const client = createStowdClient({ baseUrl: d.grpcUrl });
  try {
    // Loads the S3 SDK and opens its sockets before the baseline.
    await client.write("s3://s3mem/warm", body(2 * PART_MIB));
    await sleep(500);
    const before = (await d.memory()).rssMiB;
    const exact = await d.resetPeak();
    let peak = 0;
    const sampler = setInterval(() => {
      d.memory().then(
        (m) => (peak = Math.max(peak, m.rssMiB)),
        () => {},
      );
    }, 20);
    let info;
    try {
      info = await client.write("s3://s3mem/big", body(SIZE_MIB));
    } finally {
      clearInterval(sampler);
    }
    const after = await d.memory();
    const measured = exact ? after.hwmMiB : Math.max(peak, after.rssMiB);
    const ceiling = before + (CONCURRENCY + 1) * PART_MIB + SLACK_MIB;
    console.log(
      `RSS before ${before.toFixed(1)} MiB; peak during the ${SIZE_MIB} MiB s3:// write ${measured.toFixed(1)} MiB (+${(measured - before).toFixed(1)}; ` +
        `${exact ? "VmHWM after clear_refs" : "VmRSS sampled every 20 ms"}); ceiling ${ceiling.toFixed(1)} MiB`,
    );
    expect(info.size).toBe(SIZE_MIB * MiB);
    expect((await client.head("s3://s3mem/big"))?.size).toBe(SIZE_MIB * MiB);
    expect(measured).toBeLessThan(ceiling);
  } finally {
    client.close();
  }
}, 120_000);
