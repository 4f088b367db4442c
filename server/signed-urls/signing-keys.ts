// The keys in force for daemon-signed URLs (server.signedUrls): inline in the
// config, or from server.signedUrls.keyFile, which a SIGHUP re-reads (every
// worker of server.workers > 1 gets the signal from the primary and re-reads
// it itself). A key file that fails to load leaves the previous keys in force.
import type { SignedUrlConfig, SigningKey } from "../config/config.js";
import { loadSigningKeyFile } from "../config/signed-url-config.js";
import { log } from "../observability/log.js";

export interface SigningKeys {
  /** The first signs; every one verifies. Never empty. */
  current(): readonly SigningKey[];
  /** Re-reads the key file (nothing to do for inline keys); rejects, keeping the old keys, when it fails to load. */
  reload(): Promise<void>;
}

export async function loadSigningKeys(config: SignedUrlConfig): Promise<SigningKeys> {
  const { keyFile } = config;
  let keys: readonly SigningKey[] = keyFile === undefined ? config.keys : await loadSigningKeyFile(keyFile);
  return {
    current: () => keys,
    async reload() {
      if (keyFile === undefined) return;
      try {
        keys = await loadSigningKeyFile(keyFile);
        // Ids only: a secret never reaches a log line.
        log("info", "reloaded signed-URL keys", { keyFile, keyIds: keys.map((k) => k.id) });
      } catch (err) {
        log("error", "signed-URL key file reload failed; the previous keys stay in force", {
          err: err instanceof Error ? err.message : String(err),
        });
        throw err;
      }
    },
  };
}
