// Flyte's GCS settings: `stow.kind: google` with stow's google keys in
// `stow.config` (stow v0.3.11, exact and case-sensitive): `json` (the
// service-account key's JSON text; empty = Application Default Credentials,
// e.g. workload identity), `project_id` and `scopes` (comma-separated;
// stow's default is devstorage.read_write). Mapped here to GcsStoreOptions.
import { StowdError } from "../../../common/errors.js";
import type { RetryPolicy } from "../kit/retry.js";

/** A service-account key file's contents (the fields signing and auth need). */
export interface GcsServiceAccountKey {
  type?: string;
  project_id?: string;
  private_key_id?: string;
  private_key: string;
  client_email: string;
  client_id?: string;
  token_uri?: string;
}

/** What createGcsStore takes: built from `stow.config` below, or given directly. */
export interface GcsStoreOptions {
  /** JSON API endpoint; default https://storage.googleapis.com. Tests point it at the GCS test server. */
  apiEndpoint?: string;
  /** Project for the SDK; default: from the credentials or the environment. */
  projectId?: string;
  /** Path of a service-account key file. */
  keyFilename?: string;
  /** A service-account key's contents (Flyte's `stow.config.json`). Without this and keyFilename: Application Default Credentials. */
  credentials?: GcsServiceAccountKey;
  /** OAuth scopes; default devstorage.read_write (stow's default). */
  scopes?: string[];
  /** Authenticate requests to a custom apiEndpoint too; default false (the SDK's default: test servers take no tokens). */
  useAuthWithCustomEndpoint?: boolean;
  /** Attempts and timeouts for backend calls; defaults: defaultRetryPolicy. */
  retry?: Partial<RetryPolicy>;
  /** Chunk size of resumable uploads, a multiple of 256 KiB; default 8 MiB (each upload holds one chunk in memory). */
  resumableChunkBytes?: number;
  /** Bodies up to this size go in one multipart request; default 5 MiB (the SDK's own threshold). */
  singleRequestMaxBytes?: number;
  /** Where append stages its bytes, per bucket; hidden from listings; default ".stowd-tmp/". */
  tempPrefix?: string;
}

/** stow's default scope (storage.DevstorageReadWriteScope). */
export const GCS_DEFAULT_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"];

/** stow's google keys. */
export const GCS_STOW_KEYS = ["json", "project_id", "scopes"] as const;

function wrong(key: string, why: string): StowdError {
  return new StowdError("INVALID_ARGUMENT", `storage.stow.config.${key}: ${why}`, { field: `storage.stow.config.${key}` });
}

function parseKey(json: string): GcsServiceAccountKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw wrong("json", `is not valid JSON (${(err as Error).message}); it must hold the text of a service-account key file`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw wrong("json", "must be a JSON object (a service-account key file)");
  const key = parsed as Record<string, unknown>;
  // stow reads it with google.JWTConfigFromJSON, which takes service-account keys only.
  if (key.type !== undefined && key.type !== "service_account") {
    throw wrong(
      "json",
      `has type ${JSON.stringify(key.type)}; stow's google driver takes a service_account key (leave json empty for ambient credentials)`,
    );
  }
  for (const required of ["client_email", "private_key"]) {
    if (typeof key[required] !== "string" || key[required] === "")
      throw wrong("json", `lacks "${required}"; it must hold a service-account key`);
  }
  return key as unknown as GcsServiceAccountKey;
}

/**
 * GcsStoreOptions from Flyte's `stow.config` for kind google. Unknown keys
 * are refused by name; stowd-only settings (apiEndpoint, retry, chunk
 * sizes) come from stowd's own configuration and are merged by the caller.
 */
export function gcsStoreOptionsFromStowConfig(config: Readonly<Record<string, string>>): GcsStoreOptions {
  for (const key of Object.keys(config)) {
    if (!(GCS_STOW_KEYS as readonly string[]).includes(key)) {
      throw wrong(key, `is not a key of stow's google driver; known keys: ${GCS_STOW_KEYS.join(", ")}`);
    }
  }
  const options: GcsStoreOptions = {};
  const json = config.json?.trim() ?? "";
  if (json !== "") options.credentials = parseKey(json);
  const projectId = config.project_id?.trim() ?? "";
  if (projectId !== "") options.projectId = projectId;
  else if (options.credentials?.project_id !== undefined) options.projectId = options.credentials.project_id;
  const scopes = (config.scopes ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  options.scopes = scopes.length > 0 ? scopes : [...GCS_DEFAULT_SCOPES];
  return options;
}
