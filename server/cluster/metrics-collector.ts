// The primary's half of a cluster /metrics scrape: asks every connected
// worker for its metrics' values, sums them (prom-client's aggregators: sums,
// or the first value for info series), and renders the sum in the format the
// scrape asked for (observability/metrics-format.ts). prom-client's own
// AggregatorRegistry.clusterMetrics renders Prometheus text only, so the
// collection is ours. A worker that exits mid-scrape is no longer waited for;
// one that does not answer within COLLECT_TIMEOUT_MS fails the scrape.
import type { Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import { renderMetrics, type MetricFamilies, type MetricsFormat } from "../observability/metrics-format.js";
import { isMetricsValues } from "./cluster-messages.js";

const COLLECT_TIMEOUT_MS = 5_000;

interface Collection {
  waiting: Set<Worker>;
  families: MetricFamilies[];
  format: MetricsFormat;
  timer: NodeJS.Timeout;
  done: (err: Error | undefined, text?: string) => void;
}

export interface MetricsCollector {
  /** Every worker's metrics, summed, as text in `format`. */
  collect(format: MetricsFormat): Promise<string>;
  /** Handles a worker's message if it answers a collection; false otherwise. */
  handle(from: Worker, message: unknown): boolean;
  /** A worker exited: no collection waits for it any more. */
  gone(worker: Worker): void;
}

export function createMetricsCollector(workers: () => Iterable<Worker>): MetricsCollector {
  const collections = new Map<number, Collection>();
  let nextId = 0;

  const finishIfComplete = (id: number) => {
    const c = collections.get(id);
    if (c === undefined || c.waiting.size > 0) return;
    collections.delete(id);
    clearTimeout(c.timer);
    const summed = AggregatorRegistry.aggregate(c.families);
    summed
      .getMetricsAsJSON()
      .then((families) => renderMetrics(families, c.format))
      .then(
        (text) => c.done(undefined, text),
        (err: unknown) => c.done(err instanceof Error ? err : new Error(String(err))),
      );
  };

  return {
    collect(format) {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        const waiting = new Set([...workers()].filter((w) => w.isConnected()));
        const timer = setTimeout(() => {
          collections.delete(id);
          reject(new Error(`${waiting.size} worker(s) did not send their metrics within ${COLLECT_TIMEOUT_MS} ms`));
        }, COLLECT_TIMEOUT_MS);
        collections.set(id, {
          waiting,
          families: [],
          format,
          timer,
          done: (err, text) => (err === undefined ? resolve(text ?? "") : reject(err)),
        });
        for (const worker of waiting) worker.send({ stowd: "metrics-collect", id });
        finishIfComplete(id);
      });
    },
    handle(from, message) {
      if (!isMetricsValues(message)) return false;
      const c = collections.get(message.id);
      if (c === undefined || !c.waiting.delete(from)) return true;
      if (message.error !== undefined) {
        collections.delete(message.id);
        clearTimeout(c.timer);
        c.done(new Error(`worker ${from.id} could not read its metrics: ${message.error}`));
        return true;
      }
      c.families.push(message.families);
      finishIfComplete(message.id);
      return true;
    },
    gone(worker) {
      for (const [id, c] of collections) if (c.waiting.delete(worker)) finishIfComplete(id);
    },
  };
}
