// The config loader: every example loads, real Flyte storage configs load
// unchanged with Flyte's defaults, keys match case-insensitively, mistakes
// are ConfigErrors naming file:line and the key path, env vars override the
// file and flags override env vars, and the embedded default is
// examples/local.yaml. No network, no servers.
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { StowdConfig } from "../../server/config/config.js";
import { DEFAULT_CONFIG_YAML } from "../../server/config/default-config.js";
import { parseGoDuration } from "../../common/duration.js";
import { ConfigError, loadConfig, parseCommandLine, parseConfig, SERVER_DEFAULTS, USAGE } from "../../server/config/load-config.js";
import { tempFiles } from "../helpers/temp-files.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const examplesDir = join(repo, "examples");
const MiB = 1024 * 1024;
// Every .yaml in examples/, so a new example is loaded without touching this file.
const exampleNames = readdirSync(examplesDir).filter((n) => n.endsWith(".yaml"));

/** Writes `text` to a fresh file and returns its path. */
const file = tempFiles("stowd-config-");

/** Loads `text` as the --config file; warnings are collected into `warnings`. */
async function load(text: string, env: NodeJS.ProcessEnv = {}, argv: string[] = [], warnings: string[] = []): Promise<StowdConfig> {
  return loadConfig(["--config", await file(text), ...argv], env, { warn: (m) => warnings.push(m) });
}

/** The ConfigError `promise` rejects with. */
async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

/** Loads `text` expecting a ConfigError; returns it with the file path. */
async function loadError(text: string, env: NodeJS.ProcessEnv = {}, argv: string[] = []): Promise<{ err: ConfigError; path: string }> {
  const path = await file(text);
  const err = await configError(loadConfig(["--config", path, ...argv], env, { warn: () => {} }));
  return { err, path };
}

describe("examples/", () => {
  // Facts checked per example; an example without an entry is still loaded.
  const facts: Record<string, (c: StowdConfig, warnings: string[]) => void> = {
    "local.yaml": (c, warnings) => {
      expect(c.storage.type).toBe("local");
      expect(c.storage.stow).toEqual({ kind: "local", config: { path: "./data" } });
      expect(c.storage.enableMultiContainer).toBe(true);
      expect(c.storage.limits.maxDownloadMBs).toBe(0);
      expect(Object.keys(c.storage.schemes)).toEqual(["mem"]);
      expect(c.server).toEqual(SERVER_DEFAULTS);
      expect(warnings).toEqual([]);
    },
    "s3-minio.yaml": (c) => {
      expect(c.storage.type).toBe("minio");
      expect(c.storage.container).toBe("my-bucket");
      expect(c.storage.createContainer).toBe(true);
      expect(c.storage.stow.kind).toBe("s3");
      expect(c.storage.stow.config).toMatchObject({
        endpoint: "http://127.0.0.1:9000",
        auth_type: "accesskey",
        access_key_id: "minio",
        secret_key: "miniostorage",
        disable_ssl: "true", // a YAML boolean in a string map, kept as written
      });
      expect(c.storage.signedUrl.stowConfigOverride).toEqual({ endpoint: "http://localhost:30084" });
    },
    "gcs.yaml": (c) => {
      expect(c.storage).toMatchObject({ type: "stow", container: "my-gcs-bucket", enableMultiContainer: true });
      expect(c.storage.stow.kind).toBe("google");
      expect(c.storage.stow.config).toEqual({
        json: "",
        project_id: "my-gcp-project",
        scopes: "https://www.googleapis.com/auth/cloud-platform",
      });
      expect(c.storage.cache).toEqual({ maxSizeMbs: 256, targetGcPercent: 0, ttlSeconds: 300 });
    },
    "azure.yaml": (c) => {
      expect(c.storage.stow.kind).toBe("azure");
      expect(c.storage.stow.config.account).toBe("mystorageaccount");
      expect(c.storage.container).toBe("my-container");
    },
    "redis-plus-s3.yaml": (c) => {
      expect(c.storage.type).toBe("s3");
      expect(c.storage.redis).toMatchObject({ addr: "redis.internal:6379", username: "stowd", db: 0, cluster: [] });
      expect(c.storage.schemes).toEqual({ redis: { kind: "", config: {} } });
      expect(c.storage.cache.ttlSeconds).toBe(60);
    },
    "flyte-storage.yaml": (c, warnings) => {
      expect(c.storage).toMatchObject({ type: "s3", container: "my-s3-bucket", enableMultiContainer: false });
      expect(c.storage.stow).toEqual({ kind: "s3", config: { auth_type: "iam", region: "us-east-1" } });
      expect(c.storage.limits.maxDownloadMBs).toBe(10);
      expect(c.storage.cache).toMatchObject({ maxSizeMbs: 0, targetGcPercent: 70 });
      expect(warnings).toEqual([expect.stringContaining('skipping top-level section "propeller"')]);
    },
  };

  it("holds the documented examples", () => {
    expect(exampleNames).toEqual(expect.arrayContaining(Object.keys(facts)));
  });

  it.each(exampleNames)("%s loads", async (name) => {
    const path = join(examplesDir, name);
    expect((await readFile(path, "utf8")).startsWith("#"), "an example starts with a comment saying what it is").toBe(true);
    const warnings: string[] = [];
    const config = await loadConfig(["--config", path], {}, { warn: (m) => warnings.push(m) });
    facts[name]?.(config, warnings);
  });
});

