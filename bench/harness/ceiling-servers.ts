// Starts the ceiling servers as child processes: the bare grpc-js and
// node:http2 servers each hold a payload of the largest size so a read never
// waits for bytes to be made; the bare node:http file server serves files.
import { portLine, spawnNode, type Child } from "./children.js";

export interface CeilingServer {
  child: Child;
  port: number;
}

export async function startBareGrpcServer(payloadBytes: number): Promise<CeilingServer> {
  const child = spawnNode("bare grpc-js server", "bench/ceilings/bare-grpc-server.ts", [String(payloadBytes)]);
  return { child, port: await portLine(child) };
}

export async function startBareHttp2Server(payloadBytes: number): Promise<CeilingServer> {
  const child = spawnNode("bare node:http2 server", "bench/ceilings/bare-http2-server.ts", [String(payloadBytes)]);
  return { child, port: await portLine(child) };
}

/** The ceiling of daemon-signed URLs: GET and PUT of files under `dir` (created by the caller). */
export async function startBareHttpFileServer(dir: string): Promise<CeilingServer> {
  const child = spawnNode("bare node:http file server", "bench/ceilings/bare-http-file-server.ts", [dir]);
  return { child, port: await portLine(child) };
}
