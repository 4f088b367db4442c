// The names a Flyte storage block uses for backends: storage types, stow kinds,
// the stow.config keys each kind understands (stow v0.3.11 plus Flyte's
// secret_key_path, exact and case-sensitive), and the URL scheme each kind
// serves. A backend that learns a new stow.config key adds it here, so the
// loader keeps rejecting typos without rejecting the new key.
import type { StorageType } from "./config.js";

export const STORAGE_TYPES: readonly StorageType[] = ["mem", "local", "s3", "minio", "stow", "redis"];

/** The stow kinds stowd has a backend for (Flyte also knows oracle and swift). */
export const STOW_KINDS = ["s3", "google", "azure", "local"] as const;
export type StowKind = (typeof STOW_KINDS)[number];

export const STOW_CONFIG_KEYS: Record<StowKind, readonly string[]> = {
  s3: ["auth_type", "access_key_id", "secret_key", "secret_key_path", "token", "region", "endpoint", "disable_ssl", "v2_signing"],
  google: ["json", "project_id", "scopes"],
  // endpoint: stowd's addition for emulators and private endpoints (see stores/azure-config.ts).
  azure: ["account", "key", "domain_suffix", "upload_concurrency", "base_url", "endpoint"],
  local: ["path"],
};

/** stow's s3 `auth_type` values (stow treats a missing one as accesskey). */
export const S3_AUTH_TYPES = ["iam", "accesskey"] as const;

/** Schemes `storage.schemes` may configure, and the stow kind each is dialled with by default (Flyte's schemeToStowKind). */
export const SCHEME_KINDS: Record<string, StowKind | ""> = {
  mem: "",
  redis: "",
  file: "local",
  s3: "s3",
  gs: "google",
  abfs: "azure",
  abfss: "azure",
};

/** Flyte's kindToScheme: the scheme a stow kind's references use (azure → abfs, not abfss). */
export const KIND_SCHEMES: Record<StowKind, string> = { s3: "s3", google: "gs", azure: "abfs", local: "file" };

/** The scheme the primary store serves (Flyte's primarySchemeForConfig). */
export function primaryScheme(type: StorageType, kind: StowKind): string {
  switch (type) {
    case "mem":
      return "mem";
    case "redis":
      return "redis";
    case "local":
      return "file";
    case "s3":
    case "minio":
      return "s3";
    case "stow":
      return KIND_SCHEMES[kind];
  }
}