describe("Flyte storage configs load unchanged, with Flyte's defaults", () => {
  it("v1 form: flyte-core's s3 block with the deprecated connection keys", async () => {
    const config = await load(`
storage:
  type: s3
  container: "my-s3-bucket"
  connection:
    auth-type: accesskey
    access-key: AKIAEXAMPLE
    secret-key: secret
    endpoint: http://minio.flyte.svc.cluster.local:9000
    region: us-east-2
    disable-ssl: true
  enable-multicontainer: false
  limits:
    maxDownloadMBs: 10
`);
    const { storage } = config;
    // Flyte v1's legacyS3ConfigMap, key for key.
    expect(storage.stow).toEqual({
      kind: "s3",
      config: {
        auth_type: "accesskey",
        region: "us-east-2",
        endpoint: "http://minio.flyte.svc.cluster.local:9000",
        access_key_id: "AKIAEXAMPLE",
        secret_key: "secret",
        disable_ssl: "True",
      },
    });
    expect(storage.connection).toEqual({
      endpoint: "http://minio.flyte.svc.cluster.local:9000",
      authType: "accesskey",
      accessKey: "AKIAEXAMPLE",
      secretKey: "secret",
      region: "us-east-2",
      disableSsl: true,
    });
    expect(storage.limits.maxDownloadMBs).toBe(10);
    expect(storage.cache).toEqual({ maxSizeMbs: 0, targetGcPercent: 0, ttlSeconds: 0 });
    expect(storage.defaultHttpClient).toEqual({
      headers: {},
      timeoutMs: 0,
      maxIdleConns: 1024,
      maxIdleConnsPerHost: 1024,
      maxConnsPerHost: 0,
      idleConnTimeoutMs: 90_000,
    });
    expect(config.server).toEqual(SERVER_DEFAULTS);
  });

  it("v1 connection defaults: auth-type iam, region us-east-1", async () => {
    const { storage } = await load("storage:\n  type: s3\n  container: b\n  connection:\n    endpoint: http://127.0.0.1:9000\n");
    expect(storage.stow.config).toEqual({ auth_type: "iam", region: "us-east-1", endpoint: "http://127.0.0.1:9000" });
  });

  it("v2 form: flyte-binary's stow block (quoted container, YAML boolean in stow.config, signedURL spelled Flyte's way)", async () => {
    const { storage } = await load(`
storage:
  container: "flyte-data"
  type: stow
  stow:
    kind: s3
    config:
      auth_type: accesskey
      access_key_id: minio
      secret_key: miniostorage
      disable_ssl: false
      endpoint: http://minio.flyte.svc.cluster.local:9000
      region: us-east-1
  signedURL:
    stowConfigOverride:
      endpoint: http://localhost:30002
  enable-multicontainer: false
  limits:
    maxDownloadMBs: 10
  cache:
    max_size_mbs: 0
    target_gc_percent: 70
`);
    expect(storage.type).toBe("stow");
    expect(storage.stow.config.disable_ssl).toBe("false");
    expect(storage.stow.config.endpoint).toBe("http://minio.flyte.svc.cluster.local:9000");
    expect(storage.signedUrl.stowConfigOverride).toEqual({ endpoint: "http://localhost:30002" });
    expect(storage.limits.maxDownloadMBs).toBe(10);
    expect(storage.cache.targetGcPercent).toBe(70);
  });

  it("a minimal block gets Flyte v2's defaults: type stow, stow.kind s3, region us-east-1, maxDownloadMBs 2", async () => {
    const { storage } = await load("storage:\n  container: my-bucket\n");
    expect(storage).toMatchObject({
      type: "stow",
      container: "my-bucket",
      enableMultiContainer: false,
      createContainer: false,
      stow: { kind: "s3", config: { region: "us-east-1" } },
      limits: { maxDownloadMBs: 2 },
      cache: { maxSizeMbs: 0, targetGcPercent: 0, ttlSeconds: 0 },
      redis: { addr: "", username: "", password: "", db: 0, cluster: [] },
      schemes: {},
      signedUrl: { stowConfigOverride: {} },
    });
    expect(storage.defaultHttpClient.idleConnTimeoutMs).toBe(90_000);
  });

  it("a given stow.config replaces the default map (Flyte decodes with ZeroFields)", async () => {
    const { storage } = await load("storage:\n  container: b\n  stow:\n    config:\n      endpoint: http://s3.local:9000\n");
    expect(storage.stow).toEqual({ kind: "s3", config: { endpoint: "http://s3.local:9000" } });
  });

  it("v2 GCS form, with an empty json kept as an empty string", async () => {
    const { storage } = await load(`
storage:
  type: stow
  stow:
    kind: google
    config:
      json: ""
      project_id: my-project
      scopes: https://www.googleapis.com/auth/cloud-platform
  container: "my-gcs-bucket"
`);
    expect(storage.stow).toEqual({
      kind: "google",
      config: { json: "", project_id: "my-project", scopes: "https://www.googleapis.com/auth/cloud-platform" },
    });
  });

  it("v2 redis type and per-scheme overrides, kinds derived from the scheme", async () => {
    const { storage } = await load(`
storage:
  type: redis
  redis:
    addr: 127.0.0.1:6379
    password: "12345"
    db: 3
  schemes:
    S3:
      config:
        region: eu-west-1
        auth_type: iam
    gs: {}
    abfss:
      kind: azure
      config:
        account: acct
`);
    expect(storage.redis).toEqual({ addr: "127.0.0.1:6379", username: "", password: "12345", db: 3, cluster: [] });
    expect(storage.schemes).toEqual({
      s3: { kind: "s3", config: { region: "eu-west-1", auth_type: "iam" } },
      gs: { kind: "google", config: {} },
      abfss: { kind: "azure", config: { account: "acct" } },
    });
  });

  it("Flyte's list-of-maps form of a map (its case-preserving workaround) is merged, keys kept as written", async () => {
    const { storage } = await load(
      "storage:\n  container: b\n  stow:\n    kind: s3\n    config:\n      - region: us-west-2\n      - endpoint: http://x:9000\n",
    );
    expect(storage.stow.config).toEqual({ region: "us-west-2", endpoint: "http://x:9000" });
  });

  it("YAML anchors, aliases and merge keys work (go-yaml, under Viper, supports them)", async () => {
    const { storage } = await load(`
common: &s3
  region: eu-west-1
  auth_type: iam
storage:
  container: b
  stow:
    kind: s3
    config: *s3
  signedUrl:
    stowConfigOverride:
      <<: *s3
      region: us-east-1
      endpoint: http://public.example:9000
`);
    expect(storage.stow.config).toEqual({ region: "eu-west-1", auth_type: "iam" });
    expect(storage.signedUrl.stowConfigOverride).toEqual({ region: "us-east-1", endpoint: "http://public.example:9000", auth_type: "iam" });
  });

  it("quoted numbers and booleans are accepted, as Flyte's weakly typed decoding does", async () => {
    const { storage } = await load(
      'storage:\n  container: b\n  enable-multicontainer: "true"\n  limits:\n    maxDownloadMBs: "10"\n  redis:\n    db: "2"\n',
    );
    expect(storage.enableMultiContainer).toBe(true);
    expect(storage.limits.maxDownloadMBs).toBe(10);
    expect(storage.redis.db).toBe(2);
  });

  it("secret_key_path inside stow.config is passed through for the backend to read", async () => {
    const { storage } = await load(
      "storage:\n  container: b\n  stow:\n    kind: s3\n    config:\n      auth_type: accesskey\n      access_key_id: k\n      secret_key_path: /run/secrets/does-not-exist\n",
    );
    expect(storage.stow.config.secret_key_path).toBe("/run/secrets/does-not-exist");
  });

  it("defaultHttpClient: headers as lists or single strings, durations in Go syntax", async () => {
    const { storage } = await load(`
storage:
  container: b
  defaultHttpClient:
    headers:
      X-Trace: [a, b]
      User-Agent: stowd
    timeout: 1m30s
    maxIdleConns: 10
    maxIdleConnsPerHost: 5
    maxConnsPerHost: 20
    idleConnTimeout: 500ms
`);
    expect(storage.defaultHttpClient).toEqual({
      headers: { "X-Trace": ["a", "b"], "User-Agent": ["stowd"] },
      timeoutMs: 90_000,
      maxIdleConns: 10,
      maxIdleConnsPerHost: 5,
      maxConnsPerHost: 20,
      idleConnTimeoutMs: 500,
    });
  });

  it("stowd's own storage keys: create-container, cache.ttl, redis.cluster (list or comma-separated)", async () => {
    const a = await load("storage:\n  container: b\n  create-container: true\n  cache:\n    max_size_mbs: 64\n    ttl: 30\n");
    expect(a.storage.createContainer).toBe(true);
    expect(a.storage.cache).toEqual({ maxSizeMbs: 64, targetGcPercent: 0, ttlSeconds: 30 });
    const b = await load("storage:\n  type: redis\n  redis:\n    cluster: [10.0.0.1:7000, 10.0.0.2:7000]\n");
    expect(b.storage.redis.cluster).toEqual(["10.0.0.1:7000", "10.0.0.2:7000"]);
    const c = await load('storage:\n  type: redis\n  redis:\n    cluster: "10.0.0.1:7000, 10.0.0.2:7000"\n');
    expect(c.storage.redis.cluster).toEqual(["10.0.0.1:7000", "10.0.0.2:7000"]);
  });

  it("a negative cache size disables the cache, as in Flyte", async () => {
    const { storage } = await load("storage:\n  container: b\n  cache:\n    max_size_mbs: -1\n");
    expect(storage.cache.maxSizeMbs).toBe(0);
  });

  it("stowd relaxes Flyte: no container needed with enable-multicontainer or on local disk", async () => {
    await expect(load("storage:\n  type: s3\n  enable-multicontainer: true\n")).resolves.toBeDefined();
    await expect(load("storage:\n  type: local\n  stow:\n    config:\n      path: /tmp/x\n")).resolves.toMatchObject({
      storage: { stow: { kind: "local" } },
    });
  });
});

