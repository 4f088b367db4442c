// The per-RPC metrics (server/observability/metrics.ts): calls in flight,
// and each call's count and latency by status code. Every call is measured
// once, by the call pipeline; the label sets are made once per method.
import type { Metrics } from "../observability/metrics.js";

export interface RpcMeter {
  /** A call started. */
  begin(): void;
  /** The call ended with `code` (codeLabel) after `seconds`. */
  end(code: string, seconds: number): void;
}

/** The meter of one method; `method` is its label, e.g. "stowd.v1.RawStoreService/Head". */
export function createRpcMeter(metrics: Metrics, method: string): RpcMeter {
  const inFlight = metrics.rpcInFlight.labels({ method });
  const byCode = new Map<string, { method: string; code: string }>();
  return {
    begin() {
      inFlight.inc();
    },
    end(code, seconds) {
      let labels = byCode.get(code);
      if (labels === undefined) byCode.set(code, (labels = { method, code }));
      metrics.rpcDuration.observe(labels, seconds);
      metrics.rpcRequests.inc(labels);
      inFlight.dec();
    },
  };
}
