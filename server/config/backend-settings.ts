// Which backend serves which scheme, with which settings, from a Flyte storage
// block: the primary store chosen by `type` (and `stow.kind`), every
// `schemes.<scheme>` entry, and `redis://` when `redis.addr` is set. Nothing
// else is reachable: unlike Flyte, a scheme that is not configured is refused
// instead of being dialled with ambient credentials or sent to the primary
// store. The loader checks each backend's values from this list; the
// assembly builds the backends from it.
import { StowdError } from "../../common/errors.js";
import type { RedisConfig, StorageConfig } from "./config.js";
import { legacyS3ConfigMap } from "./legacy-connection.js";
import { backendKindOf, KIND_SCHEMES, primaryScheme, STOW_KINDS, type BackendKind, type StowKind } from "./stow-names.js";

export interface BackendSettings {
  scheme: string;
  /** undefined: the entry names a kind stowd has no backend for (only a config built in code can). */
  kind: BackendKind | undefined;
  /** The kind as given, for the message that refuses it. */
  givenKind: string;
  /** stow.config of a stow kind (stow's key names); {} for mem and redis. */
  stowConfig: Record<string, string>;
  /** The redis block (kind redis). */
  redis: RedisConfig;
  /** Key path of the settings block, for messages: storage.stow.config, storage.schemes.gs.config, storage.redis, ... */
  field: string;
  /** Flyte's base container reference: `<scheme>://<container>` for the init container's scheme, `redis://<addr>` for Redis, else "". */
  baseContainerReference: string;
}

export interface ConfiguredSchemes {
  /** The scheme of the primary store (Flyte's `type`). */
  primaryScheme: string;
  /** In the order Flyte reads them: the primary store, then `schemes.*`, then a redis block of its own. */
  backends: BackendSettings[];
}

export function configuredSchemes(storage: StorageConfig): ConfiguredSchemes {
  const primary = primaryScheme(storage.type, storage.stow.kind as StowKind);
  if (primary === undefined) {
    throw new StowdError("INVALID_ARGUMENT", `storage.stow.kind: "${storage.stow.kind}" is not one of ${STOW_KINDS.join(", ")}`, {});
  }
  const backends = [
    settingsOf(
      storage,
      primary,
      "",
      { config: primaryConfig(storage), field: "storage.stow.config" },
      { config: storage.redis, field: "storage.redis" },
    ),
  ];
  for (const [scheme, entry] of Object.entries(storage.schemes)) {
    const redis =
      entry.redis === undefined
        ? { config: storage.redis, field: "storage.redis" }
        : { config: entry.redis, field: `storage.schemes.${scheme}.redis` };
    backends.push(settingsOf(storage, scheme, entry.kind, { config: entry.config, field: `storage.schemes.${scheme}.config` }, redis));
  }
  if (!backends.some((b) => b.scheme === "redis") && (storage.redis.addr !== "" || storage.redis.cluster.length > 0)) {
    backends.push(
      settingsOf(storage, "redis", "", { config: {}, field: "storage.redis" }, { config: storage.redis, field: "storage.redis" }),
    );
  }
  return { primaryScheme: primary, backends };
}

/** A settings block and its key path. */
interface Block<T> {
  config: T;
  field: string;
}

/** One scheme's backend: its stow.config block serves a stow kind, its redis block the redis kind. */
function settingsOf(
  storage: StorageConfig,
  scheme: string,
  givenKind: string,
  stow: Block<Record<string, string>>,
  redis: Block<RedisConfig>,
): BackendSettings {
  const kind = backendKindOf(scheme, givenKind);
  const base = { scheme, kind, givenKind };
  if (kind === "redis") {
    // Flyte's base container reference for Redis is redis://<addr>.
    return {
      ...base,
      stowConfig: {},
      redis: redis.config,
      field: redis.field,
      baseContainerReference: redis.config.addr ? `redis://${redis.config.addr}` : "",
    };
  }
  const ownScheme = kind === undefined || kind === "mem" ? undefined : KIND_SCHEMES[kind];
  const baseContainerReference = storage.container !== "" && scheme === ownScheme ? `${scheme}://${storage.container}` : "";
  return { ...base, stowConfig: stow.config, redis: redis.config, field: stow.field, baseContainerReference };
}

/** The primary store's stow.config: stow's map, or v1's legacy `connection` block for S3 (in a config built in code; the loader has translated it already). */
function primaryConfig(storage: StorageConfig): Record<string, string> {
  const usesLegacy =
    (storage.type === "s3" || storage.type === "minio") && (storage.stow.kind === "" || Object.keys(storage.stow.config).length === 0);
  return usesLegacy ? legacyS3ConfigMap(storage.connection) : storage.stow.config;
}
