// Loads the daemon's configuration: one YAML file (--config or STOWD_CONFIG;
// none = the embedded default, examples/local.yaml), then env vars, then
// flags. The file's `storage:` block is a Flyte storage config accepted as a
// Flyte deployment has it: Flyte's key names (matched case-insensitively, as
// Viper does), Flyte's defaults for what it leaves out, stow's key names in
// stow.config (verbatim). `server:` is stowd's own. Anything stowd would
// otherwise have to ignore or guess about is a ConfigError naming the key.
import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { log, type LogLevel } from "../observability/log.js";
import { nonEmpty } from "../../common/env-value.js";
import { backendValueProblems } from "./backend-values.js";
import { configFileFrom, parseCommandLine, type CommandLine } from "./command-line.js";
import type { LegacyConnectionConfig, RedisConfig, SchemeConfig, ServerConfig, StorageConfig, StowConfig, StowdConfig } from "./config.js";
import { ConfigError, type ConfigProblem } from "./config-error.js";
import { DEFAULT_CONFIG_SOURCE, DEFAULT_CONFIG_YAML } from "./default-config.js";
import { CONNECTION_KEY_OF_STOW_KEY, legacyS3ConfigMap } from "./legacy-connection.js";
import { primaryScheme, S3_AUTH_TYPES, SCHEME_KINDS, STORAGE_TYPES, STOW_CONFIG_KEYS, STOW_KINDS, type StowKind } from "./stow-names.js";
import {
  addressKind,
  boolKind,
  durationKind,
  enumKind,
  hostNameKind,
  intKind,
  numberKind,
  stringKind,
  urlKind,
  type ValueKind,
} from "./value-kinds.js";
import { closest, MapReader, type ReadContext } from "./yaml-reader.js";
import { applySecurityOverrides, checkExposure, readAuthSection, readInsecure, readTlsSection } from "./security-config.js";
import { checkCorsExposure, readCorsSection } from "./cors-config.js";
import { readSignedUrlsSection, signedUrlBaseProblem } from "./signed-url-config.js";
import { checkConsoleExposure, readConsoleSection } from "./console-config.js";
import { DEFAULT_CALL_BOUNDS, formatMs } from "../calls/call-limits.js";
import { MiB } from "../../common/units.js";

export { ConfigError, type ConfigProblem } from "./config-error.js";
export { configFileFrom, parseCommandLine, USAGE, type CommandLine } from "./command-line.js";

export interface LoadConfigOptions {
  /** Non-fatal notes, e.g. a Flyte file's other top-level sections being skipped. Default: a warn log line. */
  warn?: (message: string) => void;
}

const levels = { debug: true, info: true, warn: true, error: true } satisfies Record<LogLevel, true>;
const LOG_LEVELS = Object.keys(levels) as LogLevel[];

export const SERVER_DEFAULTS: Readonly<ServerConfig> = {
  grpcAddress: "127.0.0.1:50051",
  httpAddress: "127.0.0.1:8080",
  shutdownGraceMs: 10_000,
  maxMessageBytes: 16 * MiB,
  maxUploadBytes: 0,
  logLevel: "info",
  ...DEFAULT_CALL_BOUNDS,
  readinessTimeoutMs: 2000,
};

