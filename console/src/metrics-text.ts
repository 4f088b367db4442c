// The daemon's /metrics (Prometheus text format) read into the three totals
// the console charts. Every metric name the console depends on is here, in
// one place, so a rename on the daemon's side (server/observability/
// metrics.ts) is one edit here.

/** The daemon's metric names the console reads. */
export const METRIC_NAMES = {
  /** RPCs handled (go-grpc-prometheus's name), labelled by `grpc_code` ("OK" or a gRPC code name such as "NotFound"). */
  rpcHandled: "grpc_server_handled_total",
  /** Daemon-signed URL requests, labelled by `reason` ("OK" or why the request failed). */
  httpRequests: "stowd_http_requests_total",
  /** Bytes read out of each backend (metered once, at the backend). */
  bytesRead: "stowd_store_read_bytes_total",
  /** Bytes written into each backend. */
  bytesWritten: "stowd_store_written_bytes_total",
} as const;

/** The grpc_code and reason label of a successful call or request. */
const OK = "OK";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Running totals since the daemon started; the charts turn two of them into rates. */
export interface Totals {
  calls: number;
  errors: number;
  bytes: number;
}

/** Parses the sample lines of the text format (comments and blank lines skipped; a line that does not parse is skipped too). */
export function parseMetricsText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sample = parseSampleLine(line);
    if (sample !== undefined) samples.push(sample);
  }
  return samples;
}

/** `name{label="value",...} 12.5 [timestamp]` */
function parseSampleLine(line: string): Sample | undefined {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (nameMatch === null) return undefined;
  const name = nameMatch[0];
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    const end = labelBlockEnd(rest);
    if (end < 0) return undefined;
    const block = rest.slice(1, end);
    for (const m of block.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]!] = unescapeLabel(m[2]!);
    }
    rest = rest.slice(end + 1);
  }
  const valueText = rest.trim().split(/\s+/)[0] ?? "";
  const value = parseValue(valueText);
  return value === undefined ? undefined : { name, labels, value };
}

/** The index of the `}` closing the label block, skipping quoted values (which may hold `}`). */
function labelBlockEnd(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === "}") return i;
  }
  return -1;
}

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseValue(text: string): number | undefined {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const value = Number(text);
  return text === "" || Number.isNaN(value) ? undefined : value;
}

/** Calls (RPCs and signed-URL requests), failed calls and bytes moved so far, summed over every label. */
export function totalsOf(samples: Sample[]): Totals {
  const totals: Totals = { calls: 0, errors: 0, bytes: 0 };
  for (const s of samples) {
    if (s.name === METRIC_NAMES.rpcHandled || s.name === METRIC_NAMES.httpRequests) {
      totals.calls += s.value;
      if ((s.name === METRIC_NAMES.rpcHandled ? s.labels.grpc_code : s.labels.reason) !== OK) totals.errors += s.value;
    } else if (s.name === METRIC_NAMES.bytesRead || s.name === METRIC_NAMES.bytesWritten) {
      totals.bytes += s.value;
    }
  }
  return totals;
}
