// How the CLI reaches the daemon: the address, the bearer token and the TLS
// files from the global flags or their env vars, turned into the SDK
// client's options. A TLS flag makes a bare host:port https://, since a CA
// or a client certificate only means something over TLS.
import { readFile } from "node:fs/promises";
import type { StowdClientOptions, StowdTlsOptions } from "../client/index.js";
import { nonEmpty } from "../common/env-value.js";
import { errnoCode } from "../common/fs-errors.js";
import type { FlagValues } from "./command.js";
import { stringFlag } from "./command.js";
import { baseUrlOf } from "./global-options.js";
import { UsageError } from "./usage-error.js";

export interface Connection {
  /** The daemon's base URL (http:// or https://), for the client and for messages. */
  baseUrl: string;
  client: Pick<StowdClientOptions, "baseUrl" | "token" | "tls">;
}

/** A flag's value, else its env var's (empty = unset), with the name to blame in messages. */
function setting(flags: FlagValues, env: NodeJS.ProcessEnv, flag: string, envName: string): { value: string; name: string } | undefined {
  const fromFlag = stringFlag(flags, flag);
  if (fromFlag !== undefined) return { value: fromFlag, name: `--${flag}` };
  const fromEnv = nonEmpty(env[envName]);
  return fromEnv === undefined ? undefined : { value: fromEnv, name: envName };
}

async function readPem(file: { value: string; name: string }): Promise<Buffer> {
  try {
    return await readFile(file.value);
  } catch (err) {
    throw new UsageError(`${file.name} ${JSON.stringify(file.value)} cannot be read (${errnoCode(err) ?? String(err)})`);
  }
}

export async function connectionOf(flags: FlagValues, env: NodeJS.ProcessEnv): Promise<Connection> {
  const token = setting(flags, env, "token", "STOWD_TOKEN");
  const ca = setting(flags, env, "ca-file", "STOWD_CA_FILE");
  const cert = setting(flags, env, "cert-file", "STOWD_CERT_FILE");
  const key = setting(flags, env, "key-file", "STOWD_KEY_FILE");
  if ((cert === undefined) !== (key === undefined)) {
    const given = cert ?? key!;
    throw new UsageError(
      `${given.name} needs ${cert === undefined ? "--cert-file (STOWD_CERT_FILE)" : "--key-file (STOWD_KEY_FILE)"} too: a client certificate and its key go together`,
    );
  }
  // A header value cannot hold a newline, and a stray space is a copy-paste slip; never echo the token.
  if (token !== undefined && /\s/.test(token.value)) throw new UsageError(`${token.name} contains whitespace; give the token alone`);

  const tlsFlag = ca ?? cert;
  const baseUrl = baseUrlOf(setting(flags, env, "address", "STOWD_ADDRESS")?.value, tlsFlag === undefined ? "http" : "https");
  if (tlsFlag !== undefined && baseUrl.startsWith("http:")) {
    throw new UsageError(`${tlsFlag.name} applies to TLS, but the address is ${baseUrl}: give https://host:port (or host:port)`);
  }
  const tls: StowdTlsOptions = {};
  if (ca !== undefined) tls.ca = await readPem(ca);
  if (cert !== undefined && key !== undefined) [tls.cert, tls.key] = await Promise.all([readPem(cert), readPem(key)]);
  return {
    baseUrl,
    client: {
      baseUrl,
      ...(token === undefined ? {} : { token: token.value }),
      ...(Object.keys(tls).length === 0 ? {} : { tls }),
    },
  };
}
