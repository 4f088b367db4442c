// The config keys of transport security and authorization (server.tls,
// server.auth, server.insecure, STOWD_AUTH_TOKEN, --insecure), read with the
// same reader and value kinds as the rest of the config, and the guard that
// refuses to expose a listener beyond loopback without TLS and authentication.
import type { AuthConfig, ServerConfig, TlsConfig } from "./config.js";
import type { ConfigProblem } from "./config-error.js";
import { boolKind, type ValueKind } from "./value-kinds.js";
import type { MapReader } from "./yaml-reader.js";
import { isLoopbackAddress } from "./loopback.js";

const fileKind: ValueKind<string> = { expected: "a file path", parse: (v) => (typeof v === "string" && v !== "" ? v : undefined) };

/** server.tls: certFile + keyFile (both or neither), clientCaFile only with them. */
export function readTlsSection(r: MapReader): TlsConfig | undefined {
  const certFile = r.optional("certFile", fileKind);
  const keyFile = r.optional("keyFile", fileKind);
  const clientCaFile = r.optional("clientCaFile", fileKind);
  r.finish();
  if (certFile !== undefined && keyFile === undefined) r.problem("certFile", "needs keyFile too (the PEM private key of this certificate)");
  if (keyFile !== undefined && certFile === undefined) r.problem("keyFile", "needs certFile too (the PEM certificate chain of this key)");
  if (clientCaFile !== undefined && certFile === undefined)
    r.problem("clientCaFile", "mutual TLS needs TLS: give certFile and keyFile too");
  if (certFile === undefined || keyFile === undefined) return undefined;
  return { certFile, keyFile, ...(clientCaFile === undefined ? {} : { clientCaFile }) };
}

/** server.auth: tokenFile. The single-token env var is applied with the overrides. */
export function readAuthSection(r: MapReader): AuthConfig | undefined {
  const tokenFile = r.optional("tokenFile", fileKind);
  r.finish();
  return tokenFile === undefined ? undefined : { tokenFile };
}

export function readInsecure(r: MapReader): boolean {
  return r.scalar("insecure", boolKind, false);
}

/** STOWD_AUTH_TOKEN (one token with every grant) and --insecure / STOWD_INSECURE. */
export function applySecurityOverrides(
  server: ServerConfig,
  insecureFlag: boolean,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
): void {
  const token = env.STOWD_AUTH_TOKEN;
  if (token !== undefined && token !== "") {
    if (token.length < 16 || /\s/.test(token)) {
      // Never echo the value: it is a secret even when it is a bad one.
      problems.push({
        path: "STOWD_AUTH_TOKEN",
        message: "must be at least 16 characters with no whitespace (e.g. the output of `openssl rand -hex 32`)",
      });
    } else {
      server.auth = { ...server.auth, token };
    }
  }
  const insecureEnv = env.STOWD_INSECURE;
  if (insecureFlag) server.insecure = true;
  else if (insecureEnv !== undefined && insecureEnv !== "") {
    const value = boolKind.parse(insecureEnv, insecureEnv);
    if (value === undefined)
      problems.push({ path: "STOWD_INSECURE", message: `${JSON.stringify(insecureEnv)} is not ${boolKind.expected}` });
    else server.insecure = value;
  }
}

/**
 * A listener on a non-loopback address must have TLS and authentication
 * (bearer tokens, or client certificates via mutual TLS), unless --insecure
 * says otherwise: tokens in cleartext can be sniffed, and TLS without
 * authentication serves everyone.
 */
export function checkExposure(server: ServerConfig, warn: (message: string) => void): ConfigProblem[] {
  const exposed = (
    [
      ["server.grpcAddress", server.grpcAddress],
      ["server.httpAddress", server.httpAddress],
    ] as const
  ).filter(([, address]) => !isLoopbackAddress(address));
  if (exposed.length === 0) return [];
  const missing: string[] = [];
  if (server.tls === undefined) missing.push("no TLS (server.tls.certFile and keyFile)");
  if (!isAuthenticated(server)) missing.push("no authentication (server.auth.tokenFile, STOWD_AUTH_TOKEN or server.tls.clientCaFile)");
  if (missing.length === 0) return [];
  const [path, address] = exposed[0]!;
  if (server.insecure === true) {
    warn(
      `insecure: ${path} ${address} is not a loopback address and the daemon has ${missing.join(" and ")}; serving anyway because of --insecure`,
    );
    return [];
  }
  return [
    {
      path,
      message: `${address} is not a loopback address and the daemon has ${missing.join(" and ")}; configure them, or pass --insecure (STOWD_INSECURE=true, server.insecure: true) to serve it anyway`,
    },
  ];
}

/** Whether callers must prove who they are: bearer tokens (a token file or STOWD_AUTH_TOKEN) or client certificates. */
export function isAuthenticated(server: ServerConfig): boolean {
  return server.auth?.tokenFile !== undefined || server.auth?.token !== undefined || server.tls?.clientCaFile !== undefined;
}
