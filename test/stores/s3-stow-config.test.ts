// Flyte's stow.config (kind s3) mapped to S3 store options; no server needed.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { s3OptionsFromStowConfig } from "../../server/stores/s3/config.js";

async function invalidField(config: Record<string, string>): Promise<string | undefined> {
  const err = await s3OptionsFromStowConfig(config).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStowdError(err, "INVALID_ARGUMENT"), String(err)).toBe(true);
  return isStowdError(err) ? err.facts.field : undefined;
}

describe("s3OptionsFromStowConfig", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "stowd-stow-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("maps accesskey auth with a MinIO-style endpoint and disable_ssl", async () => {
    const options = await s3OptionsFromStowConfig({
      auth_type: "accesskey",
      access_key_id: "minio",
      secret_key: "miniostorage",
      region: "us-east-2",
      endpoint: "minio.flyte:9000",
      disable_ssl: "True",
    });
    expect(options).toEqual({
      region: "us-east-2",
      credentials: { accessKeyId: "minio", secretAccessKey: "miniostorage" },
      endpoint: "http://minio.flyte:9000",
      forcePathStyle: true,
    });
  });

  it("keeps an endpoint's own scheme and uses https without disable_ssl", async () => {
    expect((await s3OptionsFromStowConfig({ endpoint: "http://localhost:30084" })).endpoint).toBe("http://localhost:30084");
    expect((await s3OptionsFromStowConfig({ endpoint: "s3.example.com" })).endpoint).toBe("https://s3.example.com");
  });

  it("uses ambient credentials for iam, and for a config without keys, in Flyte's default region", async () => {
    expect(await s3OptionsFromStowConfig({ auth_type: "iam", region: "eu-west-1" })).toEqual({ region: "eu-west-1" });
    expect(await s3OptionsFromStowConfig({})).toEqual({ region: "us-east-1" });
  });

  it("reads secret_key_path (trimmed), which overrides secret_key", async () => {
    const file = path.join(dir, "secret");
    await writeFile(file, "  from-file-secret\n");
    const options = await s3OptionsFromStowConfig({ access_key_id: "id", secret_key: "inline", secret_key_path: file });
    expect(options.credentials).toEqual({ accessKeyId: "id", secretAccessKey: "from-file-secret" });
  });

  it("passes a session token", async () => {
    const options = await s3OptionsFromStowConfig({ auth_type: "accesskey", access_key_id: "id", secret_key: "s", token: "t" });
    expect(options.credentials).toEqual({ accessKeyId: "id", secretAccessKey: "s", sessionToken: "t" });
  });

  it("refuses a missing secret file with Flyte's words and the key's name", async () => {
    const missing = path.join(dir, "nope");
    const err = await s3OptionsFromStowConfig({ access_key_id: "id", secret_key_path: missing }).catch((e: unknown) => e);
    expect(isStowdError(err, "INVALID_ARGUMENT")).toBe(true);
    expect(String((err as Error).message)).toContain("secret key path does not exist");
    expect(String((err as Error).message)).toContain(missing);
    expect(isStowdError(err) && err.facts.field).toBe("stow.config.secret_key_path");
  });

  it("refuses what stow would misread or ignore, naming the key", async () => {
    expect(await invalidField({ auth_type: "accesskey", secret_key: "s" })).toBe("stow.config.access_key_id");
    expect(await invalidField({ auth_type: "accesskey", access_key_id: "id" })).toBe("stow.config.secret_key");
    expect(await invalidField({ auth_type: "iam", access_key_id: "id" })).toBe("stow.config.access_key_id");
    expect(await invalidField({ auth_type: "anonymous" })).toBe("stow.config.auth_type");
    expect(await invalidField({ Region: "us-east-1" })).toBe("stow.config.Region");
    expect(await invalidField({ endpoint: "localhost:9000", disable_ssl: "yes" })).toBe("stow.config.disable_ssl");
    expect(await invalidField({ endpoint: "https://s3.local", disable_ssl: "true" })).toBe("stow.config.disable_ssl");
    expect(await invalidField({ disable_ssl: "true" })).toBe("stow.config.disable_ssl");
    expect(await invalidField({ endpoint: "ftp://s3.local" })).toBe("stow.config.endpoint");
    expect(await invalidField({ v2_signing: "true" })).toBe("stow.config.v2_signing");
    expect(await s3OptionsFromStowConfig({ v2_signing: "false" })).toEqual({ region: "us-east-1" });
  });
});
