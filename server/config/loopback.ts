// Whether a listen address only accepts connections from this machine.
import { isIPv4, isIPv6 } from "node:net";

/** host:port with a loopback host: 127.0.0.0/8, ::1 (also as ::ffff:127.x) or "localhost". 0.0.0.0, :: and other names are not. */
export function isLoopbackAddress(address: string): boolean {
  const host = hostOfAddress(address).toLowerCase();
  if (host === "localhost") return true;
  if (isIPv4(host)) return host.startsWith("127.");
  if (isIPv6(host)) {
    if (host === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(host)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    return mapped !== null && mapped[1]!.startsWith("127.");
  }
  return false;
}

/** The host of a host:port listen address, without IPv6 brackets. */
export function hostOfAddress(address: string): string {
  const colon = address.lastIndexOf(":");
  return (colon < 0 ? address : address.slice(0, colon)).replace(/^\[|\]$/g, "");
}

/** Whether a listen host accepts connections on every address (0.0.0.0, ::, or no host). */
export function isWildcardHost(host: string): boolean {
  return host === "" || host === "0.0.0.0" || (isIPv6(host) && /^[0:]+$/.test(host));
}
