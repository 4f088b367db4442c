// The default transport's flow-control windows, observed from the peer: a
// bare node:http2 server (not a stowd daemon) reads the client's SETTINGS and
// connection window and answers every call with UNIMPLEMENTED.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { Code, createStowdClient, DEFAULT_WINDOW_BYTES, StowdClientError } from "../../client/index.js";

let cleanup: (() => Promise<void>) | undefined;

afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function startPeer(): Promise<{ baseUrl: string; sessions: http2.ServerHttp2Session[] }> {
  const server = http2.createServer();
  const sessions: http2.ServerHttp2Session[] = [];
  server.on("session", (session) => sessions.push(session));
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup = async () => {
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sessions };
}

it("raises the per-stream and the connection receive window", async () => {
  const { baseUrl, sessions } = await startPeer();
  const client = createStowdClient({ baseUrl });
  try {
    const error: unknown = await client.head("mem://b/k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StowdClientError);
    expect((error as StowdClientError).code).toBe(Code.Unimplemented);
    const session = sessions[0];
    expect(session?.remoteSettings.initialWindowSize).toBe(DEFAULT_WINDOW_BYTES);
    // The WINDOW_UPDATE follows the first request, so it may arrive after the answer.
    await expect.poll(() => session?.state.remoteWindowSize).toBe(DEFAULT_WINDOW_BYTES);
  } finally {
    client.close();
  }
});