/** Reads the config file (or the embedded default), applies env vars and flags, validates; throws ConfigError listing every problem. */
export async function loadConfig(argv: string[], env: NodeJS.ProcessEnv, options: LoadConfigOptions = {}): Promise<StowdConfig> {
  const commandLine = parseCommandLine(argv);
  const file = configFileFrom(commandLine, env);
  let text = DEFAULT_CONFIG_YAML;
  if (file !== undefined) {
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
      const path = commandLine.config !== undefined ? "--config" : "STOWD_CONFIG";
      throw new ConfigError([{ path, message: `cannot read config file ${JSON.stringify(file)} (${reason})` }], { cause: err });
    }
  }
  const { config, ctx } = read(text, file ?? DEFAULT_CONFIG_SOURCE, options);
  // Overrides and cross-key checks run once every key reads cleanly, so one
  // mistake (say an invalid type) does not cascade into follow-on complaints.
  if (ctx.problems.length === 0) applyOverrides(config, commandLine, env, ctx);
  if (ctx.problems.length === 0) checkStorage(config.storage, ctx);
  if (ctx.problems.length === 0) checkWorkers(config, ctx);
  if (ctx.problems.length === 0) checkBackendValues(config.storage, ctx);
  const warn = options.warn ?? ((message: string) => log("warn", message));
  if (ctx.problems.length === 0) ctx.problems.push(...checkExposure(config.server, warn));
  if (ctx.problems.length === 0) {
    const corsProblem = checkCorsExposure(config.server, warn);
    if (corsProblem !== undefined) ctx.problems.push(atKey(ctx, "server.cors.allowedOrigins", corsProblem));
  }
  const signedUrlProblem = ctx.problems.length === 0 ? signedUrlBaseProblem(config.server) : undefined;
  if (signedUrlProblem !== undefined) ctx.problems.push(atKey(ctx, "server.signedUrls", signedUrlProblem));
  if (ctx.problems.length === 0) {
    const consoleProblem = checkConsoleExposure(config.server, warn);
    if (consoleProblem !== undefined) ctx.problems.push(atKey(ctx, "server.console.enabled", consoleProblem));
  }
  if (ctx.problems.length > 0) throw new ConfigError(inFileOrder(ctx.problems));
  return config;
}

/** Parses and validates config text alone (no env vars or flags): for tests and tools that build configs from YAML. */
export function parseConfig(text: string, options: LoadConfigOptions & { source?: string } = {}): StowdConfig {
  const { config, ctx } = read(text, options.source ?? "(config)", options);
  if (ctx.problems.length === 0) checkStorage(config.storage, ctx);
  if (ctx.problems.length === 0) checkWorkers(config, ctx);
  if (ctx.problems.length === 0) checkBackendValues(config.storage, ctx);
  if (ctx.problems.length > 0) throw new ConfigError(inFileOrder(ctx.problems));
  return config;
}

/** Problems in the order of the file's lines; env var and flag problems (no line) last. */
function inFileOrder(problems: ConfigProblem[]): ConfigProblem[] {
  return [...problems].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

function read(text: string, source: string, options: LoadConfigOptions): { config: StowdConfig; ctx: ReadContext } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // A file YAML cannot parse is reported as such, not as a cascade of missing keys.
    throw new ConfigError(doc.errors.map((e) => ({ source, line: lineCounter.linePos(e.pos[0]).line, path: "YAML", message: e.message })));
  }
  const ctx: ReadContext = { source, doc, lineCounter, problems: [], lines: new Map() };
  const root = new MapReader(ctx, "", doc.contents ?? undefined);
  if (!root.has("storage")) {
    ctx.problems.push({
      source,
      path: "storage",
      message: "a config file needs a storage: block (a Flyte storage config; examples/local.yaml is the embedded default)",
    });
  }
  const storage = readStorage(root.section("storage"));
  const server = readServer(root.section("server"));
  // A Flyte config file often holds other components' sections (flyte-core's
  // storage.yaml starts with `propeller:`); Viper ignores what it does not know,
  // so stowd skips them too, but a near-miss of its own two is a typo.
  const warn = options.warn ?? ((message: string) => log("warn", message));
  for (const key of root.unread()) {
    const meant = closest(key, ["storage", "server"]);
    if (meant !== undefined) root.problem(key, `unknown top-level key (did you mean ${meant}?); stowd reads storage: and server:`);
    else warn(`${source}: skipping top-level section "${key}": stowd reads only storage: and server:`);
  }
  return { config: { storage, server }, ctx };
}

