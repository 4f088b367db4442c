// Which backend serves which scheme, from a Flyte storage block: the primary
// store chosen by `type` (and `stow.kind`), every `schemes.<scheme>` entry,
// and `redis://` when `redis.addr` is set. Nothing else is reachable: unlike
// Flyte, a scheme that is not configured is refused instead of being dialled
// with ambient credentials or sent to the primary store.
import { resolve } from "node:path";
import type { SchemeConfig, StorageConfig } from "./config.js";
import { builtBackend, type Backend } from "../decorators/scheme-router.js";
import { StowdError } from "../errors.js";
import { createLocalStore, localStoreCapabilities } from "../stores/local-store.js";
import { createMemoryStore } from "../stores/memory-store.js";

/** Flyte's kindToScheme: the scheme a stow kind serves. */
const schemeOfKind: Record<string, string> = { s3: "s3", google: "gs", azure: "abfs", local: "file", oracle: "os", swift: "sw" };
/** Flyte's schemeToStowKind, plus stowd's own mem and redis. */
const kindOfScheme: Record<string, string> = { s3: "s3", gs: "google", abfs: "azure", abfss: "azure", file: "local", os: "oracle", sw: "swift", mem: "mem", redis: "redis" };

export interface ConfiguredBackends {
  /** The scheme of the primary store (Flyte's `type`). */
  primaryScheme: string;
  backends: Record<string, Backend>;
}

export function configuredBackends(storage: StorageConfig): ConfiguredBackends {
  const primaryKind = storage.type === "stow" ? storage.stow.kind : storage.type === "minio" ? "s3" : storage.type;
  const primaryScheme = storage.type === "mem" ? "mem" : storage.type === "redis" ? "redis" : schemeOfKind[primaryKind];
  if (primaryScheme === undefined) {
    throw new StowdError("INVALID_ARGUMENT", `storage.stow.kind: "${storage.stow.kind}" is not one of ${Object.keys(schemeOfKind).join(", ")}`, {});
  }
  const backends: Record<string, Backend> = {};
  backends[primaryScheme] = backendOf(primaryScheme, kindOfScheme[primaryScheme] ?? primaryKind, primaryConfig(storage), storage);
  for (const [scheme, schemeConfig] of Object.entries(storage.schemes)) {
    backends[scheme] = backendOf(scheme, schemeConfig.kind || kindOfScheme[scheme] || "", schemeConfig.config, storage, schemeConfig);
  }
  if (backends.redis === undefined && (storage.redis.addr !== "" || storage.redis.cluster.length > 0)) {
    backends.redis = backendOf("redis", "redis", {}, storage);
  }
  // abfs and abfss name the same service: both get the configured account
  // (Flyte dialled abfss with ambient credentials).
  if (backends.abfs !== undefined && backends.abfss === undefined) backends.abfss = backends.abfs;
  if (backends.abfss !== undefined && backends.abfs === undefined) backends.abfs = backends.abfss;
  return { primaryScheme, backends };
}

/** The primary store's stow.config: stow's map, or v1's legacy `connection` block for S3. */
function primaryConfig(storage: StorageConfig): Record<string, string> {
  const usesLegacy = (storage.type === "s3" || storage.type === "minio") && (storage.stow.kind === "" || Object.keys(storage.stow.config).length === 0);
  if (!usesLegacy) return storage.stow.config;
  const c = storage.connection;
  return {
    auth_type: c.authType,
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    ...(c.accessKey ? { access_key_id: c.accessKey } : {}),
    ...(c.secretKey ? { secret_key: c.secretKey } : {}),
    ...(c.disableSsl ? { disable_ssl: "True" } : {}),
  };
}

function backendOf(scheme: string, kind: string, stowConfig: Record<string, string>, storage: StorageConfig, schemeConfig?: SchemeConfig): Backend {
  const baseContainerReference = storage.container !== "" && scheme === schemeOfKind[kind] ? `${scheme}://${storage.container}` : "";
  switch (kind) {
    case "mem":
      return builtBackend(createMemoryStore(), "");
    case "local": {
      const path = stowConfig.path;
      if (!path) throw new StowdError("INVALID_ARGUMENT", `storage: the local backend for ${scheme}:// needs stow.config.path (the root directory)`, {});
      return {
        kind: "local",
        capabilities: localStoreCapabilities,
        baseContainerReference,
        create: () => createLocalStore({ root: resolve(path) }),
      };
    }
    default:
      void schemeConfig;
      throw new StowdError("INVALID_ARGUMENT", `storage: no backend of kind "${kind}" for ${scheme}:// is available in this build`, {});
  }
}
