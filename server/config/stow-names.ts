// The one table of the names a Flyte storage block uses for backends: storage
// types, stow kinds, the stow.config keys each kind understands (each
// backend's config.ts lists its own; stow v0.3.11 plus Flyte's
// secret_key_path, exact and case-sensitive), and which scheme each kind
// serves. The loader, the load-time value checks and the assembly all read
// it, so they cannot disagree about what a scheme is served by.
import type { StorageType } from "./config.js";
import { AZURE_STOW_KEYS } from "../stores/azure/config.js";
import { GCS_STOW_KEYS } from "../stores/gcs/config.js";
import { LOCAL_STOW_KEYS } from "../stores/local/config.js";
import { S3_AUTH_TYPES, S3_STOW_KEYS } from "../stores/s3/config.js";

export { S3_AUTH_TYPES };

export const STORAGE_TYPES: readonly StorageType[] = ["mem", "local", "s3", "minio", "stow", "redis"];

/** The stow kinds stowd has a backend for (Flyte also knows oracle and swift). */
export const STOW_KINDS = ["s3", "google", "azure", "local"] as const;
export type StowKind = (typeof STOW_KINDS)[number];

/** What serves a scheme: a stow kind, or stowd's own memory and redis stores. */
export type BackendKind = StowKind | "mem" | "redis";

export const STOW_CONFIG_KEYS: Record<StowKind, readonly string[]> = {
  s3: S3_STOW_KEYS,
  google: GCS_STOW_KEYS,
  azure: AZURE_STOW_KEYS,
  local: LOCAL_STOW_KEYS,
};

/** Schemes `storage.schemes` may configure, and the stow kind each is dialled with by default (Flyte's schemeToStowKind); "" = no stow kind. */
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

/** The backend of a scheme: the kind its entry gives, else mem and redis by name, else Flyte's schemeToStowKind. */
export function backendKindOf(scheme: string, givenKind: string): BackendKind | undefined {
  if (givenKind !== "") return ([...STOW_KINDS, "mem", "redis"] as string[]).includes(givenKind) ? (givenKind as BackendKind) : undefined;
  if (scheme === "mem" || scheme === "redis") return scheme;
  return SCHEME_KINDS[scheme] || undefined;
}

/** The scheme the primary store serves (Flyte's primarySchemeForConfig); undefined for a stow kind stowd has no backend for. */
export function primaryScheme(type: StorageType, kind: StowKind): string | undefined {
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
      // A config built in code (not loaded) may name a kind outside the table.
      return (KIND_SCHEMES as Record<string, string | undefined>)[kind];
  }
}
