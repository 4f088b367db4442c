// A daemon built as main.ts builds one (test/signed-urls/signed-url-daemon.ts)
// with every metric-bearing part switched on (auth, the cache, the download
// limit, daemon-signed URLs), and calls that give every metric family a
// series: writes and reads (the second one a cache hit), a read the download
// limit refuses, a missing object, signed GETs (one refused), over gRPC and
// Connect. The observability tests scrape it.
import { createStowdClient, createStowdTransport } from "../../client/index.js";
import { httpRequest } from "../signed-urls/plain-http.js";
import { startSignedUrlDaemon, type SignedUrlDaemon } from "../signed-urls/signed-url-daemon.js";
import { writeTokenFile, type TokenSpec } from "../security/secure-daemon.js";

export const WRITER: TokenSpec = {
  name: "metrics-writer",
  token: "metrics-writer-token-0123456789",
  grants: [{ operations: ["read", "write", "sign", "delete"], prefixes: ["*"] }],
};

export interface ExercisedDaemon {
  d: SignedUrlDaemon;
  /** GET /metrics with this Accept header (none: no header). */
  scrape(accept?: string): Promise<{ contentType: string; text: string }>;
  close(): Promise<void>;
}

export async function startExercisedDaemon(): Promise<ExercisedDaemon> {
  const d = await startSignedUrlDaemon({ auth: { tokenFile: writeTokenFile([WRITER]) }, cacheMbs: 64, maxDownloadMBs: 1 });
  const transport = createStowdTransport({ baseUrl: d.httpUrl, protocol: "connect", token: WRITER.token });
  try {
    await exercise(d, createStowdClient({ transport }));
  } catch (err) {
    transport.close();
    await d.close();
    throw err;
  }
  return {
    d,
    async scrape(accept) {
      const res = await httpRequest(`${d.httpUrl}/metrics`, accept === undefined ? {} : { headers: { accept } });
      return { contentType: String(res.headers["content-type"]), text: res.body.toString() };
    },
    async close() {
      transport.close();
      await d.close();
    },
  };
}

async function exercise(d: SignedUrlDaemon, overConnect: ReturnType<typeof createStowdClient>): Promise<void> {
  const grpc = d.client(WRITER.token);
  await grpc.write("mem://b/small", "small object");
  await grpc.readBytes("mem://b/small"); // a miss: fills the cache
  await grpc.readBytes("mem://b/small"); // a hit
  await grpc.write("mem://b/large", new Uint8Array(2 << 20));
  await grpc.readBytes("mem://b/large").catch(() => undefined); // over maxDownloadMBs: refused
  await overConnect.head("mem://b/missing");
  const { url } = await grpc.createSignedUrl("mem://b/small", { method: "GET", expiresInSeconds: 60 });
  await httpRequest(url);
  await httpRequest(url.replace("X-Stowd-Signer=", "X-Stowd-Signer=x")); // a bad signature
}
