// Who is calling: a bearer token (`authorization: Bearer <token>`) looked up
// by its SHA-256 in constant time, else a verified client certificate named
// in the token file's clients. A token, when sent, decides: a wrong one is
// refused even if the certificate would have been accepted.
import { createHash, timingSafeEqual } from "node:crypto";
import { StowdError } from "../../common/errors.js";
import { ALL_GRANTS, type Grant } from "./grants.js";
import type { PeerIdentity } from "./peer-identity.js";
import type { ClientEntry, TokenFile } from "./token-file.js";

export interface Principal {
  /** The token's or client's name from the token file; "STOWD_AUTH_TOKEN" for the env token. Never the token. */
  name: string;
  /** How it was authenticated. */
  via: "token" | "client certificate";
  grants: readonly Grant[];
}

export interface Credentials {
  tokens: Array<{ name: string; sha256: Buffer; grants: readonly Grant[] }>;
  clients: ClientEntry[];
}

/** The token file's entries plus STOWD_AUTH_TOKEN (every grant), if given. */
export function credentialsOf(file: TokenFile | undefined, envToken: string | undefined): Credentials {
  const tokens: Credentials["tokens"] = [...(file?.tokens ?? [])];
  if (envToken !== undefined) tokens.push({ name: "STOWD_AUTH_TOKEN", sha256: sha256(envToken), grants: ALL_GRANTS });
  return { tokens, clients: file?.clients ?? [] };
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

const HOW = "send the header `authorization: Bearer <token>`";

/** The principal of a call, or UNAUTHENTICATED saying what was missing. */
export function authenticate(credentials: Credentials, authorization: string | null, peer: PeerIdentity | undefined): Principal {
  if (authorization !== null) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (m === null) throw new StowdError("UNAUTHENTICATED", `the authorization header is not of the form "Bearer <token>"; ${HOW}`);
    const presented = sha256(m[1]!);
    // Compare with every entry, without stopping early, so timing says nothing about which (if any) matched.
    let found: Credentials["tokens"][number] | undefined;
    for (const entry of credentials.tokens) {
      if (timingSafeEqual(entry.sha256, presented) && found === undefined) found = entry;
    }
    if (found === undefined)
      throw new StowdError(
        "UNAUTHENTICATED",
        "the bearer token is not one this daemon accepts (its SHA-256 is not in the token file); check the token",
      );
    return { name: found.name, via: "token", grants: found.grants };
  }
  if (peer !== undefined) {
    const client = credentials.clients.find((c) =>
      c.commonName !== undefined ? c.commonName === peer.commonName : peer.subjectAltNames.includes(c.subjectAltName ?? ""),
    );
    if (client !== undefined) return { name: client.name, via: "client certificate", grants: client.grants };
    throw new StowdError(
      "UNAUTHENTICATED",
      `the client certificate (CN=${JSON.stringify(peer.commonName)}) matches no clients: entry in the token file; ${HOW}, or add the certificate's commonName or subjectAltName to clients:`,
    );
  }
  throw new StowdError(
    "UNAUTHENTICATED",
    `this daemon requires authentication; ${HOW}${credentials.clients.length > 0 ? " or present a client certificate listed in the token file" : ""}`,
  );
}