function readStorage(r: MapReader): StorageConfig {
  const type = r.scalar("type", enumKind(STORAGE_TYPES), "stow"); // Flyte v2's default
  const container = r.scalar("container", stringKind, "");
  const enableMultiContainer = r.scalar("enable-multicontainer", boolKind, false);
  const createContainer = r.scalar("create-container", boolKind, false);

  const connectionGiven = r.has("connection");
  const c = r.section("connection");
  // Flyte v1's defaults for its deprecated connection block.
  const connection: LegacyConnectionConfig = {
    endpoint: c.scalar("endpoint", urlKind, ""),
    authType: c.scalar("auth-type", enumKind(S3_AUTH_TYPES), "iam"),
    accessKey: c.scalar("access-key", stringKind, ""),
    secretKey: c.scalar("secret-key", stringKind, ""),
    region: c.scalar("region", stringKind, "us-east-1"),
    disableSsl: c.scalar("disable-ssl", boolKind, false),
  };
  c.finish();

  const stowGiven = r.has("stow");
  const s = r.section("stow");
  const givenKind = s.optional("kind", enumKind(STOW_KINDS, "stowd has no oracle or swift backend"));
  // Flyte v2 defaults stow.kind to s3 whatever the type; for type local that
  // would dial S3, so stowd takes the kind from the type when none is given.
  const kind: StowKind = givenKind ?? (type === "local" ? "local" : "s3");
  const kindValid = givenKind !== undefined || !s.has("kind");
  const stowConfig = s.stringMap("config", kind === "s3" ? { region: "us-east-1" } : {});
  s.finish();
  if (kindValid) checkStowKeys(r, "stow.config", kind, stowConfig);

  let stow: StowConfig = { kind, config: stowConfig };
  if (connectionGiven && stowGiven) {
    r.problem(
      "connection",
      "both connection (Flyte v1's deprecated S3 settings) and stow are given; Flyte v1 would ignore connection and v2 has no such key: keep stow",
    );
  } else if (connectionGiven) {
    stow = { kind: "s3", config: legacyS3ConfigMap(connection) };
  }
  if (kindValid && (type === "local" || type === "s3" || type === "minio")) {
    const wanted: StowKind = type === "local" ? "local" : "s3";
    if (stow.kind !== wanted) {
      // Flyte v2 sends every stow type to stow.kind whatever `type` says; a mismatch is a mistake, not a choice.
      r.problem(
        connectionGiven ? "connection" : "stow",
        `${connectionGiven ? "connection (S3)" : `stow.kind ${stow.kind}`} does not fit storage.type ${type}: type ${type} uses stow.kind ${wanted}; use type stow for another kind`,
      );
    }
  }

  const cacheReader = r.section("cache");
  const cache = {
    // Flyte treats any value <= 0 as "no cache".
    maxSizeMbs: Math.max(0, cacheReader.scalar("max_size_mbs", intKind({ note: "MiB; 0 = no cache" }), 0)),
    targetGcPercent: cacheReader.scalar("target_gc_percent", intKind(), 0),
    ttlSeconds: cacheReader.scalar("ttl", durationKind, 0) / 1000,
  };
  cacheReader.finish();

  const limitsReader = r.section("limits");
  const limits = { maxDownloadMBs: limitsReader.scalar("maxDownloadMBs", intKind({ min: 0, note: "MiB; 0 = unlimited" }), 2) };
  limitsReader.finish();

  const redis = readRedis(r.section("redis"));

  const schemes: Record<string, SchemeConfig> = {};
  for (const { key, reader } of r.children("schemes")) {
    const scheme = key.toLowerCase();
    const derivedKind = SCHEME_KINDS[scheme];
    if (derivedKind === undefined) {
      const meant = closest(scheme, Object.keys(SCHEME_KINDS));
      reader.problem(
        undefined,
        `unknown scheme${meant === undefined ? "" : ` (did you mean ${meant}?)`}; storage.schemes takes ${Object.keys(SCHEME_KINDS).join(", ")}`,
      );
      continue;
    }
    if (schemes[scheme] !== undefined) {
      reader.problem(undefined, `scheme ${scheme} is given twice; schemes are case-insensitive`);
      continue;
    }
    schemes[scheme] = readScheme(scheme, derivedKind, reader);
  }

  const h = r.section("defaultHttpClient");
  const connections = intKind({ min: 0, note: "0 = the HTTP agent's default" });
  const defaultHttpClient = {
    headers: h.stringListMap("headers"),
    timeoutMs: h.scalar("timeout", durationKind, 0),
    maxIdleConns: h.scalar("maxIdleConns", connections, 1024),
    maxIdleConnsPerHost: h.scalar("maxIdleConnsPerHost", connections, 1024),
    maxConnsPerHost: h.scalar("maxConnsPerHost", intKind({ min: 0, note: "0 = unlimited" }), 0),
    idleConnTimeoutMs: h.scalar("idleConnTimeout", durationKind, 90_000),
  };
  h.finish();

  const u = r.section("signedUrl");
  const signedUrl = { stowConfigOverride: u.stringMap("stowConfigOverride", {}) };
  u.finish();
  if (kindValid) checkStowKeys(r, "signedUrl.stowConfigOverride", stow.kind as StowKind, signedUrl.stowConfigOverride);

  r.finish((key) =>
    key.toLowerCase() === "secret_key_path"
      ? "secret_key_path belongs inside stow.config (storage.stow.config.secret_key_path)"
      : undefined,
  );
  return {
    type,
    container,
    enableMultiContainer,
    createContainer,
    stow,
    connection,
    cache,
    limits,
    redis,
    schemes,
    defaultHttpClient,
    signedUrl,
  };
}

