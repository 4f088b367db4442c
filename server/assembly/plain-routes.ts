// The HTTP port's plain routes beside the services: /healthz (the process is
// alive and not stopping), /readyz (every backend answers; readiness.ts),
// /metrics (Prometheus text) and, when enabled, the web console under
// /console/ (server/console/).
import { consoleRoutes } from "../console/console-route.js";
import type { Metrics } from "../observability/metrics.js";
import type { PlainRoute } from "../transports/http-listener.js";
import type { Readiness } from "./readiness.js";

export interface PlainRoutesOptions {
  /** False once a graceful stop began. */
  isServing: () => boolean;
  readiness: { check(): Promise<Readiness> };
  metrics: Metrics;
  /** The Prometheus text /metrics answers with. */
  scrape: () => Promise<string>;
  /** Serve the web console at /console/ (server.console). */
  console?: boolean;
}

export function plainRoutes(options: PlainRoutesOptions): Record<string, PlainRoute> {
  const { isServing, readiness, metrics, scrape } = options;
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
    "/metrics": (_req, res) => {
      scrape().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
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
