// The same tables as BENCHMARKS.md, printed as fixed-width text.
import { fmt, textTable } from "./format.js";
import { isNoisy } from "./markdown.js";
import type { BenchResults } from "./results.js";
import { slowReadersTable, streamTable, unaryTable, workersTable } from "./tables.js";

export function consoleReport(results: BenchResults): string {
  const out: string[] = [];
  for (const section of results.streams) out.push("", section.title, textTable(streamTable(section)));
  if (results.unary !== null) {
    out.push("", results.unary.title, textTable(unaryTable(results.unary)));
    const c = results.unary.cacheCheck;
    if (c !== null) out.push(`cache-on daemon during the runs: ${fmt(c.hits)} hits, ${fmt(c.misses)} misses`);
  }
  if (results.workers != null) out.push("", results.workers.title, textTable(workersTable(results.workers)));
  if (results.slowReaders !== null) out.push("", "Daemon memory under slow readers", textTable(slowReadersTable(results.slowReaders)));
  out.push(
    "",
    `other load during the run: ${fmt(results.noise.foreignCores, 2)} cores busy outside the benchmark's processes, ${fmt(results.noise.stealCores, 2)} cores stolen (of ${results.machine.cores})` +
      (isNoisy(results) ? "  <-- NOISY: numbers are not trustworthy; rerun on a quiet machine" : ""),
    `total ${fmt(results.totalSeconds, 1)} s`,
  );
  return out.join("\n");
}
