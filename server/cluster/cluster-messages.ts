// The messages between the primary and its workers besides the cache
// invalidations (server/decorators/worker-invalidation-bus.ts).
import type { MetricFamilies, MetricsFormat } from "../observability/metrics-format.js";

export type ClusterMessage =
  /** Worker -> primary: both ports listen; the fields of its "stowd serving" line. */
  | { stowd: "serving"; fields: Record<string, unknown> }
  /** Worker -> primary: a /metrics scrape asks for every worker's metrics, in `format`. */
  | { stowd: "metrics"; id: number; format: MetricsFormat }
  /** Primary -> worker: the summed metrics as text in the format asked for, or why not. */
  | { stowd: "metrics-text"; id: number; text: string; error?: string }
  /** Primary -> every worker: send your metrics' values for scrape `id`. */
  | { stowd: "metrics-collect"; id: number }
  /** Worker -> primary: its metrics' values (Registry.getMetricsAsJSON), or why not. */
  | { stowd: "metrics-values"; id: number; families: MetricFamilies; error?: string };

function kindOf(message: unknown): unknown {
  return (message as { stowd?: unknown } | null)?.stowd;
}

export const isServingNotice = (m: unknown): m is Extract<ClusterMessage, { stowd: "serving" }> => kindOf(m) === "serving";
export const isMetricsRequest = (m: unknown): m is Extract<ClusterMessage, { stowd: "metrics" }> => kindOf(m) === "metrics";
export const isMetricsAnswer = (m: unknown): m is Extract<ClusterMessage, { stowd: "metrics-text" }> => kindOf(m) === "metrics-text";
export const isMetricsCollect = (m: unknown): m is Extract<ClusterMessage, { stowd: "metrics-collect" }> => kindOf(m) === "metrics-collect";
export const isMetricsValues = (m: unknown): m is Extract<ClusterMessage, { stowd: "metrics-values" }> => kindOf(m) === "metrics-values";
