// When the daemon traces: only when the standard environment asks for traces
// (OTEL_TRACES_EXPORTER other than "none", or an OTLP endpoint), never with
// OTEL_SDK_DISABLED=true; off, startTracing starts nothing.
import { describe, expect, it } from "vitest";
import { daemonTracer, startTracing, tracingRequested } from "../../server/observability/tracing.js";

describe("tracingRequested", () => {
  it.each([
    [{}, false],
    [{ OTEL_SERVICE_NAME: "stowd-a", OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test" }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "" }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }, true],
    [{ OTEL_TRACES_EXPORTER: "otlp" }, true],
    [{ OTEL_TRACES_EXPORTER: "console" }, true],
    [{ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, false],
    [{ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, false],
    [{ OTEL_SDK_DISABLED: "TRUE", OTEL_TRACES_EXPORTER: "otlp" }, false],
    [{ OTEL_SDK_DISABLED: "false", OTEL_TRACES_EXPORTER: "otlp" }, true],
  ] as const)("%j -> %s", (env, on) => {
    expect(tracingRequested(env)).toBe(on);
  });

  it("starts nothing when off: no tracer for the pipeline and the store tree", async () => {
    expect(await startTracing({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "console" })).toBeUndefined();
    expect(daemonTracer()).toBeUndefined();
  });
});
