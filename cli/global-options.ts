// Flags every client command takes, before or after the command name, and
// the env vars that stand in for --address, --token and the TLS files
// (cli/connection.ts reads them).
import { DEFAULT_BASE_URL } from "../client/index.js";
import type { FlagSpecs } from "./command.js";
import { UsageError } from "./usage-error.js";

export const GLOBAL_FLAGS: FlagSpecs = {
  address: { type: "string" },
  token: { type: "string" },
  "ca-file": { type: "string" },
  "cert-file": { type: "string" },
  "key-file": { type: "string" },
  json: { type: "boolean" },
  timeout: { type: "string" },
  "no-progress": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
};

export const GLOBAL_FLAG_HELP = `global options (before or after the command):
  --address ADDR       the daemon's gRPC port: host:port, http://host:port or https://host:port
                       (env STOWD_ADDRESS; default 127.0.0.1:50051, the daemon's default)
  --token TOKEN        bearer token for a daemon with auth on (server.auth, STOWD_AUTH_TOKEN);
                       prefer env STOWD_TOKEN: other users can see a flag in ps
  --ca-file FILE       PEM CA that signed the daemon's TLS certificate (env STOWD_CA_FILE;
                       default: the system CAs); host:port then means https://host:port
  --cert-file FILE     PEM client certificate for mutual TLS, with --key-file FILE
                       (env STOWD_CERT_FILE, STOWD_KEY_FILE)
  --json               results as JSON, one document per line; errors as one JSON
                       line on stderr: {"error":{"code","reason","message","reference"},"exitCode"}
  --timeout DURATION   deadline per call, a whole transfer included: 30s, 5m, 1h (default none)
  --no-progress        no progress bars (they are drawn on stderr only when it is a terminal)
  -h, --help           this help; stowd COMMAND --help for one command
  --version            stowd's version`;

/** host:port or a URL → the SDK's base URL; a bare host:port gets `scheme` (https when a TLS flag is given). */
export function baseUrlOf(address: string | undefined, scheme: "http" | "https" = "http"): string {
  if (address === undefined || address === "") return scheme === "http" ? DEFAULT_BASE_URL : DEFAULT_BASE_URL.replace(/^http:/, "https:");
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `${scheme}://${address}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--address ${JSON.stringify(address)} is not host:port, http://host:port or https://host:port`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(`--address ${JSON.stringify(address)}: the scheme must be http or https`);
  }
  if (parsed.port === "" && !/^https?:\/\/[^/]+:\d+/i.test(url)) {
    throw new UsageError(`--address ${JSON.stringify(address)} names no port; the daemon's gRPC port is 50051 by default`);
  }
  return `${parsed.protocol}//${parsed.host}`;
}
