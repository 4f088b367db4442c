// Structured logging: one JSON object per line on stderr, written by pino
// ({"level":"info","time":"2026-…Z","msg":"…",…fields}). Every call site
// uses log(level, msg, fields); setLogLevel applies server.logLevel.
// Fields that name a credential are replaced with "[redacted]" wherever they
// appear (top level or one object down), so a caller that logs a config
// block or a header map cannot leak a secret.
import { pino, type Logger } from "pino";
import { turnBatchedDestination } from "./turn-batched-destination.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Field names that carry credentials, as stow, Flyte, Redis and HTTP spell them. */
const SECRET_FIELDS = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "token",
  "accessToken",
  "access_token",
  "password",
  "secret",
  "secretKey",
  "secret_key",
  "secret-key",
  "access_key_id",
  "accessKey",
  "access-key",
  "sas",
  "sasToken",
  "connectionString",
  "credentials",
];

function initialLevel(): LogLevel {
  const fromEnv = process.env.STOWD_LOG_LEVEL;
  return LEVELS.includes(fromEnv as LogLevel) ? (fromEnv as LogLevel) : "info";
}

interface Loggers {
  /** Redacts credential-named fields: for every line whose fields come from anywhere. */
  redacting: Logger;
  /** The same output without the redaction walk, for lines whose fields stowd builds itself (logTrusted). */
  trusted: Logger;
}

let loggers: Loggers = createLoggers(turnBatchedDestination(2));

function createLoggers(destination: pino.DestinationStream): Loggers {
  const options: pino.LoggerOptions = {
    level: initialLevel(),
    base: null, // no pid or hostname on every line
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return {
    // Bracket paths, so names with dashes work: ["secret-key"] and *["secret-key"].
    redacting: pino(
      { ...options, redact: { paths: SECRET_FIELDS.flatMap((f) => [`["${f}"]`, `*["${f}"]`]), censor: "[redacted]" } },
      destination,
    ),
    trusted: pino(options, destination),
  };
}

/** Adds `fields` to every line from now on (a worker's `"worker":<id>`, server/cluster/worker.ts). */
export function addLogFields(fields: Record<string, string | number>): void {
  loggers = { redacting: loggers.redacting.child(fields), trusted: loggers.trusted.child(fields) };
}

export function setLogLevel(level: LogLevel): void {
  loggers.redacting.level = level;
  loggers.trusted.level = level;
}

/** Whether a line at `level` would be written (to skip building costly fields). */
export function logEnabled(level: LogLevel): boolean {
  return loggers.redacting.isLevelEnabled(level);
}

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  loggers.redacting[level](fields, msg);
}

/**
 * log() without the redaction walk, for lines whose fields stowd builds from
 * known values and has already masked (the per-call line): the walk over
 * every field was a fifth of a Head call's CPU in a profile.
 */
export function logTrusted(level: LogLevel, msg: string, fields: Record<string, string | number>): void {
  loggers.trusted[level](fields, msg);
}

/** Sends log lines to `destination` instead of stderr (tests); returns a function that restores stderr. */
export function redirectLog(destination: pino.DestinationStream): () => void {
  const previous = loggers;
  loggers = createLoggers(destination);
  setLogLevel(previous.redacting.level as LogLevel);
  return () => {
    loggers = previous;
  };
}
