// Flyte's `stow.config` map for kind s3 (stow v0.3.x key names, plus Flyte's
// `secret_key_path`), turned into S3StoreOptions. Unknown keys and values
// stow would misread are errors that name the key, never ignored.
import { readFile } from "node:fs/promises";
import { StowdError } from "../../common/errors.js";
import type { S3StoreOptions } from "./s3-store.js";

/** The keys stow's s3 driver and Flyte read; `v2_signing` is accepted only as false. */
export const STOW_S3_KEYS = ["auth_type", "access_key_id", "secret_key", "secret_key_path", "token", "region", "endpoint", "disable_ssl", "v2_signing"] as const;

/** Flyte's default `stow.config` region. */
const DEFAULT_REGION = "us-east-1";

function invalid(key: string, why: string, cause?: unknown): StowdError {
  return new StowdError("INVALID_ARGUMENT", `stow.config.${key} ${why}`, { field: `stow.config.${key}`, backend: "s3", ...(cause === undefined ? {} : { cause }) });
}

/** Go's strconv.ParseBool, which stow uses. */
function parseGoBool(key: string, value: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw invalid(key, `must be true or false, not ${JSON.stringify(value)}`);
}

export interface StowConfigContext {
  /** Reads `secret_key_path`; defaults to the file system. */
  readSecretFile?: (path: string) => Promise<string>;
}

/**
 * Maps `stow.config` (kind s3) to store options:
 * - `auth_type`: `accesskey` (static keys: `access_key_id` plus `secret_key`
 *   or `secret_key_path`, optional session `token`) or `iam` (the SDK's
 *   ambient credential chain: env, profile, web identity, instance role).
 *   When missing: `accesskey` if any key is given, else `iam` (stow alone
 *   would demand keys; Flyte defaults lazily dialled schemes to iam).
 * - `secret_key_path`: a file whose trimmed content overrides `secret_key`,
 *   as in Flyte; a missing file is an error.
 * - `endpoint`: an S3-compatible server; path-style addressing is used with
 *   it, as stow does. Without a scheme, `disable_ssl` picks http or https.
 * - `region`: default us-east-1 (Flyte's default config).
 */
export async function s3OptionsFromStowConfig(config: Readonly<Record<string, string>>, context: StowConfigContext = {}): Promise<S3StoreOptions> {
  for (const key of Object.keys(config)) {
    if (!(STOW_S3_KEYS as readonly string[]).includes(key)) {
      throw invalid(key, `is not a key of stow's s3 driver (expected one of ${STOW_S3_KEYS.join(", ")}; keys are case-sensitive)`);
    }
  }
  const get = (key: (typeof STOW_S3_KEYS)[number]): string | undefined => {
    const value = config[key];
    return value === undefined || value === "" ? undefined : value;
  };

  if (get("v2_signing") !== undefined && parseGoBool("v2_signing", get("v2_signing") ?? "")) {
    throw invalid("v2_signing", "is true, but stowd signs S3 requests with Signature Version 4 only");
  }

  const secretPath = get("secret_key_path");
  let secret = get("secret_key");
  if (secretPath !== undefined) {
    const read = context.readSecretFile ?? ((file: string) => readFile(file, "utf8"));
    try {
      secret = (await read(secretPath)).trim();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const why = code === "ENOENT" ? "secret key path does not exist" : `could not be read (${String(code ?? err)})`;
      throw invalid("secret_key_path", `${JSON.stringify(secretPath)}: ${why}`, err);
    }
    if (secret === "") throw invalid("secret_key_path", `${JSON.stringify(secretPath)} is empty`);
  }

  const keyGiven = get("access_key_id") !== undefined || secret !== undefined;
  const authType = get("auth_type") ?? (keyGiven ? "accesskey" : "iam");
  const options: S3StoreOptions = { region: get("region") ?? DEFAULT_REGION };

  if (authType === "accesskey") {
    const accessKeyId = get("access_key_id");
    if (accessKeyId === undefined) throw invalid("access_key_id", "is required with auth_type accesskey");
    if (secret === undefined) throw invalid("secret_key", "(or secret_key_path) is required with auth_type accesskey");
    const token = get("token");
    options.credentials = { accessKeyId, secretAccessKey: secret, ...(token === undefined ? {} : { sessionToken: token }) };
  } else if (authType === "iam") {
    for (const key of ["access_key_id", "secret_key", "secret_key_path", "token"] as const) {
      if (get(key) !== undefined) throw invalid(key, "is set, but auth_type iam uses ambient credentials; set auth_type: accesskey to use it");
    }
  } else {
    throw invalid("auth_type", `must be "iam" or "accesskey", not ${JSON.stringify(authType)}`);
  }

  const disableSsl = get("disable_ssl") === undefined ? false : parseGoBool("disable_ssl", get("disable_ssl") ?? "");
  const endpoint = get("endpoint");
  if (endpoint !== undefined) {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `${disableSsl ? "http" : "https"}://${endpoint}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch (err) {
      throw invalid("endpoint", `${JSON.stringify(endpoint)} is not a URL or host:port`, err);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid("endpoint", `${JSON.stringify(endpoint)} must use http or https`);
    if (disableSsl && url.protocol === "https:") throw invalid("disable_ssl", `is true but endpoint ${JSON.stringify(endpoint)} asks for https`);
    options.endpoint = withScheme;
    options.forcePathStyle = true;
  } else if (disableSsl) {
    throw invalid("disable_ssl", "is true without an endpoint; AWS S3 is reached over https only");
  }
  return options;
}