describe("keys match case-insensitively (Viper); stow.config keys are kept verbatim", () => {
  it("accepts any spelling of Flyte's and stowd's keys", async () => {
    const config = await load(`
Storage:
  TYPE: s3
  Container: b
  Enable-MultiContainer: true
  Limits:
    maxdownloadmbs: 7
  DEFAULTHTTPCLIENT:
    IdleConnTimeout: 30s
  STOW:
    Kind: s3
    Config:
      region: eu-central-1
SERVER:
  grpcaddress: 0.0.0.0:1234
  LogLevel: debug
  INSECURE: true
`);
    expect(config.storage).toMatchObject({ type: "s3", container: "b", enableMultiContainer: true, limits: { maxDownloadMBs: 7 } });
    expect(config.storage.defaultHttpClient.idleConnTimeoutMs).toBe(30_000);
    expect(config.storage.stow.config).toEqual({ region: "eu-central-1" });
    expect(config.server).toMatchObject({ grpcAddress: "0.0.0.0:1234", logLevel: "debug" });
  });

  it("does not fold the case of stow.config keys: stow's are exact, so Region is a typo", async () => {
    const { err, path } = await loadError("storage:\n  container: b\n  stow:\n    kind: s3\n    config:\n      Region: us-east-1\n");
    expect(err.message).toBe(
      `${path}:6: storage.stow.config.Region: unknown key for stow kind s3 (did you mean region? stow keys are case-sensitive); ` +
        "s3 takes auth_type, access_key_id, secret_key, secret_key_path, token, region, endpoint, disable_ssl, v2_signing",
    );
  });

  it("does not fold the case of enum values (Flyte compares storage.type exactly)", async () => {
    const { err } = await loadError("storage:\n  type: S3\n");
    expect(err.message).toContain('storage.type: "S3" is not one of mem, local, s3, minio, stow, redis');
  });

  it("rejects a key given twice in different cases", async () => {
    const { err, path } = await loadError("storage:\n  container: a\n  Container: b\n");
    expect(err.message).toBe(`${path}:3: storage.Container: given twice (also as "container" on line 2); keys are case-insensitive`);
  });
});

