// Flyte's azure `stow.config` keys (stow's azure driver, exact and
// case-sensitive) mapped to AzureStoreOptions: `account`, `key`,
// `domain_suffix`, `upload_concurrency`, and the deprecated `base_url`, which
// stow reads as the domain suffix when `domain_suffix` is unset. `endpoint`
// is stowd's own addition for emulators and private endpoints (stow always
// builds https://<account>.blob.<domain_suffix>). An unknown key or a bad
// value is an error naming the key.
import { StowdError } from "../../../common/errors.js";
import type { RetryPolicy } from "../kit/retry.js";

/** What createAzureStore takes: built from `stow.config` below, or given directly. */
export interface AzureStoreOptions {
  /** Storage account name. */
  account: string;
  /** Shared key (base64). Without it requests are anonymous and URLs cannot be signed. */
  key?: string;
  /**
   * Blob service URL; default `https://<account>.blob.<domainSuffix>`. For
   * azurite: `http://127.0.0.1:PORT/devstoreaccount1`.
   */
  endpoint?: string;
  /** Default "core.windows.net" (the public cloud). */
  domainSuffix?: string;
  /** Retries and timeouts of every backend call; unset fields keep defaultRetryPolicy. */
  retry?: Partial<RetryPolicy>;
  /** Bytes per staged block, and the largest body sent in one Put Blob call; default 8 MiB. */
  blockSizeBytes?: number;
  /** Blocks staged at once per upload; default 4 (stow's upload_concurrency default). */
  blockConcurrency?: number;
  /**
   * Sources up to this size are copied with one synchronous Copy Blob From
   * URL; larger ones with an asynchronous Copy Blob that is polled. Default
   * 256 MiB, Azure's limit for the synchronous copy.
   */
  syncCopyMaxBytes?: number;
  /** Poll interval of an asynchronous copy; default 500 ms. */
  copyPollIntervalMs?: number;
}

/** stow's azure keys, plus stowd's endpoint. */
export const AZURE_STOW_KEYS = ["account", "key", "domain_suffix", "upload_concurrency", "base_url", "endpoint"] as const;

/** What a stow.config map may hold after YAML parsing. */
export type StowConfigValue = string | number | boolean | null | undefined;

function invalid(field: string, why: string): StowdError {
  return new StowdError("INVALID_ARGUMENT", `${field}: ${why}`, { field, backend: "azure" });
}

function text(config: Record<string, StowConfigValue>, key: string, field: string): string | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") throw invalid(`${field}.${key}`, `expected a string, got ${String(value)}`);
  const s = String(value).trim();
  return s === "" ? undefined : s;
}

/**
 * Options for createAzureStore from a Flyte `storage.stow.config` block of
 * kind azure. `field` names the block in errors.
 */
export function azureOptionsFromStowConfig(config: Record<string, StowConfigValue>, field = "storage.stow.config"): AzureStoreOptions {
  for (const key of Object.keys(config)) {
    if (!(AZURE_STOW_KEYS as readonly string[]).includes(key)) {
      throw invalid(`${field}.${key}`, `unknown key for stow kind azure; expected one of ${AZURE_STOW_KEYS.join(", ")}`);
    }
  }
  const account = text(config, "account", field);
  if (account === undefined)
    throw invalid(`${field}.account`, "the storage account name is required for stow kind azure (stow: missing account id)");
  if (!/^[a-z0-9]{3,24}$/.test(account))
    throw invalid(
      `${field}.account`,
      `${JSON.stringify(account)} is not an Azure storage account name (3-24 lowercase letters and digits)`,
    );
  const options: AzureStoreOptions = { account };
  const key = text(config, "key", field);
  if (key !== undefined) options.key = key;
  // stow: domain_suffix, else the deprecated base_url, else the public cloud.
  const domainSuffix = text(config, "domain_suffix", field) ?? text(config, "base_url", field);
  if (domainSuffix !== undefined) {
    if (!/^[A-Za-z0-9.-]+(:[0-9]+)?$/.test(domainSuffix))
      throw invalid(`${field}.domain_suffix`, `${JSON.stringify(domainSuffix)} is not a domain suffix such as core.windows.net`);
    options.domainSuffix = domainSuffix;
  }
  const concurrency = text(config, "upload_concurrency", field);
  if (concurrency !== undefined) {
    const n = Number(concurrency);
    if (!/^[0-9]+$/.test(concurrency) || !Number.isSafeInteger(n) || n < 1 || n > 64) {
      throw invalid(
        `${field}.upload_concurrency`,
        `${JSON.stringify(concurrency)} is not a whole number from 1 to 64 (stow: invalid upload concurrency)`,
      );
    }
    options.blockConcurrency = n;
  }
  const endpoint = text(config, "endpoint", field);
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw invalid(`${field}.endpoint`, `${JSON.stringify(endpoint)} is not a URL such as http://127.0.0.1:10000/devstoreaccount1`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw invalid(`${field}.endpoint`, `${JSON.stringify(endpoint)} must be an http or https URL`);
    if (url.search !== "" || url.username !== "" || url.password !== "") {
      throw invalid(`${field}.endpoint`, "must not carry a query or credentials; give the account key as key");
    }
    options.endpoint = endpoint;
  }
  return options;
}
