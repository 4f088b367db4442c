// The daemon's command line: flags (node:util parseArgs, strict) and the env
// vars that stand in for them. A flag overrides its env var, which overrides
// the config file.
import { parseArgs } from "node:util";
import { nonEmpty } from "../../common/env-value.js";
import { ConfigError } from "./config-error.js";

export const USAGE = `usage: npm start -- [options]        (or: npx tsx server/main.ts [options])

Serves stowd's gRPC port and HTTP port (Connect, gRPC-Web, /healthz) over the
storage described by a YAML config file: a Flyte \`storage:\` block, accepted as
Flyte has it, plus stowd's own \`server:\` block. Without a config file stowd
serves its embedded default (examples/local.yaml): file:// on local disk under
./data and mem:// in memory, any container, no download limit.

options (a flag overrides its env var, an env var overrides the config file):
  --config FILE          YAML config file (env STOWD_CONFIG)
  --grpc-address H:P     gRPC listen address; port 0 = any free port
                         (env STOWD_GRPC_ADDRESS; server.grpcAddress; default 127.0.0.1:50051)
  --http-address H:P     HTTP listen address
                         (env STOWD_HTTP_ADDRESS; server.httpAddress; default 127.0.0.1:8080)
  --data-dir DIR         root directory of file:// when the storage is local disk
                         (env STOWD_DATA_DIR; storage.stow.config.path; default ./data)
  --max-upload-mbs N     largest object WriteRaw stores, MiB; 0 = unlimited
                         (env STOWD_MAX_UPLOAD_MBS; server.maxUploadMBs; default 0)
  --max-download-mbs N   largest object ReadRaw serves, whole MiB; 0 = unlimited
                         (env STOWD_MAX_DOWNLOAD_MBS; storage.limits.maxDownloadMBs;
                         default 2 as in Flyte, 0 in the embedded default)
  --log-level LEVEL      debug, info, warn or error
                         (env STOWD_LOG_LEVEL; server.logLevel; default info)
  --insecure             allow a non-loopback listen address without TLS
                         (server.tls) or authentication (server.auth)
                         (env STOWD_INSECURE; server.insecure; default false)

env STOWD_AUTH_TOKEN=T   turns auth on with one bearer token T that has every
                         grant (server.auth.tokenFile lists named tokens with
                         grants); SIGHUP re-reads TLS certificates and tokens
  -h, --help             show this text

resource bounds are server: keys in the config file (docs/operations.md: Resource bounds):
  maxConcurrentCalls (1000), maxStreamsPerConnection (100), maxInFlightMBs (64),
  idleStreamTimeout (60s), defaultDeadline (1h), maxDeadline (24h),
  headersTimeout (10s), idleConnectionTimeout (5m),
  readinessTimeout (2s); GET /readyz on the HTTP port probes every backend

examples:
  npm start
      the embedded default on 127.0.0.1:50051 (gRPC) and 127.0.0.1:8080 (HTTP)
  npm start -- --config examples/s3-minio.yaml
      an S3-compatible server (see examples/ for GCS, Azure, Redis + S3)
  STOWD_CONFIG=/etc/flyte/config/storage.yaml npm start -- --grpc-address 0.0.0.0:50051
      a Flyte deployment's storage config as it is, listening on every interface
      (stowd wants server.tls and server.auth for that, or --insecure)
  npm start -- --data-dir /var/lib/stowd --max-download-mbs 10 --log-level debug

A config error is printed with its file, line and key path, and stowd exits 2.`;

/** What the command line sets; every field is the raw text, validated by loadConfig. */
export interface CommandLine {
  help: boolean;
  config?: string;
  grpcAddress?: string;
  httpAddress?: string;
  dataDir?: string;
  maxUploadMbs?: string;
  maxDownloadMbs?: string;
  logLevel?: string;
  insecure?: boolean;
}

/** Parses argv (without the node and script paths); an unknown flag, a missing value or a stray argument is a ConfigError. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: "string" },
        "grpc-address": { type: "string" },
        "http-address": { type: "string" },
        "data-dir": { type: "string" },
        "max-upload-mbs": { type: "string" },
        "max-download-mbs": { type: "string" },
        "log-level": { type: "string" },
        insecure: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError([{ path: "command line", message: `${message} (--help lists the options)` }], { cause: err });
  }
  const out: CommandLine = { help: values.help === true };
  if (values.insecure === true) out.insecure = true;
  const set = (field: Exclude<keyof CommandLine, "help" | "insecure">, value: string | undefined) => {
    if (value !== undefined) out[field] = value;
  };
  set("config", values.config);
  set("grpcAddress", values["grpc-address"]);
  set("httpAddress", values["http-address"]);
  set("dataDir", values["data-dir"]);
  set("maxUploadMbs", values["max-upload-mbs"]);
  set("maxDownloadMbs", values["max-download-mbs"]);
  set("logLevel", values["log-level"]);
  return out;
}

/** The config file to read: --config, else STOWD_CONFIG (empty = unset), else none (the embedded default). */
export function configFileFrom(commandLine: CommandLine, env: NodeJS.ProcessEnv): string | undefined {
  return commandLine.config ?? nonEmpty(env.STOWD_CONFIG);
}
