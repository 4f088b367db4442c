// server.console: the web console at /console on the HTTP port
// (server/console/). On by default, because it can do nothing the HTTP port's
// RPCs do not already allow; but with no authentication on an address other
// machines reach, serving a ready-made UI for everything stored is a step
// nobody should take by accident, so then it is off unless enabled, and
// enabling it needs --insecure like the other exposure checks.
import type { ConsoleConfig, ServerConfig } from "./config.js";
import { isLoopbackAddress } from "./loopback.js";
import { isAuthenticated } from "./security-config.js";
import { boolKind } from "./value-kinds.js";
import type { MapReader } from "./yaml-reader.js";

/** server.console as the file gives it: `enabled`, or undefined when left out (consoleEnabled applies the default). */
export function readConsoleSection(r: MapReader): ConsoleConfig | undefined {
  const enabled = r.optional("enabled", boolKind);
  r.finish();
  return enabled === undefined ? undefined : { enabled };
}

/** Whether anyone beyond this machine can reach the HTTP port without proving who they are. */
function exposedWithoutAuth(server: ServerConfig): boolean {
  return !isAuthenticated(server) && !isLoopbackAddress(server.httpAddress);
}

/** Whether the daemon serves the console, once env vars and flags are applied: as given, else on unless exposed without authentication. */
export function consoleEnabled(server: ServerConfig): boolean {
  return server.console?.enabled ?? !exposedWithoutAuth(server);
}

/**
 * An explicitly enabled console on a non-loopback HTTP address with no
 * authentication: refused unless --insecure, like the listener itself.
 */
export function checkConsoleExposure(server: ServerConfig, warn: (message: string) => void): string | undefined {
  if (server.console?.enabled !== true || !exposedWithoutAuth(server)) return undefined;
  const risk = `the console lets anyone who can reach ${server.httpAddress} browse, download, upload and delete everything stowd serves, and the daemon has no authentication (server.auth.tokenFile, STOWD_AUTH_TOKEN or server.tls.clientCaFile)`;
  if (server.insecure === true) {
    warn(`insecure: server.console.enabled: ${risk}; serving it anyway because of --insecure`);
    return undefined;
  }
  return `${risk}: configure authentication, bind server.httpAddress to loopback, remove server.console.enabled, or pass --insecure (STOWD_INSECURE=true, server.insecure: true) to serve it anyway`;
}
