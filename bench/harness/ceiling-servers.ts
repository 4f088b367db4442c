// Starts the two ceiling servers as child processes, each holding a payload of
// the largest size so a read never waits for bytes to be made.
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
