// Flyte's GCS settings: `stow.kind: google` with stow's google keys in
// `stow.config` (stow v0.3.11, exact and case-sensitive): `json` (the
// service-account key's JSON text; empty = Application Default Credentials,
// e.g. workload identity), `project_id` and `scopes` (comma-separated;
// stow's default is devstorage.read_write). Mapped here to GcsStoreOptions.
import { StowdError } from "../../common/errors.js";
import type { GcsServiceAccountKey, GcsStoreOptions } from "./gcs-store.js";

/** stow's default scope (storage.DevstorageReadWriteScope). */
export const GCS_DEFAULT_SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"];

const KNOWN_KEYS = ["json", "project_id", "scopes"];

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
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw wrong("json", "must be a JSON object (a service-account key file)");
  const key = parsed as Record<string, unknown>;
  // stow reads it with google.JWTConfigFromJSON, which takes service-account keys only.
  if (key.type !== undefined && key.type !== "service_account") {
    throw wrong("json", `has type ${JSON.stringify(key.type)}; stow's google driver takes a service_account key (leave json empty for ambient credentials)`);
  }
  for (const required of ["client_email", "private_key"]) {
    if (typeof key[required] !== "string" || key[required] === "") throw wrong("json", `lacks "${required}"; it must hold a service-account key`);
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
    if (!KNOWN_KEYS.includes(key)) {
      throw wrong(key, `is not a key of stow's google driver; known keys: ${KNOWN_KEYS.join(", ")}`);
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
