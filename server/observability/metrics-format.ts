// The two text formats /metrics answers in: Prometheus text (0.0.4) by
// default, OpenMetrics 1.0.0 when the scrape's Accept header prefers it (as
// Prometheus's own scrapes do). The daemon's registry stays in Prometheus
// format: prom-client renames a registry's counters in place when it renders
// OpenMetrics (`x_total` becomes `x`), which would corrupt a concurrent or
// later Prometheus scrape of the same registry. So OpenMetrics, and every
// cluster scrape, is rendered from the metrics' values (getMetricsAsJSON) into
// a registry of its own, made for that one scrape.
import { Registry, type RegistryContentType } from "prom-client";

export type MetricsFormat = "prometheus" | "openmetrics";

/** Metric families with their values, as Registry.getMetricsAsJSON gives them (and cluster workers send them). */
export type MetricFamilies = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

export const METRICS_CONTENT_TYPES: Record<MetricsFormat, RegistryContentType> = {
  prometheus: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
};

/**
 * The format an Accept header asks for: OpenMetrics when it names
 * application/openmetrics-text (version 1.0.0 or none) with a q at least as
 * high as any Prometheus text range it names; Prometheus text otherwise.
 */
export function metricsFormatOf(accept: string | undefined): MetricsFormat {
  let openMetrics = 0;
  let text = 0;
  for (const range of (accept ?? "").split(",")) {
    const [type = "", ...params] = range.split(";").map((p) => p.trim().toLowerCase());
    const param = (name: string) => params.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1);
    const q = Number(param("q") ?? "1");
    if (!(q > 0)) continue;
    const version = param("version");
    if (type === "application/openmetrics-text" && (version === undefined || version === "1.0.0")) openMetrics = Math.max(openMetrics, q);
    else if (type === "text/plain") text = Math.max(text, q);
  }
  return openMetrics > 0 && openMetrics >= text ? "openmetrics" : "prometheus";
}

/** A registry's metrics in `format`. */
export async function scrapeRegistry(registry: Registry, format: MetricsFormat): Promise<string> {
  return format === "prometheus" ? registry.metrics() : renderMetrics(await registry.getMetricsAsJSON(), format);
}

/** Metric families rendered in `format`, through a registry made for this one rendering. */
export async function renderMetrics(families: MetricFamilies, format: MetricsFormat): Promise<string> {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(METRICS_CONTENT_TYPES[format]);
  for (const family of families) {
    // OpenMetrics names a counter family without _total and its samples with it; prom-client adds the suffix to the samples.
    const name = format === "openmetrics" && (family.type as unknown) === "counter" ? family.name.replace(/_total$/, "") : family.name;
    const rendered = { ...family, name };
    registry.registerMetric({ ...rendered, get: () => rendered } as unknown as Parameters<Registry["registerMetric"]>[0]);
  }
  return registry.metrics();
}
