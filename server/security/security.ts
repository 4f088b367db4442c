// Assembles transport security and authorization for the daemon from
// server.tls and server.auth: the reloadable TLS material both listeners
// use, the call pipeline's stage that authorizes every call of every
// service, and the reload (SIGHUP) of certificates and the token file.
import type { Authorization } from "../calls/call-pipeline.js";
import type { AuthConfig, TlsConfig } from "../config/config.js";
import { log } from "../observability/log.js";
import { StowdError } from "../../common/errors.js";
import { authenticate, credentialsOf, type Credentials, type Principal } from "./authenticate.js";
import type { PeerIdentity } from "./peer-identity.js";
import { createAuthorization } from "./authorize.js";
import { createReloadableTls, type ReloadableTls } from "./reloadable-tls.js";
import { loadTokenFile } from "./token-file.js";

export interface SecurityOptions {
  tls?: TlsConfig | undefined;
  auth?: AuthConfig | undefined;
}

export interface Security {
  /** Present when server.tls is configured. */
  tls: ReloadableTls | undefined;
  /** Whether calls are authorized (a token file or STOWD_AUTH_TOKEN is configured). */
  authEnabled: boolean;
  /**
   * Authenticates a request from its headers alone, before its body is read:
   * the caller, the UNAUTHENTICATED error, or undefined when auth is off.
   */
  authenticateHeaders(authorization: string | null, peer: PeerIdentity | undefined): Principal | StowdError | undefined;
  /**
   * The token or client of that name in the credentials in force now (after
   * the last SIGHUP reload), or undefined: a daemon-signed URL re-checks its
   * signer's grants when it is used (server/signed-urls/).
   */
  principalNamed(name: string): Principal | undefined;
  /** The call pipeline's authorization stage; undefined when auth is off. */
  authorization: Authorization | undefined;
  /**
   * Re-reads the certificate files and the token file. What fails to load is
   * logged and rejected as a whole (the old one stays in force); the promise
   * rejects when anything failed.
   */
  reload(): Promise<void>;
  /** Fields for the startup log line. */
  describe(): Record<string, string>;
}

export async function createSecurity(options: SecurityOptions): Promise<Security> {
  const tls = options.tls === undefined ? undefined : await createReloadableTls(options.tls);
  const { tokenFile, token } = options.auth ?? {};
  const authEnabled = tokenFile !== undefined || token !== undefined;
  let credentials: Credentials = credentialsOf(tokenFile === undefined ? undefined : await loadTokenFile(tokenFile), token);

  return {
    tls,
    authEnabled,
    authenticateHeaders(authorization, peer) {
      if (!authEnabled) return undefined;
      try {
        return authenticate(credentials, authorization, peer);
      } catch (err) {
        if (err instanceof StowdError) return err;
        throw err;
      }
    },
    principalNamed(name) {
      const token = credentials.tokens.find((t) => t.name === name);
      if (token !== undefined) return { name, via: "token", grants: token.grants };
      const client = credentials.clients.find((c) => c.name === name);
      return client === undefined ? undefined : { name, via: "client certificate", grants: client.grants };
    },
    authorization: authEnabled ? createAuthorization({ credentials: () => credentials }) : undefined,
    async reload() {
      const failures: unknown[] = [];
      if (tls !== undefined) {
        try {
          await tls.reload();
          log("info", "reloaded TLS certificates", {
            certFile: tls.config.certFile,
            ...(tls.config.clientCaFile === undefined ? {} : { clientCaFile: tls.config.clientCaFile }),
          });
        } catch (err) {
          failures.push(err);
          log("error", "TLS reload failed; the previous certificates stay in force", {
            err: err instanceof Error ? err.message : String(err),
          });
        }
      }
      if (tokenFile !== undefined) {
        try {
          credentials = credentialsOf(await loadTokenFile(tokenFile), token);
          log("info", "reloaded token file", { tokenFile, tokens: credentials.tokens.length, clients: credentials.clients.length });
        } catch (err) {
          failures.push(err);
          log("error", "token file reload failed; the previous tokens stay in force", {
            err: err instanceof Error ? err.message : String(err),
          });
        }
      }
      if (failures.length > 0) throw failures.length === 1 ? failures[0] : new AggregateError(failures, "reload failed");
    },
    describe: () => ({
      tls: tls === undefined ? "off" : tls.mutual ? "mutual" : "on",
      auth: authEnabled ? `${credentials.tokens.length} tokens, ${credentials.clients.length} client identities` : "off",
    }),
  };
}
