// Signed URLs of the backends that sign their own (S3 on Ceph RGW, GCS on
// our GCS test server, Azure Blob on azurite), asked of a real daemon through
// the SDK and used with plain HTTP clients (node:http and curl), no stowd in
// between; and content_length, which only daemon-signed URLs can enforce,
// refused by each with INVALID_ARGUMENT naming the field.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StowdClient } from "../../client/index.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { createAzureStore } from "../../server/stores/azure/index.js";
import { createGcsStore, type GcsServiceAccountKey } from "../../server/stores/gcs/index.js";
import { createS3Store } from "../../server/stores/s3/index.js";
import { clientRejection } from "../helpers/rejections.js";
import { startAzurite, type Azurite } from "../servers/azurite.js";
import { startCephRgw, type CephRgw } from "../servers/ceph-rgw.js";
import { startGcsTestServer, type GcsTestServer } from "../servers/gcs-test-server.js";
import { curl, httpRequest } from "./plain-http.js";
import { startSignedUrlDaemon, type SignedUrlDaemon } from "./signed-url-daemon.js";

const GCS_BUCKET = "signed-urls";
let rgw: CephRgw | undefined;
let gcs: GcsTestServer | undefined;
let azurite: Azurite | undefined;
let d: SignedUrlDaemon;
let client: StowdClient;
const run = randomBytes(4).toString("hex");

function gcsAccount(): { key: GcsServiceAccountKey; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    key: {
      type: "service_account",
      project_id: "stowd-test",
      private_key_id: "signed-url-key",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: "signed-urls@stowd-test.iam.gserviceaccount.com",
      client_id: "1",
      token_uri: "https://oauth2.googleapis.com/token",
    },
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

beforeAll(async () => {
  const account = gcsAccount();
  const [r, g, a] = await Promise.allSettled([
    startCephRgw(),
    startGcsTestServer({ buckets: [GCS_BUCKET], signingKeys: { [account.key.client_email]: account.publicKey } }),
    startAzurite(),
  ]);
  // Keep whatever started, so afterAll stops it even when another failed.
  rgw = r.status === "fulfilled" ? r.value : undefined;
  gcs = g.status === "fulfilled" ? g.value : undefined;
  azurite = a.status === "fulfilled" ? a.value : undefined;
  for (const result of [r, g, a]) if (result.status === "rejected") throw result.reason;
  const s3 = createS3Store({
    endpoint: rgw!.endpoint,
    region: rgw!.region,
    credentials: { accessKeyId: rgw!.accessKeyId, secretAccessKey: rgw!.secretAccessKey },
  });
  const gs = createGcsStore({ apiEndpoint: gcs!.endpoint, projectId: "stowd-test", credentials: account.key, retry: { attempts: 1 } });
  const azure = createAzureStore({ account: azurite!.account, key: azurite!.key, endpoint: azurite!.blobUrl });
  // These sign their own URLs: the daemon has no keys (server.signedUrls) at all.
  d = await startSignedUrlDaemon({
    signedUrls: null,
    backends: { s3: builtBackend(s3), gs: builtBackend(gs), abfs: builtBackend(azure) },
  });
  client = d.client();
}, 180_000);

afterAll(async () => {
  await d?.close();
  await Promise.all([rgw?.stop(), gcs?.close(), azurite?.stop()]);
});

const backends: Array<[string, () => string]> = [
  ["s3 (Ceph RGW)", () => `s3://${rgw!.bucket}/${run}`],
  ["gs (GCS test server)", () => `gs://${GCS_BUCKET}/${run}`],
  ["abfs (azurite)", () => `abfs://${azurite!.container}@${azurite!.account}.dfs.core.windows.net/${run}`],
];

describe.each(backends)("%s", (_name, base) => {
  it("signs a PUT that node:http uploads with and a GET that node:http and curl read back, bytes compared", async () => {
    const data = randomBytes(200_003);
    const reference = `${base()}/signed object.bin`;
    const put = await client.createSignedUrl(reference, { method: "PUT", expiresInSeconds: 300, contentType: "application/x-test" });
    expect(put.url).not.toContain(d.httpUrl);
    expect(put.requiredHeaders["Content-Type"]).toBe("application/x-test");
    const uploaded = await httpRequest(put.url, { method: "PUT", headers: put.requiredHeaders, body: data });
    expect(uploaded.status, uploaded.body.toString()).toBeLessThan(300);
    expect(Buffer.from(await client.readBytes(reference)).equals(data)).toBe(true);
    expect((await client.head(reference))?.contentType).toBe("application/x-test");

    const get = await client.createSignedUrl(reference, { method: "GET", expiresInSeconds: 300 });
    const byNode = await httpRequest(get.url);
    expect(byNode.status).toBe(200);
    expect(byNode.body.equals(data)).toBe(true);
    const byCurl = await curl([get.url]);
    expect(byCurl.status).toBe(200);
    expect(byCurl.body.equals(data)).toBe(true);
  });

  it("refuses content_length with INVALID_ARGUMENT naming the field and why", async () => {
    const err = await clientRejection(
      client.createSignedUrl(`${base()}/sized`, { method: "PUT", expiresInSeconds: 60, contentLength: 10 }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain("content_length:");
    expect(err.message).toContain("cannot enforce an upload's size");
  });
});
