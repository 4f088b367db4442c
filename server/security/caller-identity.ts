// Who made a call, for its access log line (server/calls/call-log.ts): the
// authenticated principal and how it proved itself (a token, a client
// certificate); with auth off, a verified client certificate still names the
// caller, by its CN or else its first subjectAltName.
import type { HandlerContext } from "@connectrpc/connect";
import type { CallerIdentity } from "../calls/call-log.js";
import { CALLER } from "./caller.js";
import { PEER_IDENTITY, type PeerIdentity } from "./peer-identity.js";

export function callerIdentityOf(ctx: HandlerContext): CallerIdentity | undefined {
  const principal = ctx.values.get(CALLER);
  if (principal !== undefined) return { name: principal.name, via: principal.via };
  const peer = ctx.values.get(PEER_IDENTITY);
  return peer === undefined ? undefined : certificateIdentity(peer);
}

/** A verified client certificate as a caller: its CN, or its first subjectAltName ("DNS:host", "URI:spiffe://…"). */
export function certificateIdentity(peer: PeerIdentity): CallerIdentity | undefined {
  const name = peer.commonName !== "" ? peer.commonName : peer.subjectAltNames[0];
  return name === undefined ? undefined : { name, via: "client certificate" };
}
