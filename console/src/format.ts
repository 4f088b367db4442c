// How the console writes sizes, rates, times and checksums.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 → "1.5 KiB"; exact bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

/** A rate with up to two decimals: 0, 0.5, 12.25, 1234. */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value >= 100 ? value.toFixed(0) : value.toFixed(2).replace(/\.?0+$/, "");
}

/** A time as the reader's locale writes it, to the second; "—" when unknown. */
export function formatTime(time: Date | undefined): string {
  return time === undefined ? "—" : time.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** CRC32C as 8 hex digits, "—" when unknown. */
export function formatCrc32c(crc32c: number | undefined): string {
  return crc32c === undefined ? "—" : crc32c.toString(16).padStart(8, "0");
}
