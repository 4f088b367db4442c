// stowd_build_info{version} 1: which version each daemon runs, for a
// dashboard's version panel and for joins (`* on(instance) group_left(version)`).
import { Gauge, type Registry } from "prom-client";

export function registerBuildInfo(registry: Registry, version: string): void {
  new Gauge({
    name: "stowd_build_info",
    help: "Always 1; the version label is the daemon's version (package.json).",
    labelNames: ["version"],
    registers: [registry],
    // One daemon, one version: a cluster scrape shows one series, not the count of workers.
    aggregator: "first",
  }).set({ version }, 1);
}
