// Flyte's `stow.config` map for kind s3 (stow v0.3.x key names, plus Flyte's
// `secret_key_path`), turned into S3StoreOptions. Unknown keys and values
// stow would misread are errors that name the key, never ignored. Pure but
// for reading `secret_key_path`, which only s3OptionsFromStowConfig does.
import { readFile } from "node:fs/promises";
import { StowdError } from "../../../common/errors.js";
import type { RetryPolicy } from "../kit/retry.js";

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What createS3Store takes: built from `stow.config` below, or given directly. */
export interface S3StoreOptions {
  /** An S3-compatible server, e.g. `http://127.0.0.1:7480`; omit for AWS S3. */
  endpoint?: string;
  /** Default us-east-1. */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`); default: true with an endpoint. */
  forcePathStyle?: boolean;
  /** Static keys; omit to use the SDK's ambient chain (env, profile, web identity, instance role). */
  credentials?: S3Credentials;
  /** Retries and timeouts of backend calls; unset fields take defaultRetryPolicy's. */
  retry?: Partial<RetryPolicy>;
  /** Bodies up to this size go up as one PutObject, larger ones in parts of this size; default 8 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded at once per write; default 4. Memory: (concurrency + 1) × part size. */
  partConcurrency?: number;
  /**
   * The server's minimum part size, checked against partSizeBytes; default 5
   * MiB (S3's rule). Lower only for a server configured so (tests).
   */
  minPartSizeBytes?: number;
  /** Objects larger than this are copied with UploadPartCopy; default 5 GiB (CopyObject's limit). */
  multipartCopyThresholdBytes?: number;
  /** Part size of multipart copies; default 512 MiB. */
  copyPartSizeBytes?: number;
}

/** The keys stow's s3 driver and Flyte read; `v2_signing` is accepted only as false. */
export const S3_STOW_KEYS = [
  "auth_type",
  "access_key_id",
  "secret_key",
  "secret_key_path",
  "token",
  "region",
  "endpoint",
  "disable_ssl",
  "v2_signing",
] as const;

/** stow's s3 `auth_type` values (stow treats a missing one as accesskey). */
export const S3_AUTH_TYPES = ["iam", "accesskey"] as const;

/** Flyte's default `stow.config` region. */
const DEFAULT_REGION = "us-east-1";

function invalid(key: string, why: string, cause?: unknown): StowdError {
  return new StowdError("INVALID_ARGUMENT", `stow.config.${key} ${why}`, {
    field: `stow.config.${key}`,
    backend: "s3",
    ...(cause === undefined ? {} : { cause }),
  });
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
 * Checks every value of a `stow.config` of kind s3 without reading
 * `secret_key_path` (the file is read when the store is built): what the
 * config loader runs, so a bad value is reported at load with its line.
 */
export function checkS3StowConfig(config: Readonly<Record<string, string>>): void {
  checkKeys(config);
  // The file's content is not needed to check the rest: a given path counts as a given secret.
  const get = getter(config);
  optionsWithSecret(config, get("secret_key_path") !== undefined ? "(from secret_key_path)" : get("secret_key"));
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
export async function s3OptionsFromStowConfig(
  config: Readonly<Record<string, string>>,
  context: StowConfigContext = {},
): Promise<S3StoreOptions> {
  checkKeys(config);
  const get = getter(config);
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
  return optionsWithSecret(config, secret);
}

/** A key's value; empty counts as not given. */
function getter(config: Readonly<Record<string, string>>): (key: (typeof S3_STOW_KEYS)[number]) => string | undefined {
  return (key) => {
    const value = config[key];
    return value === undefined || value === "" ? undefined : value;
  };
}

/** Unknown keys, and v2_signing, which stowd cannot honour. */
function checkKeys(config: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(config)) {
    if (!(S3_STOW_KEYS as readonly string[]).includes(key)) {
      throw invalid(key, `is not a key of stow's s3 driver (expected one of ${S3_STOW_KEYS.join(", ")}; keys are case-sensitive)`);
    }
  }
  const v2Signing = getter(config)("v2_signing");
  if (v2Signing !== undefined && parseGoBool("v2_signing", v2Signing)) {
    throw invalid("v2_signing", "is true, but stowd signs S3 requests with Signature Version 4 only");
  }
}

/** Credentials, region and endpoint, given the secret key (from secret_key or the file of secret_key_path). */
function optionsWithSecret(config: Readonly<Record<string, string>>, secret: string | undefined): S3StoreOptions {
  const get = getter(config);
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
      if (get(key) !== undefined)
        throw invalid(key, "is set, but auth_type iam uses ambient credentials; set auth_type: accesskey to use it");
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
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw invalid("endpoint", `${JSON.stringify(endpoint)} must use http or https`);
    if (disableSsl && url.protocol === "https:")
      throw invalid("disable_ssl", `is true but endpoint ${JSON.stringify(endpoint)} asks for https`);
    options.endpoint = withScheme;
    options.forcePathStyle = true;
  } else if (disableSsl) {
    throw invalid("disable_ssl", "is true without an endpoint; AWS S3 is reached over https only");
  }
  return options;
}