function readRedis(r: MapReader): RedisConfig {
  const redis: RedisConfig = {
    addr: r.scalar("addr", { ...addressKind, parse: (v, t) => (v === "" ? "" : addressKind.parse(v, t)) }, ""),
    username: r.scalar("username", stringKind, ""),
    password: r.scalar("password", stringKind, ""),
    db: r.scalar("db", intKind({ min: 0 }), 0),
    cluster: r.list("cluster", addressKind), // stowd: Redis Cluster seed nodes
  };
  r.finish();
  if (redis.addr !== "" && redis.cluster.length > 0)
    r.problem("cluster", "give addr (one node) or cluster (seed nodes of a Redis Cluster), not both");
  return redis;
}

function readScheme(scheme: string, derivedKind: StowKind | "", r: MapReader): SchemeConfig {
  if (scheme === "mem") {
    r.finish(() => "mem:// takes no settings");
    return { kind: "", config: {} };
  }
  if (scheme === "redis") {
    const out: SchemeConfig = { kind: "", config: {} };
    if (r.has("redis")) out.redis = readRedis(r.section("redis"));
    r.finish(() => "redis:// takes only a redis: block (addr, username, password, db, cluster)");
    return out;
  }
  const givenKind = r.optional("kind", enumKind(STOW_KINDS, "stowd has no oracle or swift backend"));
  const kind = givenKind ?? (derivedKind as StowKind);
  const config = r.stringMap("config", {});
  r.finish((key) => (key.toLowerCase() === "redis" ? `a redis: block is only for the redis scheme, not ${scheme}` : undefined));
  if (givenKind !== undefined || !r.has("kind")) checkStowKeys(r, "config", kind, config);
  if (kind === "local" && (config.path ?? "") === "") r.problem("config", "needs path: the root directory for local disk");
  return { kind, config };
}

