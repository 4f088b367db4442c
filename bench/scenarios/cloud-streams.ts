// The same object sizes on S3 (a throwaway Ceph RGW) and Azure (azurite)
// through stowd, next to calling the backend's own SDK directly from the
// benchmark process with the settings stowd's store uses. The goal issue 12
// sets: stowd at least 0.8x the direct call.
import { join } from "node:path";
import { startAzurite } from "../../test/servers/azurite.js";
import { startCephRgw } from "../../test/servers/ceph-rgw.js";
import { MiB } from "../common.js";
import { stopChild } from "../harness/children.js";
import { startStowdDaemon } from "../harness/stowd-daemon.js";
import type { StreamSection } from "../report/results.js";
import { createAzureDirectTarget } from "../targets/azure-direct-target.js";
import { createS3DirectTarget } from "../targets/s3-direct-target.js";
import { createStowdSdkTarget } from "../targets/stowd-sdk-target.js";
import type { ScenarioContext } from "./context.js";
import { runStreamScenario } from "./streams.js";

const BUCKET = "bench";

export async function runCloudStreams(ctx: ScenarioContext): Promise<StreamSection[]> {
  const { cloudSizes: sizes, runs } = ctx.options;
  // Neither test server frees deleted objects during the run (RGW's gc
  // threads are off, azurite collects every 10 minutes): room for every write.
  const written = 2 * runs * sizes.reduce((a, b) => a + b, 0) + 64 * MiB;
  const roomBytes = Math.max(2 * 1024 * MiB, Math.ceil(written * 1.25));
  ctx.progress(`cloud: starting Ceph RGW and azurite (room for ${(roomBytes / MiB).toFixed(0)} MiB each)`);
  const [rgw, azurite] = await Promise.all([
    startCephRgw({ bucket: BUCKET, memstoreBytes: roomBytes, startTimeoutMs: 120_000 }),
    startAzurite({ container: BUCKET, extentMemoryLimitMb: Math.ceil(roomBytes / 1e6) }),
  ]);
  ctx.started("Ceph RGW (mon, memstore osd, radosgw)", `startCephRgw() in test/servers/ceph-rgw.ts: ${rgw.endpoint}`);
  ctx.started("azurite", `startAzurite() in test/servers/azurite.ts: ${azurite.blobUrl}`);
  try {
    const daemon = await startStowdDaemon({
      name: "stowd (s3:// + abfs://)",
      dir: join(ctx.tmp, "stowd-cloud"),
      s3: { endpoint: rgw.endpoint, region: rgw.region, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      azure: { blobUrl: azurite.blobUrl, account: azurite.account, key: azurite.key },
    });
    ctx.started(daemon.child.name, daemon.child.command);
    const common = { port: daemon.grpcPort, serverPid: daemon.child.pid };
    const sections: StreamSection[] = [];
    try {
      const s3Direct = createS3DirectTarget({
        endpoint: rgw.endpoint,
        region: rgw.region,
        accessKeyId: rgw.accessKeyId,
        secretAccessKey: rgw.secretAccessKey,
        bucket: BUCKET,
      });
      const s3Stowd = createStowdSdkTarget({ label: "stowd s3:// SDK", ...common, reference: (name) => `s3://${BUCKET}/${name}` });
      try {
        sections.push(
          await runStreamScenario({
            id: "s3",
            title: "S3 (Ceph RGW) through stowd, next to @aws-sdk/client-s3 called directly",
            targets: [s3Direct, s3Stowd],
            baselines: [s3Direct.label],
            goal: 0.8,
            sizes,
            runs,
            payload: ctx.payload,
            children: [daemon.child],
            notes: [
              "S3 SDK direct: @aws-sdk/client-s3 GetObject, and lib-storage Upload with 8 MiB parts, 4 at a time (stowd's S3 store defaults), from the benchmark process. Both sides sign each part's SHA-256 and send no Content-MD5 per part.",
              "stowd s3://: the stowd SDK to the daemon, which calls the same S3 SDK; RGW is one memstore OSD on this machine, so it shares the 2 cores.",
            ],
            progress: ctx.progress,
          }),
        );
      } finally {
        s3Direct.close();
        s3Stowd.close();
      }
      const azDirect = createAzureDirectTarget({ blobUrl: azurite.blobUrl, account: azurite.account, key: azurite.key, container: BUCKET });
      const azStowd = createStowdSdkTarget({ label: "stowd abfs:// SDK", ...common, reference: (name) => `abfs://${BUCKET}/${name}` });
      try {
        sections.push(
          await runStreamScenario({
            id: "azure",
            title: "Azure Blob (azurite) through stowd, next to @azure/storage-blob called directly",
            targets: [azDirect, azStowd],
            baselines: [azDirect.label],
            goal: 0.8,
            sizes,
            runs,
            payload: ctx.payload,
            children: [daemon.child],
            notes: [
              "Azure SDK direct: @azure/storage-blob download, and uploadData with one Put Blob up to 8 MiB, else 8 MiB blocks staged 4 at a time (stowd's Azure store defaults). Both sides store the blob's Content-MD5 (one MD5 pass) and send no per-block MD5.",
              "azurite keeps blobs in memory in one Node process on this machine; it is usually the bottleneck of both paths.",
            ],
            progress: ctx.progress,
          }),
        );
      } finally {
        azStowd.close();
      }
    } finally {
      await stopChild(daemon.child);
    }
    return sections;
  } finally {
    await Promise.all([rgw.stop(), azurite.stop()]);
  }
}
