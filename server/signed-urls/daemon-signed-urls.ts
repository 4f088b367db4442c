// Daemon-signed URLs as the daemon runs them (server.signedUrls): the keys
// (signing-keys.ts), the signer the stores sign with (url-signer.ts), and
// the base URL, from server.signedUrls.baseUrl or, without it, from the
// HTTP listener once it listens (its TLS, host and actual port: port 0
// picks one). main.ts builds it before the store tree, the daemon serves
// its route (signed-url-route.ts) and reloads its keys on SIGHUP.
import type { SignedUrlConfig } from "../config/config.js";
import { hostOfAddress } from "../config/loopback.js";
import { StowdError } from "../../common/errors.js";
import { loadSigningKeys } from "./signing-keys.js";
import { createUrlSigner, type UrlSigner } from "./url-signer.js";

export interface HttpListenerAddress {
  /** server.httpAddress as configured (host:port). */
  httpAddress: string;
  /** The port it listens on. */
  port: number;
  tls: boolean;
}

export interface DaemonSignedUrls {
  signer: UrlSigner;
  /** Tells the URLs where the HTTP port listens; ignored when server.signedUrls.baseUrl is set. */
  listening(address: HttpListenerAddress): void;
  /** SIGHUP: re-reads server.signedUrls.keyFile. */
  reload(): Promise<void>;
  /** Fields for the startup log line: key ids and the base URL, never a secret. */
  describe(): Record<string, string>;
}

export async function createDaemonSignedUrls(config: SignedUrlConfig): Promise<DaemonSignedUrls> {
  const keys = await loadSigningKeys(config);
  let baseUrl = config.baseUrl;
  return {
    signer: createUrlSigner({
      keys: () => keys.current(),
      baseUrl: () => {
        if (baseUrl === undefined) throw new StowdError("INTERNAL", "signed URLs were asked for before the HTTP port listened");
        return baseUrl;
      },
    }),
    listening(address) {
      if (config.baseUrl !== undefined) return;
      const host = hostOfAddress(address.httpAddress);
      baseUrl = `${address.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
    },
    reload: () => keys.reload(),
    describe: () => ({
      signedUrls: `${baseUrl ?? "(not listening)"} keys ${keys
        .current()
        .map((k) => k.id)
        .join(" ")}`,
    }),
  };
}
