// Structured logging: one JSON object per line on stderr, written by pino
// ({"level":"info","time":"2026-…Z","msg":"…",…fields}). Every call site
// uses log(level, msg, fields); setLogLevel applies server.logLevel.
// Fields that name a credential are replaced with "[redacted]" wherever they
// appear (top level or one object down), so a caller that logs a config
// block or a header map cannot leak a secret.
import { pino, type Logger } from "pino";

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

let logger: Logger = createLogger(pino.destination({ fd: 2, sync: true }));

function createLogger(destination: pino.DestinationStream): Logger {
  return pino(
    {
      level: initialLevel(),
      base: null, // no pid or hostname on every line
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Bracket paths, so names with dashes work: ["secret-key"] and *["secret-key"].
      redact: { paths: SECRET_FIELDS.flatMap((f) => [`["${f}"]`, `*["${f}"]`]), censor: "[redacted]" },
    },
    destination,
  );
}

export function setLogLevel(level: LogLevel): void {
  logger.level = level;
}

/** Whether a line at `level` would be written (to skip building costly fields). */
export function logEnabled(level: LogLevel): boolean {
  return logger.isLevelEnabled(level);
}

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  logger[level](fields, msg);
}

/** Sends log lines to `destination` instead of stderr (tests); returns a function that restores stderr. */
export function redirectLog(destination: pino.DestinationStream): () => void {
  const previous = logger;
  logger = createLogger(destination);
  logger.level = previous.level;
  return () => {
    logger = previous;
  };
}
