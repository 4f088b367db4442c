// The local backend's one stow.config key, `path`: the directory holding the
// containers of file://. Resolved against the working directory here, once,
// so a later chdir cannot move the store.
import type { DaemonUrlSigner } from "../raw-store.js";
import { resolve } from "node:path";
import { StowdError } from "../../../common/errors.js";

export interface LocalStoreOptions {
  /** Directory holding the containers; created when missing. */
  root: string;
  /**
   * Bound, in estimated bytes, of the cache of sorted directory listings that
   * List pages resume from (default 64 MiB: a directory of about a million
   * short names). A larger directory is read and sorted again for every page.
   */
  listingCacheBytes?: number;
  /** Signs the URLs the daemon serves for this store (server/signed-urls/); absent = no signed URLs. */
  urlSigner?: DaemonUrlSigner;
}

/** The stow.config keys of kind local. */
export const LOCAL_STOW_KEYS = ["path"] as const;

/** Store options from a `stow.config` of kind local serving `scheme`; a missing path is an error naming the scheme. */
export function localOptionsFromStowConfig(config: Readonly<Record<string, string>>, scheme: string): LocalStoreOptions {
  const path = config.path;
  if (!path)
    throw new StowdError("INVALID_ARGUMENT", `storage: the local backend for ${scheme}:// needs stow.config.path (the root directory)`, {
      field: "stow.config.path",
      backend: "local",
    });
  return { root: resolve(path) };
}
