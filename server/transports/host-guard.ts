// The HTTP port of a daemon that listens on loopback with auth off answers
// only requests addressed to a loopback name (an IP literal, `localhost`) or
// a name in server.allowedHosts. Without this check a web page could use DNS
// rebinding (its own name re-pointed at 127.0.0.1) to make same-origin calls
// to the daemon, and so to the console and every stored object, whatever the
// CORS settings. With auth on, such a page has no token; a non-loopback bind
// without auth is already an explicit --insecure choice.
import { isIP } from "node:net";

/** Why a request's Host (or :authority) is refused, or undefined when it may be served. */
export type HostGuard = (host: string | undefined) => string | undefined;

/** Accepts IP literals, `localhost`, `*.localhost` and `allowedHosts` (names without a port, any case). */
export function createHostGuard(allowedHosts: readonly string[]): HostGuard {
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  return (host) => {
    if (host === undefined || host === "") return undefined; // HTTP/1.0 clients send none; no browser omits it
    const name = hostName(host).toLowerCase();
    if (isIP(name) !== 0 || name === "localhost" || name.endsWith(".localhost") || allowed.has(name)) return undefined;
    return (
      `Host ${JSON.stringify(host)} is not a name of this daemon: it listens on loopback with auth off, so it only answers ` +
      `requests addressed to localhost or an IP address (a web page may be using DNS rebinding to reach it). If you reach ` +
      `stowd through this name (e.g. a reverse proxy), add ${JSON.stringify(name)} to server.allowedHosts.`
    );
  };
}

/** The name part of a Host header: `[::1]:8081` → `::1`, `example.com:80` → `example.com`. */
function hostName(host: string): string {
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]") < 0 ? undefined : host.indexOf("]"));
  const colon = host.lastIndexOf(":");
  return colon < 0 ? host : host.slice(0, colon);
}
