// `stowd sign` against a backend that signs: gs:// on the GCS test server
// (GCS is verified against that server, not against Google). The URLs the
// CLI prints are used with plain fetch, no stowd in between.
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { createGcsStore, type GcsServiceAccountKey } from "../../server/stores/gcs/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { startGcsTestServer, type GcsTestServer } from "../servers/gcs-test-server.js";
import { runStowd } from "./stowd-process.js";

const BUCKET = "cli-sign";
let gcs: GcsTestServer;
let daemon: TestDaemon;
let client: StowdClient;

beforeAll(async () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const key: GcsServiceAccountKey = {
    type: "service_account",
    project_id: "stowd-test",
    private_key_id: "cli-key",
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: "cli@stowd-test.iam.gserviceaccount.com",
    client_id: "1",
    token_uri: "https://oauth2.googleapis.com/token",
  };
  gcs = await startGcsTestServer({
    buckets: [BUCKET],
    signingKeys: { [key.client_email]: publicKey.export({ type: "spki", format: "pem" }).toString() },
  });
  const store = createGcsStore({ apiEndpoint: gcs.endpoint, projectId: "stowd-test", credentials: key, retry: { attempts: 1 } });
  daemon = await startTestDaemon({ backends: { gs: builtBackend(store) } });
  client = createStowdClient({ baseUrl: daemon.grpcUrl, timeoutMs: 30_000 });
});

afterAll(async () => {
  client?.close();
  await daemon?.close();
  await gcs?.close();
});

const stowd = (args: string[]) => runStowd(args, { address: daemon.grpcAddress });

describe("stowd sign", () => {
  it("prints a GET URL that reads the object directly", async () => {
    const ref = `gs://${BUCKET}/signed/get.txt`;
    await client.write(ref, "read without stowd");
    const result = await stowd(["sign", "--expires", "5m", ref]);
    expect(result.code).toBe(0);
    const url = result.out.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*X-Goog-Signature=/);
    expect(new URL(url).searchParams.get("X-Goog-Expires")).toBe("300");
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("read without stowd");
  });

  it("--json gives a PUT URL and the headers it needs; the upload lands", async () => {
    const ref = `gs://${BUCKET}/signed/put.txt`;
    const result = await stowd(["sign", "--json", "--method", "put", "--content-type", "text/plain", ref]);
    expect(result.code).toBe(0);
    const [signed] = result.json() as [{ url: string; method: string; requiredHeaders: Record<string, string>; expireTime: string }];
    expect(signed).toEqual({
      url: expect.any(String) as unknown,
      method: "PUT",
      requiredHeaders: { "Content-Type": "text/plain" },
      expireTime: expect.any(String) as unknown,
    });
    const expiresIn = Date.parse(signed.expireTime) - Date.now();
    expect(expiresIn).toBeGreaterThan(55 * 60_000); // default 1h
    expect(expiresIn).toBeLessThanOrEqual(3600_000);
    const upload = await fetch(signed.url, { method: "PUT", headers: signed.requiredHeaders, body: "written without stowd" });
    expect(upload.status).toBe(200);
    expect(Buffer.from(await client.readBytes(ref)).toString()).toBe("written without stowd");
  });

  it("prints the required headers after the URL for people", async () => {
    const result = await stowd(["sign", "--method", "PUT", "--content-type", "text/csv", `gs://${BUCKET}/signed/h.csv`]);
    expect(result.code).toBe(0);
    expect(result.out.split("\n").slice(1)).toEqual(["Content-Type: text/csv", ""]);
  });

  it("a backend that cannot sign exits 1 with UNIMPLEMENTED; a bad method or expiry exits 2", async () => {
    const result = await stowd(["--json", "sign", "mem://b/k"]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: { code: "UNIMPLEMENTED", reason: "UNSUPPORTED" }, exitCode: 1 });
    expect((await stowd(["sign", "--method", "DELETE", `gs://${BUCKET}/k`])).code).toBe(2);
    expect((await stowd(["sign", "--expires", "forever", `gs://${BUCKET}/k`])).code).toBe(2);
  });
});
