// deploy/grafana/stowd.json: a Grafana dashboard (panels on the 24-column
// grid, each with PromQL targets on the datasource variable) whose every
// query parses as PromQL (Prometheus's own lezer grammar) and names only
// metrics a real /metrics scrape shows (a histogram's _bucket, _sum and
// _count samples included).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/repo-root.js";
import { startExercisedDaemon, type ExercisedDaemon } from "./exercised-daemon.js";
import { parseScrape } from "./parsed-scrape.js";

interface Target {
  refId?: unknown;
  expr?: unknown;
  datasource?: { type?: unknown; uid?: unknown };
}
interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: { h?: unknown; w?: unknown; x?: unknown; y?: unknown };
  datasource?: { type?: unknown; uid?: unknown };
  targets?: Target[];
}
interface Dashboard {
  title?: unknown;
  uid?: unknown;
  schemaVersion?: unknown;
  panels?: Panel[];
  templating?: { list?: Array<{ name?: unknown; type?: unknown; query?: unknown }> };
}

const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, "deploy/grafana/stowd.json"), "utf8")) as Dashboard;
const panels = dashboard.panels ?? [];
const queryPanels = panels.filter((p) => p.type !== "row");
const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: String(p.title), expr: String(t.expr) })));

/** Grafana's interval variables, which are not PromQL, replaced by a duration; label-value variables sit in strings already. */
const asPromQl = (expr: string) => expr.replace(/\$__(rate_interval|interval|range)\b/g, "5m");

/** The metric names a PromQL expression selects; throws on a syntax error. */
function metricNamesOf(expr: string): string[] {
  const text = asPromQl(expr);
  const names: string[] = [];
  const errors: number[] = [];
  parser.parse(text).iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector") names.push(text.slice(node.from, node.to));
    },
  });
  if (errors.length > 0) throw new Error(`not PromQL at offset ${errors[0]}: ${text}`);
  return names;
}

describe("the Grafana dashboard", () => {
  it("is a dashboard: title, uid, schema version, and panels on the grid with PromQL targets on the datasource variable", () => {
    expect(dashboard.title).toBe("stowd");
    expect(typeof dashboard.uid).toBe("string");
    expect(typeof dashboard.schemaVersion).toBe("number");
    expect(dashboard.templating?.list?.find((v) => v.name === "datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(queryPanels.length).toBeGreaterThan(10);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels) {
      const { h, w, x, y } = panel.gridPos ?? {};
      for (const n of [h, w, x, y]) expect(Number.isInteger(n), String(panel.title)).toBe(true);
      expect((x as number) + (w as number), String(panel.title)).toBeLessThanOrEqual(24);
    }
    for (const panel of queryPanels) {
      expect(typeof panel.title).toBe("string");
      expect(panel.datasource, String(panel.title)).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets?.length, String(panel.title)).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, String(panel.title)).toBe(refIds.length);
      for (const target of panel.targets!) expect(typeof target.expr, String(panel.title)).toBe("string");
    }
  });

  it("charts RPCs, backends, the cache, in-flight work and build info", () => {
    const used = new Set(exprs.flatMap(({ expr }) => metricNamesOf(expr)));
    for (const name of [
      "grpc_server_handled_total",
      "grpc_server_handling_seconds_bucket",
      "stowd_store_operations_total",
      "stowd_store_operation_duration_seconds_bucket",
      "stowd_store_read_bytes_total",
      "stowd_layer_outcomes_total",
      "stowd_rpc_in_flight",
      "stowd_in_flight_bytes",
      "stowd_build_info",
    ])
      expect(used).toContain(name);
  });

  describe("against a real scrape", () => {
    let daemon: ExercisedDaemon;
    let scraped: Set<string>;
    beforeAll(async () => {
      daemon = await startExercisedDaemon();
      const families = parseScrape((await daemon.scrape()).text);
      scraped = new Set(
        families.flatMap((f) => (f.type === "histogram" ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name])),
      );
    });
    afterAll(() => daemon?.close());

    it("every query parses as PromQL and names only metrics /metrics shows", () => {
      expect(exprs.length).toBeGreaterThan(10);
      for (const { panel, expr } of exprs) {
        const names = metricNamesOf(expr);
        expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
        for (const name of names) expect(scraped.has(name), `${panel}: ${name} is not on /metrics`).toBe(true);
      }
    });
  });
});
