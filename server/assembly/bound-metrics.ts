// Gauges for the resource bounds, read when /metrics is scraped: calls in
// progress against server.maxConcurrentCalls, and the in-flight byte budget
// (bytes taken, streams waiting for it).
import { Gauge, type Registry } from "prom-client";
import type { CallLimits } from "../calls/call-limits.js";

export function registerBoundMetrics(registry: Registry, limits: CallLimits): void {
  const registers = [registry];
  new Gauge({
    name: "stowd_calls_in_progress",
    help: "Calls admitted and not yet finished, both listeners (bounded by server.maxConcurrentCalls).",
    registers,
    collect() {
      this.set(limits.active);
    },
  });
  new Gauge({
    name: "stowd_in_flight_bytes",
    help: "Data bytes held between stores and transports (bounded by server.maxInFlightMBs plus 64 KiB per open stream).",
    registers,
    collect() {
      this.set(limits.budget.usedBytes);
    },
  });
  new Gauge({
    name: "stowd_in_flight_waiting_streams",
    help: "Writes and large requests waiting for the in-flight byte budget (reads never wait; they send smaller messages).",
    registers,
    collect() {
      this.set(limits.budget.waiting);
    },
  });
}
