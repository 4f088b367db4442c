// /metrics content negotiation: OpenMetrics 1.0.0 when the Accept header
// prefers it (Prometheus's own scrape header), Prometheus text otherwise; and
// an OpenMetrics scrape leaves the registry as it was, so Prometheus scrapes
// running beside it or after it still show every family under its name.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricsFormatOf } from "../../server/observability/metrics-format.js";
import { startExercisedDaemon, type ExercisedDaemon } from "./exercised-daemon.js";
import { parseScrape } from "./parsed-scrape.js";

/** What Prometheus 2.x/3.x sends when scraping. */
const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

describe("metricsFormatOf", () => {
  it.each([
    [undefined, "prometheus"],
    ["*/*", "prometheus"],
    ["text/plain", "prometheus"],
    [PROMETHEUS_ACCEPT, "openmetrics"],
    ["application/openmetrics-text", "openmetrics"],
    ["text/plain;q=1, application/openmetrics-text;version=1.0.0;q=0.5", "prometheus"],
    ["application/openmetrics-text;version=0.0.1", "prometheus"],
    ["application/openmetrics-text;q=0", "prometheus"],
  ] as const)("Accept %s: %s", (accept, format) => {
    expect(metricsFormatOf(accept)).toBe(format);
  });
});

describe("/metrics", () => {
  let daemon: ExercisedDaemon;
  beforeAll(async () => {
    daemon = await startExercisedDaemon();
  });
  afterAll(() => daemon?.close());

  it("answers OpenMetrics to Prometheus's Accept header: counter families without _total, samples with it, # EOF", async () => {
    const { contentType, text } = await daemon.scrape(PROMETHEUS_ACCEPT);
    expect(contentType).toBe(OPENMETRICS);
    expect(text.endsWith("# EOF\n")).toBe(true);
    expect(text).toMatch(/^# TYPE grpc_server_handled counter$/m);
    expect(text).toMatch(/^grpc_server_handled_total\{grpc_type="server_stream",[^}]*grpc_code="OK"\} \d+$/m);
    expect(text).toMatch(/^# TYPE grpc_server_handling_seconds histogram$/m);
    expect(text).toMatch(/^grpc_server_handling_seconds_bucket\{le="\+Inf",/m);
    expect(text).toMatch(/^stowd_build_info\{version="[^"]+"\} 1$/m);
    expect(text).not.toContain("_total_total");
  });

  it("answers Prometheus text without an Accept header, and OpenMetrics scrapes beside it change nothing in it", async () => {
    const before = await daemon.scrape();
    expect(before.contentType).toBe(PROMETHEUS_TEXT);
    expect(before.text).toMatch(/^# TYPE grpc_server_handled_total counter$/m);
    const names = parseScrape(before.text).map((f) => f.name);
    const scrapes = await Promise.all([
      daemon.scrape(PROMETHEUS_ACCEPT),
      daemon.scrape(),
      daemon.scrape(PROMETHEUS_ACCEPT),
      daemon.scrape(),
    ]);
    expect(scrapes.map((s) => s.contentType)).toEqual([OPENMETRICS, PROMETHEUS_TEXT, OPENMETRICS, PROMETHEUS_TEXT]);
    for (const text of [scrapes[1].text, scrapes[3].text, (await daemon.scrape()).text]) {
      expect(parseScrape(text).map((f) => f.name)).toEqual(names);
      expect(text).not.toContain("# EOF");
    }
  });
});
