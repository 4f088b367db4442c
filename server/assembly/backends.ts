// The backend of every configured scheme (config/backend-settings.ts says
// which), each built from its settings by the backend's own option parser
// and factory. Clients are made now; they dial nothing until first used.
// A backend's module (and its SDK) is imported only when a scheme uses it:
// the AWS, Azure and Google SDKs together made the heap of a daemon on local
// disk about 5× larger, and every full garbage collection walked them.
import type { StorageConfig } from "../config/config.js";
import { configuredSchemes, type BackendSettings } from "../config/backend-settings.js";
import type { BackendKind } from "../config/stow-names.js";
import { builtBackend, type Backend } from "../decorators/scheme-router.js";
import { StowdError } from "../../common/errors.js";
import { azureOptionsFromStowConfig } from "../stores/azure/config.js";
import { gcsStoreOptionsFromStowConfig } from "../stores/gcs/config.js";
import type { RetryPolicy } from "../stores/kit/retry.js";
import { localOptionsFromStowConfig } from "../stores/local/config.js";
import { createLocalStore, localIdentity, localStoreCapabilities } from "../stores/local/index.js";
import { createMemoryStore } from "../stores/memory/index.js";
import { redisStoreOptionsFromFlyte } from "../stores/redis/config.js";
import type { DaemonUrlSigner } from "../stores/raw-store.js";
import { s3OptionsFromStowConfig } from "../stores/s3/config.js";

export interface ConfiguredBackends {
  /** The scheme of the primary store (Flyte's `type`). */
  primaryScheme: string;
  backends: Record<string, Backend>;
}

/** `urlSigner`: signs the URLs the daemon serves for file://, mem:// and redis:// (server.signedUrls); absent = none. */
export async function configuredBackends(storage: StorageConfig, urlSigner?: DaemonUrlSigner): Promise<ConfiguredBackends> {
  const { primaryScheme, backends: settings } = configuredSchemes(storage);
  const backends: Record<string, Backend> = {};
  for (const backend of settings) backends[backend.scheme] = await backendOf(backend, storage, urlSigner);
  // abfs and abfss name the same service: both get the configured account
  // (Flyte dialled abfss with ambient credentials).
  if (backends.abfs !== undefined && backends.abfss === undefined) backends.abfss = backends.abfs;
  if (backends.abfss !== undefined && backends.abfs === undefined) backends.abfs = backends.abfss;
  return { primaryScheme, backends };
}

type Build = (settings: BackendSettings, storage: StorageConfig, urlSigner: DaemonUrlSigner | undefined) => Backend | Promise<Backend>;

const builders: Record<BackendKind, Build> = {
  mem: (_b, _storage, urlSigner) => builtBackend(createMemoryStore(urlSigner === undefined ? {} : { urlSigner }), ""),
  local: (b, _storage, urlSigner) => {
    const options = { ...localOptionsFromStowConfig(b.stowConfig, b.scheme), ...(urlSigner === undefined ? {} : { urlSigner }) };
    // createLocalStore creates the root directory: left to the first call, as other backends dial on first use.
    return {
      kind: "local",
      capabilities: localStoreCapabilities(options),
      baseContainerReference: b.baseContainerReference,
      identity: localIdentity,
      create: () => createLocalStore(options),
    };
  },
  s3: async (b, storage) => {
    const { createS3Store } = await import("../stores/s3/index.js");
    return builtBackend(
      createS3Store({ ...(await s3OptionsFromStowConfig(b.stowConfig)), ...timeouts(storage) }),
      b.baseContainerReference,
    );
  },
  google: async (b, storage) => {
    const { createGcsStore } = await import("../stores/gcs/index.js");
    return builtBackend(createGcsStore({ ...gcsStoreOptionsFromStowConfig(b.stowConfig), ...timeouts(storage) }), b.baseContainerReference);
  },
  azure: async (b, storage) => {
    const { createAzureStore } = await import("../stores/azure/index.js");
    return builtBackend(
      createAzureStore({ ...azureOptionsFromStowConfig(b.stowConfig, b.field), ...timeouts(storage) }),
      b.baseContainerReference,
    );
  },
  redis: async (b, storage, urlSigner) => {
    const { createRedisStore } = await import("../stores/redis/index.js");
    return builtBackend(
      createRedisStore({
        ...redisStoreOptionsFromFlyte(b.redis, b.field),
        ...timeouts(storage),
        ...(urlSigner === undefined ? {} : { urlSigner }),
      }),
      b.baseContainerReference,
    );
  },
};

async function backendOf(settings: BackendSettings, storage: StorageConfig, urlSigner: DaemonUrlSigner | undefined): Promise<Backend> {
  if (settings.kind === undefined) {
    throw new StowdError(
      "INVALID_ARGUMENT",
      `storage: no backend of kind "${settings.givenKind}" for ${settings.scheme}:// is available (kinds: s3, google, azure, local, mem, redis)`,
      {},
    );
  }
  return builders[settings.kind](settings, storage, urlSigner);
}

/** `defaultHttpClient.timeout` bounds each backend attempt, as Flyte's HTTP client timeout bounded each request. */
function timeouts(storage: StorageConfig): { retry?: Partial<RetryPolicy> } {
  const ms = storage.defaultHttpClient.timeoutMs;
  return ms > 0 ? { retry: { attemptTimeoutMs: ms } } : {};
}