describe("mistakes are ConfigErrors naming file:line, key path, what was given and what is accepted", () => {
  it("an invalid enum value", async () => {
    const { err, path } = await loadError("storage:\n  type: gcs\n  container: b\n");
    expect(err.message).toBe(`${path}:2: storage.type: "gcs" is not one of mem, local, s3, minio, stow, redis`);
    expect(err.problems).toEqual([
      { source: path, line: 2, path: "storage.type", message: '"gcs" is not one of mem, local, s3, minio, stow, redis' },
    ]);
  });

  it("a value of the wrong type", async () => {
    const cases: Array<[string, string]> = [
      ["limits:\n    maxDownloadMBs: ten", 'storage.limits.maxDownloadMBs: "ten" is not an integer >= 0 (MiB; 0 = unlimited)'],
      ["limits:\n    maxDownloadMBs: -1", "storage.limits.maxDownloadMBs: -1 is not an integer >= 0"],
      ["limits:\n    maxDownloadMBs: 2.5", "storage.limits.maxDownloadMBs: 2.5 is not an integer >= 0"],
      ["limits:\n    maxDownloadMBs: true", "storage.limits.maxDownloadMBs: true is not an integer >= 0"],
      ["enable-multicontainer: yes", 'storage.enable-multicontainer: "yes" is not a boolean (true or false)'],
      ["container:\n    name: b", "storage.container: a map is not a string"],
      [
        "cache:\n    ttl: 5 minutes",
        'storage.cache.ttl: "5 minutes" is not a duration >= 0: Go syntax like "90s", "1m30s", "500ms", or a number of seconds',
      ],
      ["redis:\n    addr: localhost", 'storage.redis.addr: "localhost" is not a host:port address'],
      ["limits: 10", "storage.limits: 10 is not a map of keys"],
      ["connection:\n    endpoint: not a url", 'storage.connection.endpoint: "not a url" is not a URL such as http://127.0.0.1:9000'],
    ];
    for (const [yaml, expected] of cases) {
      const { err, path } = await loadError(`storage:\n  type: mem\n  ${yaml}\n`);
      expect(err.message, yaml).toContain(`${path}:`);
      expect(err.message, yaml).toContain(expected);
    }
  });

  it("an unknown key, with the closest known one and the accepted keys", async () => {
    const { err, path } = await loadError("storage:\n  container: b\n  cache:\n    max_size_mb: 10\n");
    expect(err.message).toBe(
      `${path}:4: storage.cache.max_size_mb: unknown key (did you mean max_size_mbs?); storage.cache accepts max_size_mbs, target_gc_percent, ttl`,
    );
    const { err: err2 } = await loadError("storage:\n  container: b\n  enable_multicontainer: true\n");
    expect(err2.message).toContain("storage.enable_multicontainer: unknown key (did you mean enable-multicontainer?)");
    const { err: err3 } = await loadError("storage:\n  container: b\nserver:\n  grpcPort: 50051\n");
    expect(err3.message).toContain(
      "server.grpcPort: unknown key (did you mean grpcAddress?); server accepts grpcAddress, httpAddress, shutdownGrace, maxMessageMBs, maxUploadMBs, logLevel",
    );
  });

  it("reports every problem at once, in line order", async () => {
    const { err, path } = await loadError(`storage:
  type: gcs
  enable-multicontainer: maybe
  limits:
    maxDownloadMBs: -5
server:
  logLevel: verbose
  shutdownGrace: soon
`);
    expect(err.problems.map((p) => [p.line, p.path])).toEqual([
      [2, "storage.type"],
      [3, "storage.enable-multicontainer"],
      [5, "storage.limits.maxDownloadMBs"],
      [7, "server.logLevel"],
      [8, "server.shutdownGrace"],
    ]);
    expect(err.message.split("\n")).toHaveLength(5);
    expect(err.message.split("\n")[3]).toBe(`${path}:7: server.logLevel: "verbose" is not one of debug, info, warn, error`);
  });

  it("a stow kind stowd has no backend for, and an invalid s3 auth_type", async () => {
    const { err } = await loadError("storage:\n  container: b\n  stow:\n    kind: oracle\n");
    expect(err.message).toContain(
      'storage.stow.kind: "oracle" is not one of s3, google, azure, local (stowd has no oracle or swift backend)',
    );
    const { err: err2 } = await loadError("storage:\n  container: b\n  stow:\n    kind: s3\n    config:\n      auth_type: key\n");
    expect(err2.message).toContain('storage.stow.config.auth_type: "key" is not one of iam, accesskey');
  });

  it("stow.config keys are checked against the kind, also in signedUrl.stowConfigOverride and schemes", async () => {
    const { err } = await loadError(`storage:
  type: stow
  container: b
  stow:
    kind: google
    config:
      project: p
  signedUrl:
    stowConfigOverride:
      endpoint: http://x
  schemes:
    abfs:
      config:
        account_name: a
`);
    expect(err.message).toContain(
      "storage.stow.config.project: unknown key for stow kind google (did you mean project_id?); google takes json, project_id, scopes",
    );
    expect(err.message).toContain("storage.signedUrl.stowConfigOverride.endpoint: unknown key for stow kind google");
    expect(err.message).toContain("storage.schemes.abfs.config.account_name: unknown key for stow kind azure (did you mean account?)");
  });

  it("YAML syntax errors carry their line", async () => {
    const { err, path } = await loadError("storage:\n  type: s3\n  container: [b\n");
    expect(err.problems[0]).toMatchObject({ source: path, path: "YAML" });
    expect(err.message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+: YAML: `));
  });

  it("a missing file names the flag or env var it came from", async () => {
    const missing = join(tmpdir(), `stowd-no-such-dir-${process.pid}`, "nope.yaml");
    const a = await configError(loadConfig(["--config", missing], {}));
    expect(a.message).toBe(`--config: cannot read config file ${JSON.stringify(missing)} (ENOENT)`);
    const b = await configError(loadConfig([], { STOWD_CONFIG: missing }));
    expect(b.message).toBe(`STOWD_CONFIG: cannot read config file ${JSON.stringify(missing)} (ENOENT)`);
  });

  it("a file needs a storage: block", async () => {
    const { err } = await loadError("server:\n  logLevel: debug\n");
    expect(err.message).toContain("storage: a config file needs a storage: block");
    const { err: empty } = await loadError("");
    expect(empty.message).toContain("storage: a config file needs a storage: block");
  });

  it("skips other Flyte sections with a warning, but a near-miss of storage/server is an error", async () => {
    const warnings: string[] = [];
    await load("propeller:\n  rawoutput-prefix: s3://b/data\nlogger:\n  level: 4\nstorage:\n  container: b\n", {}, [], warnings);
    expect(warnings).toEqual([expect.stringContaining('"propeller"'), expect.stringContaining('"logger"')]);
    const { err, path } = await loadError("storage:\n  container: b\nsever:\n  logLevel: debug\n");
    expect(err.message).toBe(`${path}:3: sever: unknown top-level key (did you mean server?); stowd reads storage: and server:`);
  });

  it("a secret_key_path beside stow (not inside stow.config) says where it belongs", async () => {
    const { err } = await loadError("storage:\n  container: b\n  secret_key_path: /x\n");
    expect(err.message).toContain("storage.secret_key_path: secret_key_path belongs inside stow.config");
  });

  describe("checks across keys", () => {
    it("type redis needs redis.addr or redis.cluster", async () => {
      const { err, path } = await loadError("storage:\n  type: redis\n");
      expect(err.message).toBe(
        `${path}:2: storage.redis.addr: storage.type redis needs redis.addr (host:port) or redis.cluster (seed nodes)`,
      );
    });

    it("redis takes addr or cluster, not both", async () => {
      const { err } = await loadError("storage:\n  type: redis\n  redis:\n    addr: h:1\n    cluster: [h:2]\n");
      expect(err.message).toContain("storage.redis.cluster: give addr (one node) or cluster");
    });

    it("stow types need container unless enable-multicontainer", async () => {
      for (const type of ["s3", "minio", "stow"]) {
        const { err } = await loadError(`storage:\n  type: ${type}\n`);
        expect(err.message).toContain(
          `:2: storage.container: required for storage.type ${type} (the bucket references must name) unless enable-multicontainer is true`,
        );
      }
    });

    it("local disk needs stow.config.path", async () => {
      const { err } = await loadError("storage:\n  type: local\n");
      expect(err.message).toContain("storage.stow.config.path: required for local disk storage");
    });

    it("create-container needs a container", async () => {
      const { err } = await loadError("storage:\n  type: s3\n  enable-multicontainer: true\n  create-container: true\n");
      expect(err.message).toContain(":4: storage.create-container: create-container needs storage.container");
    });

    it("type s3/minio/local must agree with stow.kind; connection with stow is ambiguous", async () => {
      const { err } = await loadError("storage:\n  type: s3\n  container: b\n  stow:\n    kind: google\n");
      expect(err.message).toContain(
        ":4: storage.stow: stow.kind google does not fit storage.type s3: type s3 uses stow.kind s3; use type stow for another kind",
      );
      const { err: err2 } = await loadError("storage:\n  type: s3\n  container: b\n  connection:\n    region: x\n  stow:\n    kind: s3\n");
      expect(err2.message).toContain("storage.connection: both connection (Flyte v1's deprecated S3 settings) and stow are given");
    });

    it("schemes: only schemes stowd serves, not the primary one, and only the keys each uses", async () => {
      const primary = await loadError("storage:\n  type: s3\n  container: b\n  schemes:\n    s3:\n      config:\n        region: x\n");
      expect(primary.err.message).toBe(
        `${primary.path}:5: storage.schemes.s3: configures s3://, the primary scheme, which storage.type and storage.stow already configure: remove it`,
      );
      const { err } = await loadError(`storage:
  type: s3
  container: b
  schemes:
    os: {}
    mem:
      kind: s3
    redis:
      config:
        region: x
    file:
      config: {}
`);
      expect(err.message).toContain(":5: storage.schemes.os: unknown scheme; storage.schemes takes mem, redis, file, s3, gs, abfs, abfss");
      expect(err.message).toContain(":7: storage.schemes.mem.kind: mem:// takes no settings");
      expect(err.message).toContain(":9: storage.schemes.redis.config: redis:// takes only a redis: block");
      expect(err.message).toContain("storage.schemes.file.config: needs path: the root directory for local disk");
    });
  });
});

