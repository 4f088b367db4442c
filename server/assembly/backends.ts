// Which backend serves which scheme, from a Flyte storage block: the primary
// store chosen by `type` (and `stow.kind`), every `schemes.<scheme>` entry,
// and `redis://` when `redis.addr` is set. Nothing else is reachable: unlike
// Flyte, a scheme that is not configured is refused instead of being dialled
// with ambient credentials or sent to the primary store.
import { resolve } from "node:path";
import type { SchemeConfig, StorageConfig } from "./config.js";
import { builtBackend, type Backend } from "../decorators/scheme-router.js";
import { StowdError } from "../../common/errors.js";
import { createLocalStore, localIdentity, localStoreCapabilities } from "../stores/local-store.js";
import { createAzureStore } from "../stores/azure-store.js";
import { azureOptionsFromStowConfig } from "../stores/azure-config.js";
import { gcsStoreOptionsFromStowConfig } from "../stores/gcs-config.js";
import { createGcsStore } from "../stores/gcs-store.js";
import { createMemoryStore } from "../stores/memory-store.js";
import { createRedisStore, redisStoreOptionsFromFlyte } from "../stores/redis-store.js";
import type { RetryPolicy } from "../stores/kit/retry.js";
import { createS3Store } from "../stores/s3-store.js";
import { s3OptionsFromStowConfig } from "../stores/s3-stow-config.js";

/** Flyte's kindToScheme: the scheme a stow kind serves. */
const schemeOfKind: Record<string, string> = { s3: "s3", google: "gs", azure: "abfs", local: "file", oracle: "os", swift: "sw" };
/** Flyte's schemeToStowKind, plus stowd's own mem and redis. */
const kindOfScheme: Record<string, string> = { s3: "s3", gs: "google", abfs: "azure", abfss: "azure", file: "local", os: "oracle", sw: "swift", mem: "mem", redis: "redis" };

export interface ConfiguredBackends {
  /** The scheme of the primary store (Flyte's `type`). */
  primaryScheme: string;
  backends: Record<string, Backend>;
}

export async function configuredBackends(storage: StorageConfig): Promise<ConfiguredBackends> {
  const primaryKind = storage.type === "stow" ? storage.stow.kind : storage.type === "minio" ? "s3" : storage.type;
  const primaryScheme = storage.type === "mem" ? "mem" : storage.type === "redis" ? "redis" : schemeOfKind[primaryKind];
  if (primaryScheme === undefined) {
    throw new StowdError("INVALID_ARGUMENT", `storage.stow.kind: "${storage.stow.kind}" is not one of ${Object.keys(schemeOfKind).join(", ")}`, {});
  }
  const backends: Record<string, Backend> = {};
  backends[primaryScheme] = await backendOf(primaryScheme, kindOfScheme[primaryScheme] ?? primaryKind, primaryConfig(storage), storage);
  for (const [scheme, schemeConfig] of Object.entries(storage.schemes)) {
    backends[scheme] = await backendOf(scheme, schemeConfig.kind || kindOfScheme[scheme] || "", schemeConfig.config, storage, schemeConfig);
  }
  if (backends.redis === undefined && (storage.redis.addr !== "" || storage.redis.cluster.length > 0)) {
    backends.redis = await backendOf("redis", "redis", {}, storage);
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

/** The backend of one scheme. Clients are made now; they dial nothing until first used. */
async function backendOf(scheme: string, kind: string, stowConfig: Record<string, string>, storage: StorageConfig, schemeConfig?: SchemeConfig): Promise<Backend> {
  const baseContainerReference = storage.container !== "" && scheme === schemeOfKind[kind] ? `${scheme}://${storage.container}` : "";
  const field = schemeConfig === undefined ? "storage.stow.config" : `storage.schemes.${scheme}.config`;
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
        identity: localIdentity,
        create: () => createLocalStore({ root: resolve(path) }),
      };
    }
    case "s3":
      return builtBackend(createS3Store({ ...(await s3OptionsFromStowConfig(stowConfig)), ...timeouts(storage) }), baseContainerReference);
    case "google":
      return builtBackend(createGcsStore({ ...gcsStoreOptionsFromStowConfig(stowConfig), ...timeouts(storage) }), baseContainerReference);
    case "azure":
      return builtBackend(createAzureStore({ ...azureOptionsFromStowConfig(stowConfig, field), ...timeouts(storage) }), baseContainerReference);
    case "redis": {
      const redis = schemeConfig?.redis ?? storage.redis;
      const options = { ...redisStoreOptionsFromFlyte(redis, schemeConfig?.redis ? `storage.schemes.${scheme}.redis` : "storage.redis"), ...timeouts(storage) };
      // Flyte's base container reference for Redis is redis://<addr>.
      return builtBackend(createRedisStore(options), redis.addr ? `redis://${redis.addr}` : "");
    }
    default:
      throw new StowdError("INVALID_ARGUMENT", `storage: no backend of kind "${kind}" for ${scheme}:// is available (kinds: s3, google, azure, local, mem, redis)`, {});
  }
}

/** `defaultHttpClient.timeout` bounds each backend attempt, as Flyte's HTTP client timeout bounded each request. */
function timeouts(storage: StorageConfig): { retry?: Partial<RetryPolicy> } {
  const ms = storage.defaultHttpClient.timeoutMs;
  return ms > 0 ? { retry: { attemptTimeoutMs: ms } } : {};
}
