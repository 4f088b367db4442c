// Every configured backend's values checked at load, by the backend's own
// option parser (the one the assembly builds it with), so a malformed S3
// endpoint or Azure account name is a ConfigError with its file:line, like a
// bad key, and not a failure later while the store tree is built. The checks
// do no I/O: what needs a file or the network (an S3 secret_key_path, a
// dial) is still done when the backend is built.
import { isStowdError } from "../../common/errors.js";
import type { StorageConfig } from "./config.js";
import type { ConfigProblem } from "./config-error.js";
import { configuredSchemes, type BackendSettings } from "./backend-settings.js";
import type { BackendKind } from "./stow-names.js";
import { azureOptionsFromStowConfig } from "../stores/azure/config.js";
import { gcsStoreOptionsFromStowConfig } from "../stores/gcs/config.js";
import { localOptionsFromStowConfig } from "../stores/local/config.js";
import { redisStoreOptionsFromFlyte } from "../stores/redis/config.js";
import { checkS3StowConfig } from "../stores/s3/config.js";

const checks: Record<BackendKind, (b: BackendSettings) => void> = {
  mem: () => {},
  local: (b) => localOptionsFromStowConfig(b.stowConfig, b.scheme),
  s3: (b) => checkS3StowConfig(b.stowConfig),
  google: (b) => gcsStoreOptionsFromStowConfig(b.stowConfig),
  azure: (b) => azureOptionsFromStowConfig(b.stowConfig, b.field),
  redis: (b) => redisStoreOptionsFromFlyte(b.redis, b.field),
};

export interface ValueCheckContext {
  /** The config file, as shown in messages. */
  source: string;
  /** Full key path → line of the key (ReadContext.lines). */
  lines: ReadonlyMap<string, number>;
  /**
   * The key path a backend's settings key was written as; default
   * `<field>.<key>`. The loader maps the primary s3 store's keys back to
   * Flyte v1's `connection` block when that is what the file gave.
   */
  keyPath?: (backend: BackendSettings, key: string) => string;
}

/** One problem per backend whose values its parser refuses (each parser stops at the first). */
export function backendValueProblems(storage: StorageConfig, ctx: ValueCheckContext): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const backend of configuredSchemes(storage).backends) {
    if (backend.kind === undefined) continue; // the loader has reported the kind
    try {
      checks[backend.kind](backend);
    } catch (err) {
      if (!isStowdError(err)) throw err;
      const field = err.facts.field;
      const key = field === undefined ? undefined : keyOf(field, backend.field);
      const path = key === undefined ? backend.field : (ctx.keyPath?.(backend, key) ?? `${backend.field}.${key}`);
      const line = lineOf(path, ctx.lines);
      problems.push({ source: ctx.source, ...(line === undefined ? {} : { line }), path, message: withoutLeading(err.message, field) });
    }
  }
  return problems;
}

/** The key within the settings block; parsers name it `<block>.<key>`, the block as they know it (stow.config, storage.stow.config, ...). */
function keyOf(field: string, block: string): string {
  for (const prefix of [`${block}.`, "storage.stow.config.", "stow.config."]) {
    if (field.startsWith(prefix)) return field.slice(prefix.length);
  }
  return field.slice(field.lastIndexOf(".") + 1);
}

/** The line of the key, else of the nearest enclosing key given (a required key that is missing has no line of its own). */
function lineOf(path: string, lines: ReadonlyMap<string, number>): number | undefined {
  for (let p = path.replace(/\[\d+\]$/, ""); p !== ""; p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "") {
    const line = lines.get(p);
    if (line !== undefined && line !== 0) return line;
  }
  return undefined;
}

/** A parser's message without the key path it starts with, since the problem names the path already. */
function withoutLeading(message: string, field: string | undefined): string {
  if (field === undefined || !message.startsWith(field)) return message;
  const rest = message.slice(field.length);
  return rest.startsWith(": ") ? rest.slice(2) : rest.startsWith(" ") ? rest.slice(1) : message;
}