/** stow.config keys are stow's, exact and case-sensitive: an unknown one is a typo stow would silently ignore. */
function checkStowKeys(r: MapReader, key: string, kind: StowKind, config: Record<string, string>): void {
  const known = STOW_CONFIG_KEYS[kind];
  const base = r.child(key);
  for (const [k, value] of Object.entries(config)) {
    const path = `${base}.${k}`;
    const line = r.ctx.lines.get(path);
    const at = { source: r.ctx.source, ...(line === undefined || line === 0 ? {} : { line }), path };
    if (!known.includes(k)) {
      const meant = closest(k, known);
      const hint =
        meant === undefined
          ? ""
          : meant.toLowerCase() === k.toLowerCase()
            ? ` (did you mean ${meant}? stow keys are case-sensitive)`
            : ` (did you mean ${meant}?)`;
      r.ctx.problems.push({ ...at, message: `unknown key for stow kind ${kind}${hint}; ${kind} takes ${known.join(", ")}` });
    } else if (kind === "s3" && k === "auth_type" && !(S3_AUTH_TYPES as readonly string[]).includes(value)) {
      r.ctx.problems.push({ ...at, message: `${JSON.stringify(value)} is not one of ${S3_AUTH_TYPES.join(", ")}` });
    }
  }
}

function readServer(r: MapReader): ServerConfig {
  const server: ServerConfig = {
    grpcAddress: r.scalar("grpcAddress", addressKind, SERVER_DEFAULTS.grpcAddress),
    httpAddress: r.scalar("httpAddress", addressKind, SERVER_DEFAULTS.httpAddress),
    shutdownGraceMs: r.scalar("shutdownGrace", durationKind, SERVER_DEFAULTS.shutdownGraceMs),
    maxMessageBytes: Math.floor(r.scalar("maxMessageMBs", maxMessageMbsKind, SERVER_DEFAULTS.maxMessageBytes / MiB) * MiB),
    maxUploadBytes: Math.floor(r.scalar("maxUploadMBs", maxUploadMbsKind, 0) * MiB),
    logLevel: r.scalar("logLevel", enumKind(LOG_LEVELS), SERVER_DEFAULTS.logLevel),
    // Resource bounds (server/calls/call-limits.ts, stream-budget.ts).
    maxConcurrentCalls: r.scalar("maxConcurrentCalls", intKind({ min: 0, note: "0 = unlimited" }), SERVER_DEFAULTS.maxConcurrentCalls),
    maxStreamsPerConnection: r.scalar("maxStreamsPerConnection", intKind({ min: 1 }), SERVER_DEFAULTS.maxStreamsPerConnection),
    maxInFlightBytes: Math.floor(
      r.scalar("maxInFlightMBs", numberKind({ min: 0, note: "MiB; 0 = unlimited" }), SERVER_DEFAULTS.maxInFlightBytes / MiB) * MiB,
    ),
    idleStreamTimeoutMs: r.scalar("idleStreamTimeout", durationKind, SERVER_DEFAULTS.idleStreamTimeoutMs),
    defaultDeadlineMs: r.scalar("defaultDeadline", durationKind, SERVER_DEFAULTS.defaultDeadlineMs),
    maxDeadlineMs: r.scalar("maxDeadline", durationKind, SERVER_DEFAULTS.maxDeadlineMs),
    headersTimeoutMs: r.scalar("headersTimeout", durationKind, SERVER_DEFAULTS.headersTimeoutMs),
    idleConnectionTimeoutMs: r.scalar("idleConnectionTimeout", durationKind, SERVER_DEFAULTS.idleConnectionTimeoutMs),
    readinessTimeoutMs: r.scalar("readinessTimeout", positiveDurationKind, SERVER_DEFAULTS.readinessTimeoutMs),
  };
  const workers = r.optional("workers", intKind({ min: 1, note: "processes serving both ports; 1 = one process" }));
  if (workers !== undefined) server.workers = workers;
  const tls = readTlsSection(r.section("tls"));
  const auth = readAuthSection(r.section("auth"));
  if (tls !== undefined) server.tls = tls;
  if (auth !== undefined) server.auth = auth;
  if (readInsecure(r)) server.insecure = true;
  const cors = readCorsSection(r.section("cors"), r.has("cors"));
  if (cors !== undefined) server.cors = cors;
  const signedUrls = readSignedUrlsSection(r.section("signedUrls"), r.has("signedUrls"));
  if (signedUrls !== undefined) server.signedUrls = signedUrls;
  const allowedHosts = r.list("allowedHosts", hostNameKind);
  if (allowedHosts.length > 0) server.allowedHosts = allowedHosts;
  const consoleSetting = readConsoleSection(r.section("console"));
  if (consoleSetting !== undefined) server.console = consoleSetting;
  r.finish();
  if (server.defaultDeadlineMs > 0 && server.maxDeadlineMs > 0 && server.defaultDeadlineMs > server.maxDeadlineMs) {
    r.problem(
      "defaultDeadline",
      `${formatMs(server.defaultDeadlineMs)} is longer than server.maxDeadline (${formatMs(server.maxDeadlineMs)}), which caps every deadline: lower it or raise maxDeadline`,
    );
  }
  return server;
}

