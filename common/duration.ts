// Durations in config files: Go's time.ParseDuration syntax ("90s", "1m30s",
// "500ms", "1.5h"), because Flyte configs are written for Go, or a plain
// number of seconds. (Flyte's config.Duration reads a bare JSON number as
// nanoseconds, which nobody writes on purpose; stowd reads seconds.)

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3, // µ (micro sign), as Go accepts
  "\u03bcs": 1e-3, // μ (Greek mu), as Go accepts
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const component = /(\d+(?:\.\d*)?|\.\d+)([a-zµμ]+)/gy;

/** Go duration string → milliseconds; undefined if it is not one. Signs are kept ("-1s" → -1000). */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest.startsWith("-")) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  component.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = component.exec(rest); m !== null; m = component.exec(rest)) {
    const [whole, number, unit] = m as unknown as [string, string, string];
    const scale = unitMs[unit];
    if (scale === undefined) return undefined;
    total += Number(number) * scale;
    consumed += whole.length;
  }
  return consumed === rest.length ? sign * total : undefined;
}

/** A duration as config accepts it: a number of seconds, a numeric string of seconds, or a Go duration string → ms. */
export function parseDurationMs(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value * 1000 : undefined;
  const trimmed = value.trim();
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(trimmed)) return Number(trimmed) * 1000;
  return parseGoDuration(trimmed);
}
