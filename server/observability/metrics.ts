// Prometheus metrics (prom-client), served at /metrics on the HTTP port.
// Labelled by RPC method, store node, backend, scheme, op and status code —
// never by key or reference, so cardinality stays bounded.
import { Code } from "@connectrpc/connect";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { StowdError } from "../../common/errors.js";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface Metrics {
  registry: Registry;
  rpcRequests: Counter<"method" | "code">;
  rpcDuration: Histogram<"method" | "code">;
  rpcInFlight: Gauge<"method">;
  storeOperations: Counter<"node" | "backend" | "scheme" | "op" | "code">;
  storeDuration: Histogram<"node" | "backend" | "scheme" | "op" | "code">;
  storeBytesRead: Counter<"node" | "backend" | "scheme">;
  storeBytesWritten: Counter<"node" | "backend" | "scheme">;
  storeStreamsInFlight: Gauge<"node" | "backend" | "op">;
  cacheHits: Counter;
  cacheMisses: Counter;
  cacheEvictions: Counter;
  cacheSkippedTooLarge: Counter;
  cacheEntries: Gauge;
  cacheBytes: Gauge;
  limitRejections: Counter;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    rpcRequests: new Counter({
      name: "stowd_rpc_requests_total",
      help: "RPCs handled, by method and status code.",
      labelNames: ["method", "code"],
      registers,
    }),
    rpcDuration: new Histogram({
      name: "stowd_rpc_duration_seconds",
      help: "RPC latency until the response (or the end of a stream).",
      labelNames: ["method", "code"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    rpcInFlight: new Gauge({ name: "stowd_rpc_in_flight", help: "RPCs in progress, streams included.", labelNames: ["method"], registers }),
    storeOperations: new Counter({
      name: "stowd_store_operations_total",
      help: "Operations on each store node, by backend, scheme, op and status code.",
      labelNames: ["node", "backend", "scheme", "op", "code"],
      registers,
    }),
    storeDuration: new Histogram({
      name: "stowd_store_operation_duration_seconds",
      help: "Store operation latency (for reads: until the stream is open).",
      labelNames: ["node", "backend", "scheme", "op", "code"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    storeBytesRead: new Counter({
      name: "stowd_store_read_bytes_total",
      help: "Bytes read out of each store node.",
      labelNames: ["node", "backend", "scheme"],
      registers,
    }),
    storeBytesWritten: new Counter({
      name: "stowd_store_written_bytes_total",
      help: "Bytes written into each store node.",
      labelNames: ["node", "backend", "scheme"],
      registers,
    }),
    storeStreamsInFlight: new Gauge({
      name: "stowd_store_streams_in_flight",
      help: "Open read and write streams per store node.",
      labelNames: ["node", "backend", "op"],
      registers,
    }),
    cacheHits: new Counter({ name: "stowd_cache_hits_total", help: "Reads and heads answered from the cache.", registers }),
    cacheMisses: new Counter({ name: "stowd_cache_misses_total", help: "Reads and heads the cache could not answer.", registers }),
    cacheEvictions: new Counter({ name: "stowd_cache_evictions_total", help: "Entries evicted to make room.", registers }),
    cacheSkippedTooLarge: new Counter({
      name: "stowd_cache_skipped_too_large_total",
      help: "Reads of objects larger than 1/1024 of the cache, which are never cached.",
      registers,
    }),
    cacheEntries: new Gauge({ name: "stowd_cache_entries", help: "Objects in the cache.", registers }),
    cacheBytes: new Gauge({ name: "stowd_cache_bytes", help: "Bytes charged to the cache.", registers }),
    limitRejections: new Counter({
      name: "stowd_download_limit_rejections_total",
      help: "Reads rejected by limits.maxDownloadMBs.",
      registers,
    }),
  };
}

/** The status code label of an outcome: "OK", or the gRPC code name such as "NOT_FOUND". */
export function codeLabel(err: unknown): string {
  if (err === undefined) return "OK";
  const code = err instanceof StowdError ? err.code : (err as { code?: unknown }).code;
  return typeof code === "number" && Code[code] !== undefined ? grpcCodeName(code) : "UNKNOWN";
}

function grpcCodeName(code: Code): string {
  // Connect's enum names are CamelCase (NotFound); gRPC's are NOT_FOUND.
  return (Code[code] ?? "Unknown")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toUpperCase()
    .replace("CANCELED", "CANCELLED");
}