// gRPC message lengths are 32-bit signed, so 2048 MiB is out of range.
const maxMessageMbsKind = numberKind({ min: 0, minExclusive: true, below: 2048, note: "MiB" });
const maxUploadMbsKind = numberKind({ min: 0, note: "MiB; 0 = unlimited" });
const positiveDurationKind: ValueKind<number> = {
  ...durationKind,
  expected: "a duration > 0 (e.g. 2s)",
  parse: (v, t) => ((durationKind.parse(v, t) ?? 0) > 0 ? durationKind.parse(v, t) : undefined),
};
const dataDirKind: ValueKind<string> = { expected: "a directory path", parse: (v) => (typeof v === "string" && v !== "" ? v : undefined) };

/** Whether the primary store is local disk (the one --data-dir / STOWD_DATA_DIR move). */
function isLocalDisk(storage: StorageConfig): boolean {
  return storage.type === "local" || (storage.type === "stow" && storage.stow.kind === "local");
}

function applyOverrides(config: StowdConfig, commandLine: CommandLine, env: NodeJS.ProcessEnv, ctx: ReadContext): void {
  const override = <T>(
    field: keyof CommandLine,
    flag: string,
    envName: string,
    kind: ValueKind<T>,
    apply: (value: T, path: string) => void,
  ) => {
    const fromFlag = commandLine[field];
    const text = typeof fromFlag === "string" ? fromFlag : nonEmpty(env[envName]);
    if (text === undefined) return;
    const path = typeof fromFlag === "string" ? flag : envName;
    const value = kind.parse(text, text);
    if (value === undefined) ctx.problems.push({ path, message: `${JSON.stringify(text)} is not ${kind.expected}` });
    else apply(value, path);
  };
  const { server, storage } = config;
  override("grpcAddress", "--grpc-address", "STOWD_GRPC_ADDRESS", addressKind, (v) => (server.grpcAddress = v));
  override("httpAddress", "--http-address", "STOWD_HTTP_ADDRESS", addressKind, (v) => (server.httpAddress = v));
  override(
    "maxUploadMbs",
    "--max-upload-mbs",
    "STOWD_MAX_UPLOAD_MBS",
    maxUploadMbsKind,
    (v) => (server.maxUploadBytes = Math.floor(v * MiB)),
  );
  override("logLevel", "--log-level", "STOWD_LOG_LEVEL", enumKind(LOG_LEVELS), (v) => (server.logLevel = v));
  override("maxDownloadMbs", "--max-download-mbs", "STOWD_MAX_DOWNLOAD_MBS", intKind({ min: 0, note: "MiB; 0 = unlimited" }), (v) => {
    storage.limits.maxDownloadMBs = v;
  });
  applySecurityOverrides(server, commandLine.insecure === true, env, ctx.problems);
  override("dataDir", "--data-dir", "STOWD_DATA_DIR", dataDirKind, (v, path) => {
    // Silently ignoring it for a bucket store would hide a wrong deployment.
    if (!isLocalDisk(storage)) {
      const kindNote = storage.type === "stow" ? ` with stow.kind ${storage.stow.kind}` : "";
      ctx.problems.push({
        path,
        message: `applies only when the storage is local disk (storage.type local, or stow with stow.kind local); this config has storage.type ${storage.type}${kindNote}`,
      });
    } else {
      storage.stow.config = { ...storage.stow.config, path: v };
    }
  });
}

