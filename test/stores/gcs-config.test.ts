// Flyte's `stow.kind: google` settings (stow.config keys json, project_id,
// scopes) mapped to GcsStoreOptions, and a store built from them.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { GCS_DEFAULT_SCOPES, gcsStoreOptionsFromStowConfig } from "../../server/stores/gcs/config.js";
import { createGcsStore } from "../../server/stores/gcs/index.js";
import { startGcsTestServer } from "../servers/gcs-test-server.js";
import { never } from "../helpers/store-calls.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const key = {
  type: "service_account",
  project_id: "from-key",
  private_key_id: "k1",
  private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  client_email: "flyte@from-key.iam.gserviceaccount.com",
};

function refusal(config: Record<string, string>): { field: string | undefined; message: string } {
  try {
    gcsStoreOptionsFromStowConfig(config);
  } catch (err) {
    expect(isStowdError(err, "INVALID_ARGUMENT"), String(err)).toBe(true);
    return { field: isStowdError(err) ? err.facts.field : undefined, message: (err as Error).message };
  }
  throw new Error("expected the config to be refused");
}

describe("gcsStoreOptionsFromStowConfig", () => {
  it("maps json, project_id and comma-separated scopes", () => {
    const options = gcsStoreOptionsFromStowConfig({
      json: JSON.stringify(key),
      project_id: " my-project ",
      scopes: "https://www.googleapis.com/auth/cloud-platform, https://www.googleapis.com/auth/devstorage.full_control",
    });
    expect(options).toEqual({
      credentials: key,
      projectId: "my-project",
      scopes: ["https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/devstorage.full_control"],
    });
  });

  it("treats an empty json as ambient credentials, as Flyte's docs configure workload identity", () => {
    expect(gcsStoreOptionsFromStowConfig({ json: "", project_id: "p" })).toEqual({ projectId: "p", scopes: GCS_DEFAULT_SCOPES });
    expect(gcsStoreOptionsFromStowConfig({})).toEqual({ scopes: GCS_DEFAULT_SCOPES });
  });

  it("takes the project from the key when project_id is empty", () => {
    expect(gcsStoreOptionsFromStowConfig({ json: JSON.stringify(key) }).projectId).toBe("from-key");
  });

  it("refuses unknown keys by name (stow's keys are exact and case-sensitive)", () => {
    expect(refusal({ json: "", projectId: "p" })).toMatchObject({ field: "storage.stow.config.projectId" });
    expect(refusal({ endpoint: "http://x" }).message).toContain("known keys: json, project_id, scopes");
  });

  it("refuses a json that is not a service-account key (Flyte: google with bogus config fails)", () => {
    expect(refusal({ json: "{bogus" })).toMatchObject({ field: "storage.stow.config.json" });
    expect(refusal({ json: "[]" }).message).toContain("JSON object");
    expect(refusal({ json: JSON.stringify({ type: "authorized_user", client_id: "x" }) }).message).toContain("service_account");
    expect(refusal({ json: JSON.stringify({ ...key, private_key: undefined }) }).message).toContain("private_key");
  });

  it("builds a store that signs with the configured key", async () => {
    const server = await startGcsTestServer({ buckets: ["b"], signingKeys: { [key.client_email]: publicKey } });
    const store = createGcsStore({
      ...gcsStoreOptionsFromStowConfig({ json: JSON.stringify(key), project_id: "p" }),
      apiEndpoint: server.endpoint,
    });
    try {
      expect(store.capabilities.signedUrls).toBe(true);
      const ref = { scheme: "gs", container: "b", authority: "b", key: "flyte/upload" };
      const put = await store.signUrl(ref, { method: "PUT", expiresInSeconds: 60, contentType: "" }, never);
      expect(new URL(put.url).searchParams.get("X-Goog-Credential")).toMatch(/^flyte@from-key\.iam\.gserviceaccount\.com\//);
      expect((await fetch(put.url, { method: "PUT", body: "ok" })).status).toBe(200);
      expect((await store.head(ref, never))?.size).toBe(2);
    } finally {
      await store.close();
      await server.close();
    }
  });
});
