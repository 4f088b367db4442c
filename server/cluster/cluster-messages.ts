// The messages between the primary and its workers besides the cache
// invalidations (server/decorators/worker-invalidation-bus.ts) and
// prom-client's own metrics requests.
export type ClusterMessage =
  /** Worker -> primary: both ports listen; the fields of its "stowd serving" line. */
  | { stowd: "serving"; fields: Record<string, unknown> }
  /** Worker -> primary: a /metrics scrape asks for every worker's metrics. */
  | { stowd: "metrics"; id: number }
  /** Primary -> worker: the summed metrics as Prometheus text, or why not. */
  | { stowd: "metrics-text"; id: number; text: string; error?: string };

function kindOf(message: unknown): unknown {
  return (message as { stowd?: unknown } | null)?.stowd;
}

export const isServingNotice = (m: unknown): m is Extract<ClusterMessage, { stowd: "serving" }> => kindOf(m) === "serving";
export const isMetricsRequest = (m: unknown): m is Extract<ClusterMessage, { stowd: "metrics" }> => kindOf(m) === "metrics";
export const isMetricsAnswer = (m: unknown): m is Extract<ClusterMessage, { stowd: "metrics-text" }> => kindOf(m) === "metrics-text";
