// The chart BENCHMARKS.md shows: horizontal bars of every ratio the tables
// report (stowd over its ceiling or baseline), one panel per section, with
// lines at 1.0 and at a section's goal. Hand-written SVG: a bar chart is a few
// dozen lines of text, not worth a charting library and its dependencies.
import { median } from "../harness/stats.js";
import { sizeLabel } from "./format.js";
import type { BenchResults } from "./results.js";
import { streamRatio } from "./tables.js";

interface Bar {
  label: string;
  value: number;
  kind: "read" | "write" | "unary";
}

interface Panel {
  title: string;
  bars: Bar[];
  goal?: number;
}

const COLORS: Record<Bar["kind"], string> = { read: "#3b78c3", write: "#e08a2c", unary: "#4a9d5b" };

export function chartPanels(results: BenchResults): Panel[] {
  const panels: Panel[] = results.streams.map((section) => {
    const baseline = section.baselines[0] ?? "";
    const bars = section.cells
      .filter((c) => c.target !== baseline)
      .map((c) => ({
        label: `${c.op === "read" ? "ReadRaw" : "WriteRaw"} ${sizeLabel(c.sizeBytes)} ${c.target}`,
        value: streamRatio(section, c, baseline),
        kind: c.op,
      }));
    return { title: `${section.title}: MB/s ÷ ${baseline}`, bars, ...(section.goal === undefined ? {} : { goal: section.goal }) };
  });
  const u = results.unary;
  if (u !== null) {
    const cps = (runs: { callsPerSecond: number }[]) => median(runs.map((r) => r.callsPerSecond));
    const bars = u.cells
      .filter((c) => c.target !== u.ceiling)
      .map((c) => {
        const base = u.cells.find((b) => b.target === u.ceiling && b.concurrency === c.concurrency);
        return {
          label: `${c.target}${c.cache === "n/a" ? "" : ` (${c.cache})`} ×${c.concurrency}`,
          value: base === undefined ? NaN : cps(c.runs) / cps(base.runs),
          kind: "unary" as const,
        };
      });
    panels.push({ title: `Small calls: calls/s ÷ ${u.ceiling}`, bars });
  }
  return panels;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function chartSvg(results: BenchResults): string {
  const panels = chartPanels(results);
  const width = 960;
  const labelWidth = 360;
  const barArea = width - labelWidth - 70;
  const barHeight = 14;
  const step = 19;
  const values = panels.flatMap((p) => p.bars.map((b) => b.value)).filter(Number.isFinite);
  // The axis stops at 2.5: one ceiling far above the rest must not squash the
  // stowd bars; a longer bar is cut at the edge and keeps its number.
  const max = Math.min(2.5, Math.max(1.2, ...values)) * 1.05;
  const x = (v: number) => labelWidth + (Math.min(max, Math.max(0, v)) / max) * barArea;
  const out: string[] = [];
  let y = 40;
  out.push(
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">stowd benchmark ratios (${esc(results.date.slice(0, 10))}${results.quick ? ", QUICK RUN" : ""})</text>`,
  );
  for (const panel of panels) {
    y += 14;
    out.push(`<text x="8" y="${y}" font-size="13" font-weight="bold">${esc(panel.title)}</text>`);
    y += 8;
    const top = y;
    for (const bar of panel.bars) {
      const w = Number.isFinite(bar.value) ? x(bar.value) - labelWidth : 0;
      out.push(`<text x="${labelWidth - 6}" y="${y + barHeight - 3}" text-anchor="end" font-size="11">${esc(bar.label)}</text>`);
      out.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[bar.kind]}"/>`);
      const cut = bar.value > max ? " ▸" : "";
      out.push(
        `<text x="${(labelWidth + w + 4).toFixed(1)}" y="${y + barHeight - 3}" font-size="11">${Number.isFinite(bar.value) ? bar.value.toFixed(2) : "–"}${cut}</text>`,
      );
      y += step;
    }
    // The goal sits just left of 1.0: its label goes left of its line, 1.0's right of its own.
    const line = (v: number, color: string, label: string, anchor: "start" | "end") => {
      out.push(
        `<line x1="${x(v).toFixed(1)}" y1="${top - 4}" x2="${x(v).toFixed(1)}" y2="${y}" stroke="${color}" stroke-dasharray="4 3"/>`,
      );
      const dx = anchor === "start" ? 3 : -3;
      out.push(`<text x="${(x(v) + dx).toFixed(1)}" y="${y + 11}" text-anchor="${anchor}" font-size="10" fill="${color}">${label}</text>`);
    };
    line(1, "#555", "1.0", "start");
    if (panel.goal !== undefined) line(panel.goal, "#c0392b", `goal ${panel.goal}`, "end");
    y += 16;
  }
  const legendY = y + 6;
  const legend = (Object.keys(COLORS) as Bar["kind"][]).map((k, i) => {
    const lx = labelWidth + i * 110;
    return `<rect x="${lx}" y="${legendY}" width="12" height="12" fill="${COLORS[k]}"/><text x="${lx + 16}" y="${legendY + 10}" font-size="11">${k === "unary" ? "small calls" : k === "read" ? "ReadRaw" : "WriteRaw"}</text>`;
  });
  out.push(...legend);
  const height = legendY + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}
