// The gRPC port: a grpc-js server (the fastest Node gRPC server measured
// here, see design §1) with our services, reflection and grpc.health.v1.
import type { DescFile, DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { grpcRequestGate } from "./grpc-request-gate.js";
import { createGrpcService } from "./grpc-service.js";
import { createReflectionService } from "./reflection.js";
import type { RequestGate } from "./request-gate.js";

export interface ServedService<S extends DescService = DescService> {
  service: S;
  impl: ServiceImpl<S>;
}

export interface GrpcListenerOptions {
  /** host:port; port 0 picks a free port. */
  address: string;
  services: ServedService[];
  /** Files whose descriptors reflection serves. */
  files: DescFile[];
  maxMessageBytes: number;
  /** TLS (server/security/reloadable-tls.ts); default cleartext. */
  credentials?: grpc.ServerCredentials;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection (server.maxStreamsPerConnection); default: grpc-js's. */
  maxStreamsPerConnection?: number;
  /** What is decided from a call's headers before its body is read (request-gate.ts). */
  gate: RequestGate;
  /**
   * server.idleConnectionTimeout: a connection with no call in progress (also
   * one that never sent a complete call) is closed after this; 0 = never.
   */
  idleConnectionTimeoutMs: number;
}

export interface GrpcListener {
  /** The bound port. */
  port: number;
  /** Marks every service NOT_SERVING (first step of a graceful stop). */
  setNotServing(): void;
  /** Stops accepting calls, waits up to `graceMs` for running ones, then cancels them. */
  close(graceMs: number): Promise<void>;
}

export async function startGrpcListener(options: GrpcListenerOptions): Promise<GrpcListener> {
  const shutdown = new AbortController();
  // Fired after the grace period: each served service passes it on to its calls still running (grpc-call-context.ts).
  const server = new grpc.Server({
    // channelz stays on although stowd serves no channelz service: grpc-js 1.14's forceShutdown
    // destroys only the sessions channelz tracks, so with it off a stop would wait for every client.
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_send_message_length": options.maxMessageBytes,
    ...(options.maxStreamsPerConnection === undefined ? {} : { "grpc.max_concurrent_streams": options.maxStreamsPerConnection }),
    ...(options.idleConnectionTimeoutMs > 0 ? { "grpc.max_connection_idle_ms": options.idleConnectionTimeoutMs } : {}),
    interceptors: [
      grpcRequestGate(
        options.gate,
        new Map(options.services.flatMap(({ service }) => service.methods.map((m) => [`/${service.typeName}/${m.name}`, m] as const))),
      ),
    ],
  });
  const names = options.services.map((s) => s.service.typeName);
  const health = new HealthImplementation(Object.fromEntries(["", ...names].map((n) => [n, "SERVING" as const])));
  for (const { service, impl } of options.services) {
    const { definition, implementation } = createGrpcService(service, impl, shutdown.signal);
    server.addService(definition, implementation);
  }
  health.addToServer(server);
  createReflectionService(options.files).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });

  return {
    port,
    setNotServing() {
      for (const n of ["", ...names]) health.setStatus(n, "NOT_SERVING");
    },
    async close(graceMs) {
      const timer = setTimeout(() => {
        shutdown.abort();
        server.forceShutdown();
      }, graceMs);
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      clearTimeout(timer);
    },
  };
}
