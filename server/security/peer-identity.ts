// The verified client certificate of a call (mutual TLS), as both transports
// hand it to the services: a connect context value, read by the authorizer.
import type { PeerCertificate, TLSSocket } from "node:tls";
import { createContextKey } from "@connectrpc/connect";

export interface PeerIdentity {
  /** The subject's CN, "" when it has none. */
  commonName: string;
  /** The subjectAltName entries as Node prints them: "DNS:host", "URI:spiffe://…". */
  subjectAltNames: string[];
}

/** Set on every call that arrived over a TLS connection whose client certificate the client CA verified. */
export const PEER_IDENTITY = createContextKey<PeerIdentity | undefined>(undefined, { description: "verified client certificate" });

/** The identity of a verified client certificate; undefined without one (or when verification failed). */
export function peerIdentityOf(socket: Pick<TLSSocket, "authorized" | "getPeerCertificate"> | undefined): PeerIdentity | undefined {
  if (socket === undefined || socket.authorized !== true) return undefined;
  return identityOfCertificate(socket.getPeerCertificate());
}

export function identityOfCertificate(cert: PeerCertificate | undefined): PeerIdentity | undefined {
  if (cert === undefined || cert.raw === undefined) return undefined;
  const cn = cert.subject?.CN;
  return {
    commonName: typeof cn === "string" ? cn : Array.isArray(cn) ? String(cn[0] ?? "") : "",
    subjectAltNames: (cert.subjectaltname ?? "")
      .split(", ")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  };
}
