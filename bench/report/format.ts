// Number formatting and a table model both the console and BENCHMARKS.md render.
import { median } from "../harness/stats.js";

export interface Table {
  head: string[];
  rows: string[][];
  /** Columns aligned left (the rest right). */
  leftColumns: number;
}

export function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "median (min–max)", or just the value for one run. */
export function spread(values: number[], digits = 0): string {
  if (values.length <= 1) return fmt(values[0], digits);
  return `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;
}

export function sizeLabel(bytes: number): string {
  const MiB = 1024 * 1024;
  return bytes >= MiB && bytes % MiB === 0 ? `${bytes / MiB} MiB` : bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** Fixed-width text, for the console. */
export function textTable(t: Table): string {
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < t.leftColumns ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(t.head), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)].join("\n");
}

/** A GitHub-flavoured Markdown table. */
export function markdownTable(t: Table): string {
  const esc = (c: string) => c.replace(/\|/g, "\\|");
  const align = t.head.map((_, i) => (i < t.leftColumns ? ":--" : "--:"));
  return [t.head, align, ...t.rows].map((r) => `| ${r.map(esc).join(" | ")} |`).join("\n");
}
