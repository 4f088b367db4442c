// The outcome counters of one decorator of the store tree (the cache, the
// download limit): stowd_layer_outcomes_total{layer, outcome}. Each series is
// made once, when the layer is built, so it shows 0 before its first event
// (a rate or a hit ratio has something to start from) and an event costs
// one increment, no label lookup.
import type { Counter } from "prom-client";
import type { Metrics } from "./metrics.js";

export type LayerOutcomeCounters<O extends string> = Record<O, Counter.Internal>;

export function layerOutcomeCounters<O extends string>(metrics: Metrics, layer: string, outcomes: readonly O[]): LayerOutcomeCounters<O> {
  const counters = {} as LayerOutcomeCounters<O>;
  for (const outcome of outcomes) {
    counters[outcome] = metrics.layerOutcomes.labels({ layer, outcome });
    counters[outcome].inc(0);
  }
  return counters;
}
