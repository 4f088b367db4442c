// The console's reading of /metrics: the text format parsed, the three
// totals summed from the daemon's metric names, and rates from two readings.
// The last test reads a real daemon registry's text, so a renamed metric in
// server/observability/metrics.ts fails here, not silently in the charts.
import { describe, expect, it } from "vitest";
import { addRates, EMPTY_SERIES } from "../../console/src/metric-rates.js";
import { METRIC_NAMES, parseMetricsText, totalsOf } from "../../console/src/metrics-text.js";
import { createMetrics } from "../../server/observability/metrics.js";

const TEXT = `# HELP stowd_rpc_requests_total RPCs handled, by method and status code.
# TYPE stowd_rpc_requests_total counter
stowd_rpc_requests_total{method="stowd.v1.RawStoreService/Head",code="OK"} 10
stowd_rpc_requests_total{method="stowd.v1.RawStoreService/ReadRaw",code="NOT_FOUND"} 3
stowd_rpc_requests_total{method="odd}\\"name",code="PERMISSION_DENIED"} 2

stowd_store_read_bytes_total{node="backend",backend="memory",scheme="mem"} 1024
stowd_store_written_bytes_total{node="backend",backend="memory",scheme="mem"} 2048 1700000000000
process_cpu_seconds_total 1.5e-3
stowd_rpc_duration_seconds_bucket{le="+Inf",method="m",code="OK"} 10
not a sample line
`;

describe("parseMetricsText", () => {
  it("reads names, labels (quoted braces and escapes included) and values, skipping comments and junk", () => {
    const samples = parseMetricsText(TEXT);
    expect(samples).toHaveLength(7);
    expect(samples[2]).toEqual({ name: METRIC_NAMES.rpcRequests, labels: { method: 'odd}"name', code: "PERMISSION_DENIED" }, value: 2 });
    expect(samples[4]).toEqual({
      name: METRIC_NAMES.bytesWritten,
      labels: { node: "backend", backend: "memory", scheme: "mem" },
      value: 2048,
    });
    expect(samples[5]).toEqual({ name: "process_cpu_seconds_total", labels: {}, value: 0.0015 });
    expect(samples[6]!.labels.le).toBe("+Inf");
  });

  it("sums calls, failed calls (any code but OK) and bytes read and written", () => {
    expect(totalsOf(parseMetricsText(TEXT))).toEqual({ calls: 15, errors: 5, bytes: 3072 });
  });
});

describe("addRates", () => {
  it("turns two readings into per-second rates, keeps the last points, and skips a restart's negative step", () => {
    const at = (ms: number, calls: number, errors: number, bytes: number) => ({ at: ms, totals: { calls, errors, bytes } });
    let series = addRates(EMPTY_SERIES, at(0, 10, 1, 0), at(2000, 30, 5, 4096), 3);
    expect(series).toEqual({ callsPerSecond: [10], errorsPerSecond: [2], bytesPerSecond: [2048] });
    series = addRates(series, at(2000, 30, 5, 4096), at(4000, 2, 0, 0), 3);
    expect(series.callsPerSecond).toEqual([10, 0]);
    series = addRates(series, at(4000, 2, 0, 0), at(5000, 3, 0, 0), 3);
    series = addRates(series, at(5000, 3, 0, 0), at(6000, 5, 0, 0), 3);
    expect(series.callsPerSecond).toEqual([0, 1, 2]);
  });
});

describe("the daemon's metric names", () => {
  it("are the ones its registry exposes", async () => {
    const metrics = createMetrics();
    metrics.rpcRequests.inc({ method: "stowd.v1.RawStoreService/Head", code: "OK" }, 4);
    metrics.rpcRequests.inc({ method: "stowd.v1.RawStoreService/List", code: "PERMISSION_DENIED" });
    metrics.storeBytesRead.inc({ node: "backend", backend: "memory", scheme: "mem" }, 100);
    metrics.storeBytesWritten.inc({ node: "backend", backend: "memory", scheme: "mem" }, 50);
    expect(totalsOf(parseMetricsText(await metrics.registry.metrics()))).toEqual({ calls: 5, errors: 1, bytes: 150 });
  });
});