describe("env vars override the file; flags override env vars", () => {
  const yaml = `storage:
  type: local
  stow:
    config:
      path: /from/file
  limits:
    maxDownloadMBs: 5
server:
  grpcAddress: 127.0.0.1:1001
  httpAddress: 127.0.0.1:1002
  maxUploadMBs: 1
  logLevel: warn
`;
  const env = {
    STOWD_GRPC_ADDRESS: "127.0.0.1:2001",
    STOWD_HTTP_ADDRESS: "127.0.0.1:2002",
    STOWD_DATA_DIR: "/from/env",
    STOWD_MAX_UPLOAD_MBS: "2",
    STOWD_MAX_DOWNLOAD_MBS: "6",
    STOWD_LOG_LEVEL: "error",
  };
  const flags = [
    "--grpc-address=127.0.0.1:3001",
    "--http-address",
    "127.0.0.1:3002",
    "--data-dir",
    "/from/flag",
    "--max-upload-mbs",
    "1.5",
    "--max-download-mbs",
    "0",
    "--log-level",
    "debug",
  ];
  const facts = (c: StowdConfig) => ({
    grpc: c.server.grpcAddress,
    http: c.server.httpAddress,
    path: c.storage.stow.config.path,
    upload: c.server.maxUploadBytes,
    download: c.storage.limits.maxDownloadMBs,
    level: c.server.logLevel,
  });

  it("the file alone", async () => {
    expect(facts(await load(yaml))).toEqual({
      grpc: "127.0.0.1:1001",
      http: "127.0.0.1:1002",
      path: "/from/file",
      upload: MiB,
      download: 5,
      level: "warn",
    });
  });

  it("env vars over the file", async () => {
    expect(facts(await load(yaml, env))).toEqual({
      grpc: "127.0.0.1:2001",
      http: "127.0.0.1:2002",
      path: "/from/env",
      upload: 2 * MiB,
      download: 6,
      level: "error",
    });
  });

  it("flags over env vars", async () => {
    expect(facts(await load(yaml, env, flags))).toEqual({
      grpc: "127.0.0.1:3001",
      http: "127.0.0.1:3002",
      path: "/from/flag",
      upload: 1.5 * MiB,
      download: 0,
      level: "debug",
    });
  });

  it("an empty env var counts as unset", async () => {
    expect(facts(await load(yaml, { STOWD_GRPC_ADDRESS: "", STOWD_LOG_LEVEL: "" })).grpc).toBe("127.0.0.1:1001");
  });

  it("--config over STOWD_CONFIG", async () => {
    const a = await file("storage:\n  type: mem\nserver:\n  logLevel: warn\n");
    const b = await file("storage:\n  type: mem\nserver:\n  logLevel: error\n");
    expect((await loadConfig([], { STOWD_CONFIG: a })).server.logLevel).toBe("warn");
    expect((await loadConfig(["--config", b], { STOWD_CONFIG: a })).server.logLevel).toBe("error");
  });

  it("a bad override names the env var or flag it came from", async () => {
    const a = await configError(loadConfig([], { STOWD_MAX_UPLOAD_MBS: "abc" }));
    expect(a.message).toBe('STOWD_MAX_UPLOAD_MBS: "abc" is not a number >= 0 (MiB; 0 = unlimited)');
    const b = await configError(loadConfig(["--grpc-address", "50051"], {}));
    expect(b.message).toBe('--grpc-address: "50051" is not a host:port address (e.g. 127.0.0.1:50051; port 0 = any free port)');
    const c = await configError(loadConfig(["--max-download-mbs", "1.5"], {}));
    expect(c.message).toBe('--max-download-mbs: "1.5" is not an integer >= 0 (MiB; 0 = unlimited)');
    const d = await configError(loadConfig([], { STOWD_LOG_LEVEL: "trace" }));
    expect(d.message).toBe('STOWD_LOG_LEVEL: "trace" is not one of debug, info, warn, error');
  });

  it("--data-dir applies only to local disk storage, and says so", async () => {
    const s3 = "storage:\n  type: s3\n  container: b\n";
    const { err } = await loadError(s3, {}, ["--data-dir", "/x"]);
    expect(err.message).toBe(
      "--data-dir: applies only when the storage is local disk (storage.type local, or stow with stow.kind local); this config has storage.type s3",
    );
    const { err: fromEnv } = await loadError(s3, { STOWD_DATA_DIR: "/x" });
    expect(fromEnv.message).toContain("STOWD_DATA_DIR: applies only when the storage is local disk");
    const stowLocal = await load("storage:\n  type: stow\n  stow:\n    kind: local\n    config:\n      path: /a\n", {}, [
      "--data-dir",
      "/b",
    ]);
    expect(stowLocal.storage.stow.config.path).toBe("/b");
    // The path can come from the override alone.
    expect((await load("storage:\n  type: local\n", { STOWD_DATA_DIR: "/c" })).storage.stow.config).toEqual({ path: "/c" });
  });

  it("command-line mistakes: unknown flag, missing value, stray argument", async () => {
    expect((await configError(loadConfig(["--bogus"], {}))).message).toMatch(
      /^command line: Unknown option '--bogus'.*\(--help lists the options\)$/,
    );
    expect((await configError(loadConfig(["--config"], {}))).message).toMatch(/^command line: Option '--config <value>' argument missing/);
    expect((await configError(loadConfig(["serve"], {}))).message).toMatch(/^command line: Unexpected argument 'serve'/);
  });
});

