// A bad backend value (an S3 endpoint, a GCS key, an Azure account name, a
// Redis setting) is a config error at load, with file:line and the key as
// written, just like a bad key: each backend's own option parser runs over
// its settings when the config is loaded, not only when the store tree is
// built. The daemon exits 2 on it. No network, no servers.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type ConfigProblem } from "../../server/config/load-config.js";
import { tempFiles } from "../helpers/temp-files.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));

/** Writes `text` to a fresh file and returns its path. */
const file = tempFiles("stowd-backend-values-");

/** The problems loading `text` reports, with the file's path. */
async function problemsOf(text: string): Promise<{ problems: readonly ConfigProblem[]; message: string; path: string }> {
  const path = await file(text);
  const err = await loadConfig(["--config", path], {}, { warn: () => {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  const { problems, message } = err as ConfigError;
  return { problems, message, path };
}

describe("backend values are checked at load, with file:line", () => {
  it("s3: a malformed endpoint", async () => {
    const { problems, message, path } = await problemsOf(
      "storage:\n  type: stow\n  container: b\n  stow:\n    kind: s3\n    config:\n      region: us-east-1\n      endpoint: http://[not-a-host\n",
    );
    expect(problems).toEqual([
      { source: path, line: 8, path: "storage.stow.config.endpoint", message: '"http://[not-a-host" is not a URL or host:port' },
    ]);
    expect(message).toBe(`${path}:8: storage.stow.config.endpoint: "http://[not-a-host" is not a URL or host:port`);
  });

  it("s3: secret_key_path is not read at load; the other values are checked as if it were", async () => {
    // The file does not exist: that is found when the store is built; the iam mismatch is a value error now.
    const { problems, path } = await problemsOf(
      "storage:\n  type: stow\n  container: b\n  stow:\n    kind: s3\n    config:\n      auth_type: iam\n      secret_key_path: /nonexistent/secret\n",
    );
    expect(problems).toEqual([
      {
        source: path,
        line: 8,
        path: "storage.stow.config.secret_key_path",
        message: "is set, but auth_type iam uses ambient credentials; set auth_type: accesskey to use it",
      },
    ]);
    await expect(
      loadConfig(
        [
          "--config",
          await file(
            "storage:\n  type: stow\n  container: b\n  stow:\n    kind: s3\n    config:\n      auth_type: accesskey\n      access_key_id: AK\n      secret_key_path: /nonexistent/secret\n",
          ),
        ],
        {},
      ),
    ).resolves.toBeDefined();
  });

  it("s3 in Flyte v1's connection form: the problem names the connection key", async () => {
    const { problems, path } = await problemsOf(
      "storage:\n  type: s3\n  container: b\n  connection:\n    auth-type: accesskey\n    access-key: AK\n",
    );
    // secret-key is missing, so the line is the connection block's.
    expect(problems).toEqual([
      {
        source: path,
        line: 4,
        path: "storage.connection.secret-key",
        message: "(or secret_key_path) is required with auth_type accesskey",
      },
    ]);
  });

  it("gcs: a json that is not a service-account key, in a schemes entry", async () => {
    const { problems, path } = await problemsOf(
      'storage:\n  type: local\n  stow:\n    config:\n      path: ./data\n  schemes:\n    gs:\n      config:\n        json: \'{"type": "authorized_user"}\'\n',
    );
    expect(problems).toEqual([
      {
        source: path,
        line: 9,
        path: "storage.schemes.gs.config.json",
        message: 'has type "authorized_user"; stow\'s google driver takes a service_account key (leave json empty for ambient credentials)',
      },
    ]);
  });

  it("azure: an account name Azure does not allow", async () => {
    const { problems, path } = await problemsOf(
      "storage:\n  type: stow\n  container: c\n  stow:\n    kind: azure\n    config:\n      account: My_Account\n",
    );
    expect(problems).toEqual([
      {
        source: path,
        line: 7,
        path: "storage.stow.config.account",
        message: '"My_Account" is not an Azure storage account name (3-24 lowercase letters and digits)',
      },
    ]);
  });

  it("azure: a missing account is reported at its block's line", async () => {
    const { problems, path } = await problemsOf(
      "storage:\n  type: stow\n  container: c\n  stow:\n    kind: azure\n    config:\n      key: a2V5\n",
    );
    expect(problems).toEqual([
      {
        source: path,
        line: 6,
        path: "storage.stow.config.account",
        message: "the storage account name is required for stow kind azure (stow: missing account id)",
      },
    ]);
  });

  it("redis: a database number with a cluster", async () => {
    const { problems, path } = await problemsOf("storage:\n  type: redis\n  redis:\n    cluster: [127.0.0.1:7000]\n    db: 3\n");
    expect(problems).toEqual([
      { source: path, line: 5, path: "storage.redis.db", message: "must be 0 with a cluster (a Redis Cluster has only database 0)" },
    ]);
  });

  it("redis: the redis scheme without an address", async () => {
    const { problems, path } = await problemsOf("storage:\n  type: mem\n  schemes:\n    redis: {}\n");
    expect(problems).toEqual([
      {
        source: path,
        line: 1,
        path: "storage.redis.addr",
        message: "storage type [redis] requires storage.redis.addr to be set (host:port), or storage.redis.cluster",
      },
    ]);
  });

  it("local: a root directory is required (the loader's own check names it first)", async () => {
    const { problems } = await problemsOf("storage:\n  type: mem\n  schemes:\n    file:\n      config: {}\n");
    expect(problems.map((p) => p.path)).toEqual(["storage.schemes.file.config"]);
  });
});

describe("server/main.ts", () => {
  const run = promisify(execFile);

  it("exits 2 on a bad backend value, printing file:line: key: problem", async () => {
    const path = await file("storage:\n  type: stow\n  container: c\n  stow:\n    kind: azure\n    config:\n      account: My_Account\n");
    const result = await run(process.execPath, ["--import", "tsx", "server/main.ts", "--config", path], {
      cwd: repo,
      env: { ...process.env, STOWD_CONFIG: "" },
    }).then(
      ({ stderr }) => ({ code: 0, stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `${path}:7: storage.stow.config.account: "My_Account" is not an Azure storage account name (3-24 lowercase letters and digits)\n`,
    );
  });
});
