// OpenTelemetry tracing, configured the standard way: by the OTEL_*
// environment variables (exporter, protocol, endpoint, headers, sampler,
// resource), which NodeSDK reads itself. It is off unless that environment
// asks for traces, and OTEL_SDK_DISABLED=true turns it off whatever else is
// set. Off, the SDK is never loaded: the call pipeline, the store tree and
// the signed-URL route ask daemonTracer() once at startup and compose no
// tracing stage at all, so an untraced call costs nothing extra. Each
// process that serves (one daemon, or each worker of server.workers) starts
// its own; main.ts flushes and shuts it down on a graceful stop.
import type { Tracer } from "@opentelemetry/api";
import { log } from "./log.js";

/** The resource's service.name when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES names one. */
export const DEFAULT_SERVICE_NAME = "stowd";

/** The instrumentation scope of the daemon's spans. */
const TRACER_NAME = "stowd";

/** How long a stop waits for the last spans to go out: an unreachable collector must not hold the process up. */
export const SHUTDOWN_BOUND_MS = 3_000;

export interface StartedTracing {
  /** Exports the spans still buffered and stops the exporter. */
  shutdown(): Promise<void>;
}

let tracer: Tracer | undefined;

/** The daemon's tracer when tracing was started in this process, else undefined: asked once per composition, at startup. */
export function daemonTracer(): Tracer | undefined {
  return tracer;
}

/**
 * Whether the environment asks for traces: OTEL_TRACES_EXPORTER set to an
 * exporter (not "none"), or an OTLP endpoint set; never with
 * OTEL_SDK_DISABLED=true.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter !== undefined && exporter !== "") return exporter !== "none";
  return nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT) || nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts tracing when `env` asks for it (tracingRequested), with no metrics
 * or logs exporters and no auto-instrumentation: the daemon's own spans
 * only. NodeSDK reads its settings from process.env, which is `env` in the
 * daemon. Returns undefined, having loaded nothing, when it is off.
 */
export async function startTracing(env: NodeJS.ProcessEnv): Promise<StartedTracing | undefined> {
  if (!tracingRequested(env)) return undefined;
  const [{ NodeSDK }, { W3CTraceContextPropagator }, api] = await Promise.all([
    import("@opentelemetry/sdk-node"),
    import("@opentelemetry/core"),
    import("@opentelemetry/api"),
  ]);
  const sdk = new NodeSDK({
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    // W3C traceparent/tracestate, unless OTEL_PROPAGATORS names others (NodeSDK reads it when this is undefined).
    ...(nonEmpty(env.OTEL_PROPAGATORS) ? {} : { textMapPropagator: new W3CTraceContextPropagator() }),
    // NodeSDK's serviceName outranks the environment: given only when the environment names none.
    ...(namesService(env) ? {} : { serviceName: DEFAULT_SERVICE_NAME }),
  });
  // The SDK's own complaints (a collector that refuses or cannot be reached) reach the daemon's log, unless
  // OTEL_LOG_LEVEL asked for its console logger (NodeSDK set that up above).
  if (!nonEmpty(env.OTEL_LOG_LEVEL)) {
    const complain = (message: string, ...args: unknown[]) =>
      log("warn", "tracing", { message, ...(args.length > 0 ? { detail: args.map(String).join(" ") } : {}) });
    api.diag.setLogger({ error: complain, warn: complain, info: () => {}, debug: () => {}, verbose: () => {} }, api.DiagLogLevel.WARN);
  }
  sdk.start();
  tracer = api.trace.getTracer(TRACER_NAME);
  const exporter = env.OTEL_TRACES_EXPORTER?.trim() || "otlp";
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
  log("info", "tracing on", { exporter, ...(exporter.includes("otlp") ? { protocol } : {}) });
  return {
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), SHUTDOWN_BOUND_MS)));
      const outcome = await Promise.race([
        sdk.shutdown().then(
          () => "done" as const,
          (err: unknown) => (log("warn", "tracing: the last spans could not be exported", { err: String(err) }), "failed" as const),
        ),
        late,
      ]);
      clearTimeout(timer);
      if (outcome === "late")
        log("warn", `tracing: the last spans were not exported within ${SHUTDOWN_BOUND_MS / 1000} s of the stop; stopping without them`);
    },
  };
}

function namesService(env: NodeJS.ProcessEnv): boolean {
  return nonEmpty(env.OTEL_SERVICE_NAME) || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? "");
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== "";
}
