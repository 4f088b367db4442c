// The HTTP port's plain routes beside the services: /healthz (the process is
// alive and not stopping), /readyz (every backend answers; readiness.ts),
// /metrics (Prometheus text, or OpenMetrics when asked) and, when enabled, the web console under
// /console/ (server/console/).
import { consoleRoutes } from "../console/console-route.js";
import { METRICS_CONTENT_TYPES, metricsFormatOf, type MetricsFormat } from "../observability/metrics-format.js";
import type { PlainRoute } from "../transports/http-listener.js";
import type { Readiness } from "./readiness.js";

export interface PlainRoutesOptions {
  /** False once a graceful stop began. */
  isServing: () => boolean;
  readiness: { check(): Promise<Readiness> };
  /** The metrics /metrics answers with, in the format the scrape's Accept header asks for (metrics-format.ts). */
  scrape: (format: MetricsFormat) => Promise<string>;
  /** Serve the web console at /console/ (server.console). */
  console?: boolean;
}

export function plainRoutes(options: PlainRoutesOptions): Record<string, PlainRoute> {
  const { isServing, readiness, scrape } = options;
  return {
    ...(options.console === true ? consoleRoutes() : {}),
    "/healthz": (_req, res) => {
      const serving = isServing();
      res.writeHead(serving ? 200 : 503, { "content-type": "text/plain" });
      res.end(serving ? "ok\n" : "stopping\n");
    },
    "/readyz": (_req, res) => {
      readiness.check().then(
        (r) => {
          res.writeHead(r.ready ? 200 : 503, { "content-type": "application/json" });
          res.end(`${JSON.stringify(r)}\n`);
        },
        (err: unknown) => {
          res.writeHead(503, { "content-type": "text/plain" });
          res.end(`readiness check failed: ${String(err)}\n`);
        },
      );
    },
    "/metrics": (req, res) => {
      const format = metricsFormatOf(req.headers.accept);
      scrape(format).then(
        (text) => {
          res.writeHead(200, { "content-type": METRICS_CONTENT_TYPES[format], vary: "accept" });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`metrics failed: ${String(err)}\n`);
        },
      );
    },
  };
}
