// SDK clients for both listeners of a test daemon: the gRPC port (grpc-js
// server) and the HTTP port (connect-node, Connect protocol over HTTP/2 so
// client streams work), so every bound is checked on both.
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import type { TestDaemon } from "../helpers/daemon.js";

export const MiB = 1024 * 1024;

export interface Listener {
  name: "grpc port" | "http port";
  client: StowdClient;
  close(): void;
}

export function listenersOf(daemon: TestDaemon): Listener[] {
  const sessions = new Http2SessionManager(daemon.httpUrl);
  const http = createStowdClient({
    transport: createConnectTransport({ baseUrl: daemon.httpUrl, httpVersion: "2", acceptCompression: [], sessionManager: sessions }),
  });
  const grpc = createStowdClient({ baseUrl: daemon.grpcUrl });
  return [
    { name: "grpc port", client: grpc, close: () => grpc.close() },
    {
      name: "http port",
      client: http,
      close: () => {
        http.close();
        sessions.abort();
      },
    },
  ];
}

export { clientRejection as rejection } from "../helpers/rejections.js";

/** A body that sends `first`, then waits for `release` before sending `rest` (or never, when release never resolves). */
export async function* stalledBody(first: Uint8Array, release: Promise<Uint8Array | undefined>): AsyncGenerator<Uint8Array> {
  yield first;
  const rest = await release;
  if (rest !== undefined) yield rest;
}
