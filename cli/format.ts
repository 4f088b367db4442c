// How objects, sizes and times are shown: the --json shapes (plain numbers
// for sizes, hex MD5 and CRC32C, ISO times) and the human ones.
import type { ObjectInfo } from "../client/index.js";

/** An ObjectInfo for --json: hex MD5 and an ISO time, so the output is plain JSON. */
export interface ObjectJson {
  reference: string;
  size: number;
  etag: string;
  /** Hex, as md5sum prints it; empty when the backend has none. */
  md5: string;
  /** CRC32C (Castagnoli), 8 hex digits; empty when unknown. */
  crc32c: string;
  contentType: string;
  metadata: Record<string, string>;
  /** ISO 8601, or null when the backend reports none. */
  updateTime: string | null;
  generation: string;
}

export function objectJson(info: ObjectInfo): ObjectJson {
  return {
    reference: info.reference,
    size: info.size,
    etag: info.etag,
    md5: info.contentMd5 === undefined ? "" : Buffer.from(info.contentMd5).toString("hex"),
    crc32c: info.crc32c === undefined ? "" : info.crc32c.toString(16).padStart(8, "0"),
    contentType: info.contentType,
    metadata: { ...info.metadata },
    updateTime: info.updateTime?.toISOString() ?? null,
    generation: info.generation,
  };
}

/** `stat`'s text: one `name  value` line per field. */
export function objectText(info: ObjectInfo): string {
  const o = objectJson(info);
  const rows: [string, string][] = [
    ["reference", o.reference],
    ["size", `${o.size} (${formatBytes(o.size)})`],
    ["etag", o.etag],
    ["md5", o.md5],
    ["crc32c", o.crc32c],
    ["content-type", o.contentType],
    ["updated", o.updateTime ?? ""],
    ["generation", o.generation],
    ...Object.entries(o.metadata).map(([k, v]): [string, string] => [`metadata ${k}`, v]),
  ];
  return table(rows.filter(([, v]) => v !== ""));
}

/** Rows of cells, each column padded to its widest cell (the last column is not padded). */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}

const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 → "1.5 KiB"; bytes below 1 KiB are shown exactly. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A time to the second, as ls shows it: 2026-12-01T05:59:56Z. */
export function shortTime(iso: string | null): string {
  return iso === null ? "-" : iso.replace(/\.\d+Z$/, "Z");
}
