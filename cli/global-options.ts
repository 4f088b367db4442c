// Flags every client command takes, before or after the command name, and
// the env var that stands in for --address.
import { DEFAULT_BASE_URL } from "../client/index.js";
import type { FlagSpecs } from "./command.js";
import { UsageError } from "./usage-error.js";

export const GLOBAL_FLAGS: FlagSpecs = {
  address: { type: "string" },
  json: { type: "boolean" },
  timeout: { type: "string" },
  "no-progress": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
};

export const GLOBAL_FLAG_HELP = `global options (before or after the command):
  --address ADDR       the daemon's gRPC port: host:port or http://host:port
                       (env STOWD_ADDRESS; default 127.0.0.1:50051, the daemon's default)
  --json               results as JSON, one document per line; errors as one JSON
                       line on stderr: {"error":{"code","reason","message","reference"},"exitCode"}
  --timeout DURATION   deadline per call, a whole transfer included: 30s, 5m, 1h (default none)
  --no-progress        no progress bars (they are drawn on stderr only when it is a terminal)
  -h, --help           this help; stowd COMMAND --help for one command
  --version            stowd's version`;

/** host:port or a URL → the SDK's base URL. */
export function baseUrlOf(address: string | undefined): string {
  if (address === undefined || address === "") return DEFAULT_BASE_URL;
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `http://${address}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--address ${JSON.stringify(address)} is not host:port or http://host:port`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(`--address ${JSON.stringify(address)}: the scheme must be http or https`);
  }
  if (parsed.port === "" && !/^https?:\/\/[^/]+:\d+/i.test(url)) {
    throw new UsageError(`--address ${JSON.stringify(address)} names no port; the daemon's gRPC port is 50051 by default`);
  }
  return `${parsed.protocol}//${parsed.host}`;
}
