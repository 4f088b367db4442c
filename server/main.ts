// `npm start`: runs the daemon. With no flags it serves the embedded default:
// file:// on local disk under ./data and mem:// in memory, gRPC on
// 127.0.0.1:50051 and HTTP on 127.0.0.1:8080. Flags override env vars.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createSchemeRouter } from "./decorators/scheme-router.js";
import { startDaemon } from "./daemon.js";
import { log } from "./observability/log.js";
import { createLocalStore } from "./stores/local-store.js";
import { createMemoryStore } from "./stores/memory-store.js";

const MiB = 1024 * 1024;
const usage = `usage: npm start -- [options]
  --data-dir DIR        local store root for file:// references (env STOWD_DATA_DIR, default ./data)
  --grpc-address H:P    gRPC listen address (env STOWD_GRPC_ADDRESS, default 127.0.0.1:50051)
  --http-address H:P    Connect/gRPC-Web/HTTP listen address (env STOWD_HTTP_ADDRESS, default 127.0.0.1:8080)
  --max-upload-mbs N    largest object WriteRaw stores, in MiB, 0 = unlimited (env STOWD_MAX_UPLOAD_MBS, default 0)
  --help                show this text`;

function parseFlags() {
  const { values } = parseArgs({
    options: {
      "data-dir": { type: "string" },
      "grpc-address": { type: "string" },
      "http-address": { type: "string" },
      "max-upload-mbs": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const env = process.env;
  const maxUploadMbs = Number(values["max-upload-mbs"] ?? env.STOWD_MAX_UPLOAD_MBS ?? "0");
  if (!Number.isFinite(maxUploadMbs) || maxUploadMbs < 0) throw new Error(`--max-upload-mbs must be a non-negative number\n${usage}`);
  return {
    dataDir: resolve(values["data-dir"] ?? env.STOWD_DATA_DIR ?? "./data"),
    grpcAddress: values["grpc-address"] ?? env.STOWD_GRPC_ADDRESS ?? "127.0.0.1:50051",
    httpAddress: values["http-address"] ?? env.STOWD_HTTP_ADDRESS ?? "127.0.0.1:8080",
    maxUploadBytes: Math.floor(maxUploadMbs * MiB),
  };
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const store = createSchemeRouter({
    file: await createLocalStore({ root: flags.dataDir }),
    mem: createMemoryStore(),
  });
  const daemon = await startDaemon({
    store,
    grpcAddress: flags.grpcAddress,
    httpAddress: flags.httpAddress,
    limits: { maxUploadBytes: flags.maxUploadBytes, maxMessageBytes: 16 * MiB },
  });
  log("info", "local store", { root: flags.dataDir });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "stopping", { signal });
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log("error", "stop failed", { err: String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((err: unknown) => {
  console.error(`stowd: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
