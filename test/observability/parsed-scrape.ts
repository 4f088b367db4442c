// A /metrics scrape read with parse-prometheus-text-format, as families with
// their series. That parser folds a histogram's series into one bucket set
// without labels (it does not keep labelled histograms apart), so a
// histogram's series are read from its `_count` samples instead: parsed again
// with the histogram's TYPE line taken out, they are an untyped family of
// their own, labels intact.
import parsePrometheusTextFormat from "parse-prometheus-text-format";

export interface ScrapedSeries {
  labels: Record<string, string>;
  /** The sample's value; a histogram's observation count. */
  value: number;
}

export interface ScrapedFamily {
  name: string;
  /** "counter", "gauge", "histogram", ... */
  type: string;
  series: ScrapedSeries[];
}

export function parseScrape(text: string): ScrapedFamily[] {
  const families = parsePrometheusTextFormat(text);
  const histograms = new Set(families.filter((f) => f.type === "HISTOGRAM").map((f) => f.name));
  const untyped = parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram$/gm, ""));
  return families.map((family) => {
    // Untyped, each label set's _bucket, _sum and _count lines start new families: every _count family counts.
    const samples = histograms.has(family.name)
      ? untyped.filter((f) => f.name === `${family.name}_count`).flatMap((f) => f.metrics)
      : family.metrics;
    return {
      name: family.name,
      type: family.type.toLowerCase(),
      series: samples.map((s) => ({ labels: s.labels ?? {}, value: Number(s.value) })),
    };
  });
}

/** The label names a family's series carry. */
export function labelNamesOf(family: ScrapedFamily): string[] {
  return [...new Set(family.series.flatMap((s) => Object.keys(s.labels)))].sort();
}

/** The sum of a family's series that carry `labels` (and any others). */
export function valueOf(families: ScrapedFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  return families
    .find((f) => f.name === name)
    ?.series.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