describe("the embedded default", () => {
  it("is examples/local.yaml, byte for byte", async () => {
    expect(DEFAULT_CONFIG_YAML).toBe(await readFile(join(examplesDir, "local.yaml"), "utf8"));
  });

  it("loads to the same config as --config examples/local.yaml", async () => {
    const embedded = await loadConfig([], {});
    expect(embedded).toEqual(await loadConfig(["--config", join(examplesDir, "local.yaml")], {}));
    expect(embedded.storage).toMatchObject({
      type: "local",
      enableMultiContainer: true,
      limits: { maxDownloadMBs: 0 },
      stow: { kind: "local", config: { path: "./data" } },
    });
    expect(Object.keys(embedded.storage.schemes)).toEqual(["mem"]);
  });

  it("spells out exactly the built-in server defaults", () => {
    expect(parseConfig("storage:\n  type: mem\n").server).toEqual(parseConfig(DEFAULT_CONFIG_YAML).server);
    expect(SERVER_DEFAULTS).toEqual({
      grpcAddress: "127.0.0.1:50051",
      httpAddress: "127.0.0.1:8080",
      shutdownGraceMs: 10_000,
      maxMessageBytes: 16 * MiB,
      maxUploadBytes: 0,
      logLevel: "info",
      maxConcurrentCalls: 1000,
      maxStreamsPerConnection: 100,
      maxInFlightBytes: 64 * MiB,
      idleStreamTimeoutMs: 60_000,
      defaultDeadlineMs: 3_600_000,
      maxDeadlineMs: 86_400_000,
      headersTimeoutMs: 10_000,
      idleConnectionTimeoutMs: 300_000,
      readinessTimeoutMs: 2000,
    });
  });
});

