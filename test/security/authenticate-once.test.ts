// With auth on, each call is authenticated once: the request gate does it
// from the headers (server/transports/request-gate.ts) and hands its verdict
// to the call, whose authorization stage uses it (server/security/authorize.ts)
// — on the gRPC port (grpc-js) and the HTTP port (Connect) alike, for unary
// calls and client streams.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, expect, it, vi } from "vitest";
import { createStowdTransport, type StowdTransport } from "../../client/transport.js";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { authenticate } from "../../server/security/authenticate.js";
import { startSecureDaemon, writeTokenFile, type SecureDaemon } from "./secure-daemon.js";

vi.mock("../../server/security/authenticate.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../server/security/authenticate.js")>();
  return { ...original, authenticate: vi.fn(original.authenticate) };
});

const TOKEN = "writer-token-0123456789abcdef";
let daemon: SecureDaemon;
const transports: StowdTransport[] = [];

beforeAll(async () => {
  const tokenFile = writeTokenFile([{ name: "writer", token: TOKEN, grants: [{ operations: ["read", "write"], prefixes: ["mem://b/"] }] }]);
  daemon = await startSecureDaemon({ auth: { tokenFile } });
});
afterAll(async () => {
  for (const t of transports) t.close();
  await daemon?.close();
});
beforeEach(() => {
  vi.mocked(authenticate).mockClear();
});

/** Calls of authenticate() since the test began. */
function authentications(): number {
  return vi.mocked(authenticate).mock.calls.length;
}

function clientOf(protocol: "grpc" | "connect", token: string | undefined) {
  const transport = createStowdTransport({
    baseUrl: protocol === "grpc" ? daemon.grpcUrl : daemon.httpUrl,
    protocol,
    ...(token === undefined ? {} : { token }),
  });
  transports.push(transport);
  return createClient(RawStoreService, transport);
}

async function* upload(
  reference: string,
): AsyncGenerator<{ body: { case: "header"; value: { reference: string } } | { case: "chunk"; value: Uint8Array } }> {
  yield { body: { case: "header", value: { reference } } };
  yield { body: { case: "chunk", value: new Uint8Array([1, 2, 3]) } };
}

for (const protocol of ["grpc", "connect"] as const) {
  it(`${protocol}: a unary call and an upload are each authenticated once`, async () => {
    const client = clientOf(protocol, TOKEN);
    await client.writeRaw(upload(`mem://b/${protocol}-once`));
    expect(authentications()).toBe(1);
    const head = await client.head({ reference: `mem://b/${protocol}-once` });
    expect(head.exists).toBe(true);
    expect(authentications()).toBe(2);
  });

  it(`${protocol}: a refused call is authenticated once and still answers UNAUTHENTICATED`, async () => {
    const client = clientOf(protocol, undefined);
    const err = await client.head({ reference: "mem://b/x" }).then(
      () => expect.fail("expected UNAUTHENTICATED"),
      (e: unknown) => ConnectError.from(e),
    );
    expect(err.code).toBe(Code.Unauthenticated);
    expect(authentications()).toBe(1);
  });
}
