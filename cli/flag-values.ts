// Parses flag values that are not plain strings; a bad one is a UsageError
// naming the flag and what it accepts.
import { parseGoDuration } from "../common/duration.js";
import { UsageError } from "./usage-error.js";

/** A non-negative whole number of bytes or entries. */
export function parseCount(text: string, flag: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(`--${flag} takes a whole number >= 0, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A positive duration: Go syntax as in the config file (90s, 1m30s, 500ms, 1h) or plain seconds. */
export function parseDurationFlag(text: string, flag: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : parseGoDuration(text);
  if (ms === undefined || !(ms > 0)) {
    throw new UsageError(`--${flag} takes a duration such as 30s, 5m or 1h, got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** `key=value` pairs of repeated --metadata flags. */
export function parseMetadata(pairs: readonly string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--metadata takes key=value, got ${JSON.stringify(pair)}`);
    metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return metadata;
}
