// The metrics table of README.md's "Metrics" section, read for the tests that
// hold the daemon to it: each row's metric name, type and label names; a row
// naming `prefix_*` stands for every family with that prefix (prom-client's
// process_* and nodejs_* defaults).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/repo-root.js";

export interface ListedMetric {
  name: string;
  type: string;
  labels: string[];
}

export interface MetricsList {
  metrics: ListedMetric[];
  /** The prefixes of `prefix_*` rows. */
  prefixes: string[];
}

export function readmeMetricsList(): MetricsList {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf("\n## Metrics\n");
  if (start < 0) throw new Error("README.md has no '## Metrics' section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const list: MetricsList = { metrics: [], prefixes: [] };
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    // | `name` | type | `label`, `label` | what |
    if (cells.length < 5 || !cells[1]!.startsWith("`")) continue;
    const names = [...cells[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    if (names.every((n) => n.endsWith("*"))) {
      list.prefixes.push(...names.map((n) => n.slice(0, -1)));
      continue;
    }
    const labels = [...cells[3]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    list.metrics.push(...names.map((name) => ({ name, type: cells[2]!, labels })));
  }
  return list;
}
