// What a worker process (server.workers > 1) does differently from a
// one-process daemon, all over its IPC channel to the primary
// (primary.ts): its cache invalidations reach the other workers, its
// "stowd serving" fields go to the primary (which logs one line for the
// daemon), /metrics answers every worker's metrics summed, and its log lines
// carry `"worker":<id>` so an operator can tell the workers apart.
import cluster from "node:cluster";
import type { Registry } from "prom-client";
import type { InvalidationBus } from "../decorators/cached-store.js";
import { createWorkerInvalidationBus } from "../decorators/worker-invalidation-bus.js";
import { addLogFields } from "../observability/log.js";
import type { MetricsFormat } from "../observability/metrics-format.js";
import { isMetricsAnswer, isMetricsCollect, type ClusterMessage } from "./cluster-messages.js";

export interface WorkerLink {
  bus: InvalidationBus;
  announce: (fields: Record<string, unknown>) => void;
  scrape: (format: MetricsFormat) => Promise<string>;
}

export function joinPrimary(registry: Registry): WorkerLink {
  const id = cluster.worker?.id ?? 0;
  addLogFields({ worker: id });

  const send = (message: ClusterMessage) => process.send?.(message);
  const scrapes = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let nextScrape = 0;
  process.on("message", (message: unknown) => {
    if (isMetricsCollect(message)) {
      registry.getMetricsAsJSON().then(
        (families) => send({ stowd: "metrics-values", id: message.id, families }),
        (err: unknown) => send({ stowd: "metrics-values", id: message.id, families: [], error: String(err) }),
      );
      return;
    }
    if (!isMetricsAnswer(message)) return;
    const scrape = scrapes.get(message.id);
    scrapes.delete(message.id);
    if (message.error === undefined) scrape?.resolve(message.text);
    else scrape?.reject(new Error(message.error));
  });

  return {
    bus: createWorkerInvalidationBus(process as Parameters<typeof createWorkerInvalidationBus>[0]),
    announce: (fields) => send({ stowd: "serving", fields }),
    scrape: (format) =>
      new Promise((resolve, reject) => {
        const scrapeId = nextScrape++;
        scrapes.set(scrapeId, { resolve, reject });
        send({ stowd: "metrics", id: scrapeId, format });
      }),
  };
}
