// The per-RPC metrics (server/observability/metrics.ts), under
// go-grpc-prometheus's names so stock gRPC dashboards chart them:
// grpc_server_started_total, grpc_server_handled_total (by grpc_code) and
// grpc_server_handling_seconds, labelled by grpc_type, grpc_service,
// grpc_method and the protocol the call came in by; plus the calls in
// flight. Every call is measured once, by the call pipeline. The counts are
// plain numbers in the method's series (observability/metrics.ts RpcSeries),
// copied into the counters when /metrics is read; a call's one label lookup
// is the latency histogram's, with label sets made once per method and
// protocol.
//
// go-grpc-prometheus's grpc_server_msg_received_total / _sent_total are not
// served: the pipeline does not count stream messages, and counting them
// would cost a metric operation per message.
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { Metrics, RpcSeries } from "../observability/metrics.js";

export interface RpcMeter {
  /** A call started, over `protocol` (the handler context's protocolName: grpc, grpc-web, connect). */
  begin(protocol: string): void;
  /** The call ended after `seconds`, with `error` (undefined: OK). */
  end(protocol: string, error: ConnectError | undefined, seconds: number): void;
}

const GRPC_TYPES: Record<DescMethod["methodKind"], string> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/** The grpc_code label: Go's names for the codes (codes.Code.String()), which connect's enum names match: OK, NotFound, ... */
export function grpcCodeName(error: ConnectError | undefined): string {
  return error === undefined ? "OK" : (Code[error.code] ?? "Unknown");
}

/** The meter of one method of the service it belongs to. */
export function createRpcMeter(metrics: Metrics, method: DescMethod): RpcMeter {
  const grpc_service = method.parent.typeName;
  const grpc_method = method.name;
  const grpc_type = GRPC_TYPES[method.methodKind];
  const byProtocol = new Map<string, RpcSeries>();
  const seriesOf = (protocol: string): RpcSeries => {
    let series = byProtocol.get(protocol);
    if (series === undefined) {
      series = { labels: { grpc_type, grpc_service, grpc_method, protocol }, started: 0, handled: new Map() };
      byProtocol.set(protocol, series);
      metrics.rpcSeries.push(series);
    }
    return series;
  };
  return {
    begin(protocol) {
      seriesOf(protocol).started++;
    },
    end(protocol, error, seconds) {
      const series = seriesOf(protocol);
      const grpc_code = grpcCodeName(error);
      const handled = series.handled.get(grpc_code);
      if (handled === undefined) series.handled.set(grpc_code, { labels: { ...series.labels, grpc_code }, count: 1 });
      else handled.count++;
      metrics.grpcHandlingSeconds.observe(series.labels, seconds);
    },
  };
}
