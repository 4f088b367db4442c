// Rates from successive totals: each new reading of /metrics adds one point
// per series (per second since the previous reading). A total that went
// down means the daemon restarted: that interval has no rate.
import type { Totals } from "./metrics-text.js";

export interface Reading {
  /** Milliseconds (performance.now() or Date.now()). */
  at: number;
  totals: Totals;
}

export interface RateSeries {
  callsPerSecond: number[];
  bytesPerSecond: number[];
  errorsPerSecond: number[];
}

export const EMPTY_SERIES: RateSeries = { callsPerSecond: [], bytesPerSecond: [], errorsPerSecond: [] };

/** The series with the rates between `previous` and `current` appended, keeping the last `keep` points. */
export function addRates(series: RateSeries, previous: Reading, current: Reading, keep: number): RateSeries {
  const seconds = (current.at - previous.at) / 1000;
  const rate = (key: keyof Totals) => {
    const delta = current.totals[key] - previous.totals[key];
    return seconds > 0 && delta >= 0 ? delta / seconds : 0;
  };
  const push = (points: number[], value: number) => [...points, value].slice(-keep);
  return {
    callsPerSecond: push(series.callsPerSecond, rate("calls")),
    bytesPerSecond: push(series.bytesPerSecond, rate("bytes")),
    errorsPerSecond: push(series.errorsPerSecond, rate("errors")),
  };
}
