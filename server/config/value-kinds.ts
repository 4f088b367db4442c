// The value types a config key can have, shared by the YAML reader and the
// env var / flag overrides so both accept and reject exactly the same text.
// Like Flyte (mapstructure with WeaklyTypedInput), quoted numbers and booleans
// are accepted ("10", "true"); unlike it, nonsense is not (true as a number,
// 2.5 as an integer, "yes" as a boolean).
import { parseDurationMs } from "../../common/duration.js";

export interface ValueKind<T> {
  /** Completes "… is not ___": what is accepted. */
  readonly expected: string;
  /** `value` is the YAML scalar's value (or the env/flag text); `text` is its source text. */
  parse(value: string | number | boolean, text: string): T | undefined;
}

export const stringKind: ValueKind<string> = {
  expected: "a string",
  // A number or boolean where a string is expected is kept as written (`password: 12345`).
  parse: (value, text) => (typeof value === "string" ? value : text),
};

// Go's strconv.ParseBool, which Flyte's weakly typed decoding uses for strings.
const goTrue = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const goFalse = new Set(["0", "f", "F", "FALSE", "false", "False"]);

export const boolKind: ValueKind<boolean> = {
  expected: "a boolean (true or false)",
  parse(value) {
    if (typeof value === "boolean") return value;
    if (typeof value !== "string") return undefined;
    return goTrue.has(value.trim()) ? true : goFalse.has(value.trim()) ? false : undefined;
  },
};

function toNumber(value: string | number | boolean): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string" || !/^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$/.test(value)) return undefined;
  return Number(value);
}

export function intKind(options: { min?: number; note?: string } = {}): ValueKind<number> {
  const { min, note } = options;
  return {
    expected: `an integer${min === undefined ? "" : ` >= ${min}`}${note === undefined ? "" : ` (${note})`}`,
    parse(value) {
      const n = toNumber(value);
      if (n === undefined || !Number.isSafeInteger(n)) return undefined;
      return min !== undefined && n < min ? undefined : n;
    },
  };
}

export function numberKind(options: { min: number; minExclusive?: boolean; below?: number; note?: string }): ValueKind<number> {
  const { min, minExclusive = false, below, note } = options;
  const range = `${minExclusive ? ">" : ">="} ${min}${below === undefined ? "" : ` and < ${below}`}`;
  return {
    expected: `a number ${range}${note === undefined ? "" : ` (${note})`}`,
    parse(value) {
      const n = toNumber(value);
      if (n === undefined || !Number.isFinite(n)) return undefined;
      if (minExclusive ? n <= min : n < min) return undefined;
      return below !== undefined && n >= below ? undefined : n;
    },
  };
}

/** Milliseconds, >= 0. */
export const durationKind: ValueKind<number> = {
  expected: 'a duration >= 0: Go syntax like "90s", "1m30s", "500ms", or a number of seconds',
  parse(value) {
    if (typeof value === "boolean") return undefined;
    const ms = parseDurationMs(value);
    return ms === undefined || ms < 0 ? undefined : ms;
  },
};

export function enumKind<T extends string>(values: readonly T[], note?: string): ValueKind<T> {
  return {
    expected: `one of ${values.join(", ")}${note === undefined ? "" : ` (${note})`}`,
    parse: (value) => (typeof value === "string" && (values as readonly string[]).includes(value) ? (value as T) : undefined),
  };
}

/** host:port; host may be a name, an IPv4 address or a bracketed IPv6 address; port 0-65535. */
export const addressKind: ValueKind<string> = {
  expected: "a host:port address (e.g. 127.0.0.1:50051; port 0 = any free port)",
  parse(value) {
    if (typeof value !== "string") return undefined;
    const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(value);
    return m !== null && Number(m[2]) <= 65535 ? value : undefined;
  },
};

/** A URL with a scheme and host (Flyte's config.URL for `connection.endpoint`), or "" for none. */
export const urlKind: ValueKind<string> = {
  expected: "a URL such as http://127.0.0.1:9000",
  parse(value) {
    if (typeof value !== "string") return undefined;
    if (value === "") return value;
    try {
      return new URL(value).host === "" ? undefined : value;
    } catch {
      return undefined;
    }
  },
};

/** A host name as a Host header carries it, without scheme, port or path (server.allowedHosts). */
export const hostNameKind: ValueKind<string> = {
  expected: "a host name without scheme or port, such as stowd.internal",
  parse: (value) =>
    typeof value === "string" && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(value) ? value : undefined,
};

/** How a rejected value is shown: strings quoted, other scalars as written. */
export function showValue(value: string | number | boolean, text: string): string {
  return typeof value === "string" ? JSON.stringify(value) : text;
}