/** Checks that need the whole storage block (after overrides). */
function checkStorage(storage: StorageConfig, ctx: ReadContext): void {
  const at = (message: string, path: string, ...near: string[]): ConfigProblem => {
    const line = [path, ...near].map((p) => ctx.lines.get(p)).find((l) => l !== undefined && l !== 0);
    return { source: ctx.source, ...(line === undefined ? {} : { line }), path, message };
  };
  const { type } = storage;
  if (type === "redis" && storage.redis.addr === "" && storage.redis.cluster.length === 0) {
    ctx.problems.push(
      at(
        "storage.type redis needs redis.addr (host:port) or redis.cluster (seed nodes)",
        "storage.redis.addr",
        "storage.redis",
        "storage.type",
      ),
    );
  }
  const localDisk = isLocalDisk(storage);
  const stowType = type === "s3" || type === "minio" || type === "stow" || type === "local";
  // Flyte requires `container` for every stow type, even with
  // enable-multicontainer. stowd relaxes that: with enable-multicontainer, or
  // on local disk, references name their own containers and none is needed.
  if (stowType && storage.container === "" && !storage.enableMultiContainer && !localDisk) {
    ctx.problems.push(
      at(
        `required for storage.type ${type} (the bucket references must name) unless enable-multicontainer is true`,
        "storage.container",
        "storage.type",
        "storage",
      ),
    );
  }
  if (storage.createContainer && storage.container === "") {
    ctx.problems.push(at("create-container needs storage.container (the container to create)", "storage.create-container"));
  }
  if (stowType && localDisk && (storage.stow.config.path ?? "") === "") {
    ctx.problems.push(
      at(
        "required for local disk storage: the root directory of file:// (or give --data-dir / STOWD_DATA_DIR)",
        "storage.stow.config.path",
        "storage.stow.config",
        "storage.stow",
        "storage.type",
      ),
    );
  }
  if (stowType || type === "mem" || type === "redis") {
    const primary = primaryScheme(type, storage.stow.kind as StowKind);
    if (primary !== undefined && storage.schemes[primary] !== undefined) {
      ctx.problems.push(
        at(
          `configures ${primary}://, the primary scheme, which storage.type and storage.${type === "redis" ? "redis" : "stow"} already configure: remove it`,
          `storage.schemes.${primary}`,
        ),
      );
    }
  }
}

/** mem:// lives in a process's memory: with several workers, what one stored the others would not see. */
function checkWorkers(config: StowdConfig, ctx: ReadContext): void {
  const { server, storage } = config;
  if ((server.workers ?? 1) === 1 || (storage.type !== "mem" && storage.schemes.mem === undefined)) return;
  ctx.problems.push(
    atKey(
      ctx,
      "server.workers",
      `${server.workers} workers would each hold their own mem:// (what one stores, the others would not see): use 1 worker, or remove mem:// (${storage.type === "mem" ? "storage.type mem" : "storage.schemes.mem"})`,
    ),
  );
}

/** A problem with a key, found after reading: at the key's line in the file when it was given there. */
function atKey(ctx: ReadContext, path: string, message: string): ConfigProblem {
  const line = ctx.lines.get(path);
  return { source: ctx.source, ...(line === undefined || line === 0 ? {} : { line }), path, message };
}

/** Each backend's values, by the backend's own parser; a problem names the key as the file wrote it. */
function checkBackendValues(storage: StorageConfig, ctx: ReadContext): void {
  // The loader translated a v1 `connection` block into stow.config: name its keys as written.
  const fromConnection = ctx.lines.has("storage.connection");
  ctx.problems.push(
    ...backendValueProblems(storage, {
      source: ctx.source,
      lines: ctx.lines,
      keyPath: (backend, key) =>
        fromConnection && backend.field === "storage.stow.config"
          ? `storage.connection.${CONNECTION_KEY_OF_STOW_KEY[key] ?? key}`
          : `${backend.field}.${key}`,
    }),
  );
}
