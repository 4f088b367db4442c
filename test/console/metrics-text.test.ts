// The console's reading of /metrics: the text format parsed, the three
// totals summed from the daemon's metric names, and rates from two readings.
// The last test reads a real daemon registry's text, so a renamed metric in
// server/observability/metrics.ts fails here, not silently in the charts.
import { describe, expect, it } from "vitest";
import { addRates, EMPTY_SERIES } from "../../console/src/metric-rates.js";
import { METRIC_NAMES, parseMetricsText, totalsOf } from "../../console/src/metrics-text.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { createRpcMeter } from "../../server/calls/call-metrics.js";
import { createMetrics } from "../../server/observability/metrics.js";

const TEXT = `# HELP grpc_server_handled_total RPCs completed on the server.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_method="Head",grpc_code="OK"} 10
grpc_server_handled_total{grpc_method="ReadRaw",grpc_code="NotFound"} 3
grpc_server_handled_total{grpc_method="odd}\\"name",grpc_code="PermissionDenied"} 2
stowd_http_requests_total{handler="signed_url",method="GET",code="200",reason="OK"} 4
stowd_http_requests_total{handler="signed_url",method="GET",code="403",reason="BAD_SIGNATURE"} 1

stowd_store_read_bytes_total{backend="memory",scheme="mem"} 1024
stowd_store_written_bytes_total{backend="memory",scheme="mem"} 2048 1700000000000
process_cpu_seconds_total 1.5e-3
grpc_server_handling_seconds_bucket{le="+Inf",grpc_method="m"} 10
not a sample line
`;

describe("parseMetricsText", () => {
  it("reads names, labels (quoted braces and escapes included) and values, skipping comments and junk", () => {
    const samples = parseMetricsText(TEXT);
    expect(samples).toHaveLength(9);
    expect(samples[2]).toEqual({
      name: METRIC_NAMES.rpcHandled,
      labels: { grpc_method: 'odd}"name', grpc_code: "PermissionDenied" },
      value: 2,
    });
    expect(samples[6]).toEqual({ name: METRIC_NAMES.bytesWritten, labels: { backend: "memory", scheme: "mem" }, value: 2048 });
    expect(samples[7]).toEqual({ name: "process_cpu_seconds_total", labels: {}, value: 0.0015 });
    expect(samples[8]!.labels.le).toBe("+Inf");
  });

  it("sums calls and signed-URL requests, the failed ones (any code or reason but OK) and bytes read and written", () => {
    expect(totalsOf(parseMetricsText(TEXT))).toEqual({ calls: 20, errors: 6, bytes: 3072 });
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
    // Counted as the call pipeline counts calls.
    const head = createRpcMeter(metrics, RawStoreService.method.head);
    for (let i = 0; i < 4; i++) {
      head.begin("grpc");
      head.end("grpc", undefined, 0.001);
    }
    const list = createRpcMeter(metrics, RawStoreService.method.list);
    list.begin("connect");
    list.end("connect", new ConnectError("denied", Code.PermissionDenied), 0.001);
    metrics.httpRequests.inc({ handler: "signed_url", method: "GET", code: "200", reason: "OK" }, 2);
    metrics.httpRequests.inc({ handler: "signed_url", method: "PUT", code: "413", reason: "LIMIT_EXCEEDED" });
    metrics.storeBytesRead.inc({ backend: "memory", scheme: "mem" }, 100);
    metrics.storeBytesWritten.inc({ backend: "memory", scheme: "mem" }, 50);
    expect(totalsOf(parseMetricsText(await metrics.registry.metrics()))).toEqual({ calls: 8, errors: 2, bytes: 150 });
  });
});