describe("durations", () => {
  it("parses Go duration syntax", () => {
    expect(parseGoDuration("90s")).toBe(90_000);
    expect(parseGoDuration("1m30s")).toBe(90_000);
    expect(parseGoDuration("500ms")).toBe(500);
    expect(parseGoDuration("1.5h")).toBe(5_400_000);
    expect(parseGoDuration("1h2m3.5s")).toBe(3_723_500);
    expect(parseGoDuration("250us")).toBe(0.25);
    expect(parseGoDuration("1µs")).toBe(0.001);
    expect(parseGoDuration("0")).toBe(0);
    expect(parseGoDuration("-1s")).toBe(-1000);
    for (const bad of ["", "1", "s", "1x", "1h 2m", "1.s.", "h1"]) expect(parseGoDuration(bad), bad).toBeUndefined();
  });

  it("takes plain numbers as seconds in config", () => {
    expect(parseConfig("storage:\n  type: mem\nserver:\n  shutdownGrace: 2.5\n").server.shutdownGraceMs).toBe(2500);
    expect(parseConfig('storage:\n  type: mem\nserver:\n  shutdownGrace: "3"\n').server.shutdownGraceMs).toBe(3000);
    expect(() => parseConfig("storage:\n  type: mem\nserver:\n  shutdownGrace: -1s\n")).toThrow(ConfigError);
  });
});

