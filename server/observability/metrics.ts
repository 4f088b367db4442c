// Prometheus metrics (prom-client), served at /metrics on the HTTP port.
// The RPC metrics carry go-grpc-prometheus's names and labels, which stock
// gRPC dashboards chart; the rest are stowd_*. Labelled by service, method,
// protocol, backend, scheme, op, layer and status code — never by key or
// reference, so cardinality stays bounded. README.md lists every name and
// label (test/observability/ checks the list against a scrape).
import { Code } from "@connectrpc/connect";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { StowdError } from "../../common/errors.js";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The labels of go-grpc-prometheus's server metrics, plus the protocol the call came in by (grpc, grpc-web, connect). */
export type GrpcLabel = "grpc_type" | "grpc_service" | "grpc_method" | "protocol";
type StoreLabel = "backend" | "scheme" | "op" | "code";

/**
 * The calls of one method over one protocol, counted as plain numbers by its
 * meter (server/calls/call-metrics.ts) and copied into
 * grpc_server_started_total, grpc_server_handled_total and
 * stowd_rpc_in_flight (started minus handled) when they are read: a call
 * then costs no label hashing for them, only the latency histogram's one.
 */
export interface RpcSeries {
  readonly labels: Readonly<Record<GrpcLabel, string>>;
  started: number;
  /** By grpc_code. */
  readonly handled: Map<string, { readonly labels: Readonly<Record<GrpcLabel | "grpc_code", string>>; count: number }>;
}

export interface Metrics {
  registry: Registry;
  /**
   * Every method's series, one per protocol it was called over; the meters add theirs. They are what
   * grpc_server_started_total and grpc_server_handled_total show (registered, not exposed here: an
   * increment of its own would be overwritten on the next read).
   */
  rpcSeries: RpcSeries[];
  grpcHandlingSeconds: Histogram<GrpcLabel>;
  /** Filled from rpcSeries when read: started minus handled. */
  rpcInFlight: Gauge<"grpc_service" | "grpc_method">;
  storeOperations: Counter<StoreLabel>;
  storeDuration: Histogram<StoreLabel>;
  storeBytesRead: Counter<"backend" | "scheme">;
  storeBytesWritten: Counter<"backend" | "scheme">;
  storeStreamsInFlight: Gauge<"backend" | "op">;
  /** What a decorator of the store tree decided on its own: a cache hit, a download-limit refusal (layer-outcomes.ts). */
  layerOutcomes: Counter<"layer" | "outcome">;
  cacheEntries: Gauge;
  cacheBytes: Gauge;
  /** Plain HTTP requests (daemon-signed URLs), by handler, method, status code and reason (x-stowd-reason, or OK). */
  httpRequests: Counter<"handler" | "method" | "code" | "reason">;
  httpDuration: Histogram<"handler" | "method" | "code">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const grpcLabels: GrpcLabel[] = ["grpc_type", "grpc_service", "grpc_method", "protocol"];
  const storeLabels: StoreLabel[] = ["backend", "scheme", "op", "code"];
  const rpcSeries: RpcSeries[] = [];
  new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server, every protocol (grpc, grpc-web, connect).",
    labelNames: grpcLabels,
    registers,
    collect() {
      this.reset();
      for (const series of rpcSeries) this.inc(series.labels, series.started);
    },
  });
  new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by gRPC status code (Go's names: OK, NotFound, ...).",
    labelNames: [...grpcLabels, "grpc_code"],
    registers,
    collect() {
      this.reset();
      for (const series of rpcSeries) for (const { labels, count } of series.handled.values()) this.inc(labels, count);
    },
  });
  return {
    registry,
    rpcSeries,
    grpcHandlingSeconds: new Histogram({
      name: "grpc_server_handling_seconds",
      help: "RPC latency until the response (or the end of a stream).",
      labelNames: grpcLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    rpcInFlight: new Gauge({
      name: "stowd_rpc_in_flight",
      help: "RPCs in progress, streams included.",
      labelNames: ["grpc_service", "grpc_method"],
      registers,
      collect() {
        this.reset();
        for (const { labels, started, handled } of rpcSeries) {
          let running = started;
          for (const { count } of handled.values()) running -= count;
          this.inc({ grpc_service: labels.grpc_service, grpc_method: labels.grpc_method }, running);
        }
      },
    }),
    storeOperations: new Counter({
      name: "stowd_store_operations_total",
      help: "Backend operations, by backend, scheme, op and status code; counted once, at the backend.",
      labelNames: storeLabels,
      registers,
    }),
    storeDuration: new Histogram({
      name: "stowd_store_operation_duration_seconds",
      help: "Backend operation latency (for reads: until the stream is open).",
      labelNames: storeLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    storeBytesRead: new Counter({
      name: "stowd_store_read_bytes_total",
      help: "Bytes read out of each backend.",
      labelNames: ["backend", "scheme"],
      registers,
    }),
    storeBytesWritten: new Counter({
      name: "stowd_store_written_bytes_total",
      help: "Bytes written into each backend.",
      labelNames: ["backend", "scheme"],
      registers,
    }),
    storeStreamsInFlight: new Gauge({
      name: "stowd_store_streams_in_flight",
      help: "Open read and write streams per backend.",
      labelNames: ["backend", "op"],
      registers,
    }),
    layerOutcomes: new Counter({
      name: "stowd_layer_outcomes_total",
      help: "Outcomes a layer of the store tree decides itself: cache hit, miss, evicted, skipped_too_large; download_limit and container_policy refused.",
      labelNames: ["layer", "outcome"],
      registers,
    }),
    cacheEntries: new Gauge({ name: "stowd_cache_entries", help: "Objects in the cache.", registers }),
    cacheBytes: new Gauge({ name: "stowd_cache_bytes", help: "Bytes charged to the cache.", registers }),
    httpRequests: new Counter({
      name: "stowd_http_requests_total",
      help: "Plain HTTP requests (daemon-signed URLs), by handler, method, status code and reason (x-stowd-reason, or OK).",
      labelNames: ["handler", "method", "code", "reason"],
      registers,
    }),
    httpDuration: new Histogram({
      name: "stowd_http_request_duration_seconds",
      help: "Plain HTTP request latency until the response ended.",
      labelNames: ["handler", "method", "code"],
      buckets: LATENCY_BUCKETS,
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
