// The two listeners over the same services: the gRPC port (grpc-js, with
// reflection and grpc.health.v1) and the HTTP port (Connect, gRPC-Web and the
// plain routes), both behind one request gate that decides from a request's
// headers, before its body is read, whether to serve it.
import { createRegistry } from "@bufbuild/protobuf";
import {
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { file_stowd_v1_error } from "../../gen/stowd/v1/error_pb.js";
import { file_stowd_v1_protobuf_store } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { file_stowd_v1_raw_store } from "../../gen/stowd/v1/raw_store_pb.js";
import type { CallBounds } from "../calls/call-limits.js";
import type { StreamBudget } from "../calls/stream-budget.js";
import type { Security } from "../security/security.js";
import { startGrpcListener, type GrpcListener, type ServedService } from "../transports/grpc-listener.js";
import { startHttpListener, type HttpListener, type PlainRoute } from "../transports/http-listener.js";
import type { RequestGate } from "../transports/request-gate.js";
import type { CorsPolicy } from "../transports/cors.js";
import type { HostGuard } from "../transports/host-guard.js";

export interface ListenersOptions {
  grpcAddress: string;
  httpAddress: string;
  services: ServedService[];
  plainRoutes: Record<string, PlainRoute>;
  security: Security;
  bounds: CallBounds;
  /** The in-flight byte budget single-message requests are charged to. */
  budget: StreamBudget;
  maxMessageBytes: number;
  /** server.cors on the HTTP port; default off. */
  cors?: CorsPolicy | undefined;
  /** The HTTP port's Host check (transports/host-guard.ts); default none. */
  hostGuard?: HostGuard | undefined;
}

export interface Listeners {
  grpc: GrpcListener;
  http: HttpListener;
}

export async function startListeners(options: ListenersOptions): Promise<Listeners> {
  const { security, bounds, services, maxMessageBytes } = options;
  const gate: RequestGate = {
    authenticate: (authorization, peer) => security.authenticateHeaders(authorization, peer),
    budget: options.budget,
    maxMessageBytes,
  };
  const grpc = await startGrpcListener({
    gate,
    idleConnectionTimeoutMs: bounds.idleConnectionTimeoutMs,
    address: options.grpcAddress,
    services,
    files: [file_stowd_v1_raw_store, file_stowd_v1_protobuf_store, file_stowd_v1_error],
    maxMessageBytes,
    ...(security.tls === undefined ? {} : { credentials: security.tls.grpcCredentials() }),
    maxStreamsPerConnection: bounds.maxStreamsPerConnection,
  });
  const http = await startHttpListener({
    gate,
    timeouts: bounds,
    address: options.httpAddress,
    services,
    maxMessageBytes,
    ...(security.tls === undefined ? {} : { tls: security.tls }),
    maxStreamsPerConnection: bounds.maxStreamsPerConnection,
    // Message types Connect JSON may name in google.protobuf.Any and error details.
    jsonRegistry: createRegistry(
      file_stowd_v1_error,
      file_google_protobuf_wrappers,
      file_google_protobuf_struct,
      file_google_protobuf_timestamp,
      file_google_protobuf_duration,
      file_google_protobuf_empty,
    ),
    plainRoutes: options.plainRoutes,
    ...(options.cors === undefined ? {} : { cors: options.cors }),
    ...(options.hostGuard === undefined ? {} : { hostGuard: options.hostGuard }),
  });
  return { grpc, http };
}