describe("server block", () => {
  it("reads every key", () => {
    const { server } = parseConfig(`storage:
  type: mem
server:
  grpcAddress: "[::1]:50051"
  httpAddress: 0.0.0.0:0
  shutdownGrace: 1m
  maxMessageMBs: 64
  maxUploadMBs: 0.5
  logLevel: warn
  maxConcurrentCalls: 0
  maxStreamsPerConnection: 8
  maxInFlightMBs: 0.5
  idleStreamTimeout: 30s
  defaultDeadline: 5m
  maxDeadline: 1h
  headersTimeout: 2s
  idleConnectionTimeout: 0
  readinessTimeout: 500ms
`);
    expect(server).toEqual({
      grpcAddress: "[::1]:50051",
      httpAddress: "0.0.0.0:0",
      shutdownGraceMs: 60_000,
      maxMessageBytes: 64 * MiB,
      maxUploadBytes: MiB / 2,
      logLevel: "warn",
      maxConcurrentCalls: 0,
      maxStreamsPerConnection: 8,
      maxInFlightBytes: MiB / 2,
      idleStreamTimeoutMs: 30_000,
      defaultDeadlineMs: 300_000,
      maxDeadlineMs: 3_600_000,
      headersTimeoutMs: 2000,
      idleConnectionTimeoutMs: 0,
      readinessTimeoutMs: 500,
    });
  });

  it("bounds maxMessageMBs to what gRPC can carry", () => {
    expect(() => parseConfig("storage:\n  type: mem\nserver:\n  maxMessageMBs: 0\n")).toThrow(
      "server.maxMessageMBs: 0 is not a number > 0 and < 2048 (MiB)",
    );
    expect(() => parseConfig("storage:\n  type: mem\nserver:\n  maxMessageMBs: 2048\n")).toThrow("is not a number > 0 and < 2048");
  });
});

describe("--help", () => {
  it("is recognised, long and short", () => {
    expect(parseCommandLine(["--help"]).help).toBe(true);
    expect(parseCommandLine(["-h"]).help).toBe(true);
    expect(parseCommandLine([]).help).toBe(false);
  });

  it("documents every flag, its env var and examples", () => {
    for (const word of [
      "--config",
      "STOWD_CONFIG",
      "--grpc-address",
      "STOWD_GRPC_ADDRESS",
      "--http-address",
      "STOWD_HTTP_ADDRESS",
      "--data-dir",
      "STOWD_DATA_DIR",
      "--max-upload-mbs",
      "STOWD_MAX_UPLOAD_MBS",
      "--max-download-mbs",
      "STOWD_MAX_DOWNLOAD_MBS",
      "--log-level",
      "STOWD_LOG_LEVEL",
      "--help",
      "examples:",
      "examples/local.yaml",
    ]) {
      expect(USAGE, word).toContain(word);
    }
  });
});

describe("server/main.ts", () => {
  const run = promisify(execFile);
  const main = (args: string[]) =>
    run(process.execPath, ["--import", "tsx", "server/main.ts", ...args], { cwd: repo, env: { ...process.env, STOWD_CONFIG: "" } }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it("--help prints the usage and exits 0", async () => {
    const { code, stdout } = await main(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toBe(`${USAGE}\n`);
  });

  it("a config error prints file:line: key: problem, no stack, and exits 2", async () => {
    const path = await file("storage:\n  type: gcs\n");
    const { code, stderr } = await main(["--config", path]);
    expect(code).toBe(2);
    expect(stderr).toBe(`${path}:2: storage.type: "gcs" is not one of mem, local, s3, minio, stow, redis\n`);
  });
});
